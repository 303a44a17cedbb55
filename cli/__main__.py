"""The ``s2lic`` command: ``python -m s2lic.cli`` and the ``s2lic`` console script.

Exit codes: 0 success, 1 an error (one ``s2lic: error: ...`` line on stderr per
problem), 2 a command-line usage error (argparse), 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence

from s2lic.cli.commands import COMMANDS
from s2lic.cli.common import PROG, error_line, format_error, silence_stdout
from s2lic.codec.runtime import tune_allocator
from s2lic.entropy.errors import S2LICError

__all__ = ["build_parser", "main"]

log = logging.getLogger("s2lic.cli")

# Warnings of these categories come from our dependencies' own deprecations; users
# cannot act on them, so they are only shown with --verbose.
_DEVELOPER_WARNINGS = (DeprecationWarning, PendingDeprecationWarning, FutureWarning)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("s2lic")
    except PackageNotFoundError:
        return "unknown"


def _command_of(argv: Sequence[str]) -> str | None:
    """The subcommand named in `argv` (None: none, or help/version asked first)."""
    for arg in argv:
        if arg in ("-h", "--help", "--version"):
            return None
        if not arg.startswith("-"):
            return arg
    return None


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The argparse tree of the subcommands.

    Args:
        argv: the command line to parse; only the module of the subcommand it names is
            imported (the others are listed by their `COMMANDS` line). None: all.

    Returns:
        The top-level parser; ``parse_args`` sets ``args.run`` to the subcommand.
    """
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="s2lic: a learned image codec (images <-> .s2lic files).",
        epilog=f"Run '{PROG} COMMAND --help' for the options of a command.",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="show debug messages"
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    wanted = None if argv is None else _command_of(argv)
    for name, (module, text) in COMMANDS.items():
        if argv is None or name == wanted:
            # Imported here, not at module level, so that import-time warnings of
            # torch and friends pass through the handlers that `main` installs first.
            importlib.import_module(module).add_parser(sub)
        else:
            sub.add_parser(name, help=text)  # listed only: it does not run
    for subparser in sub.choices.values():
        # SUPPRESS keeps a subcommand's default from overwriting `s2lic -v CMD`.
        subparser.add_argument(
            "-v",
            "--verbose",
            action="store_true",
            default=argparse.SUPPRESS,
            help="show debug messages",
        )
    return parser


class _OneLineFormatter(logging.Formatter):
    """``s2lic: warning: message`` on one line (tracebacks only when verbose)."""

    def __init__(self, verbose: bool) -> None:
        super().__init__()
        self.verbose = verbose

    def format(self, record: logging.LogRecord) -> str:
        text = " ".join(record.getMessage().split())
        line = f"{PROG}: {record.levelname.lower()}: {text}"
        if self.verbose and record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to the current ``sys.stderr`` (tests and progress bars replace it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> object:
        return sys.stderr

    @stream.setter
    def stream(self, value: object) -> None:
        pass


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: object = None,
    line: str | None = None,
) -> None:
    level = (
        logging.DEBUG if issubclass(category, _DEVELOPER_WARNINGS) else logging.WARNING
    )
    logging.getLogger("s2lic.warnings").log(level, "%s", message)


class _InfoFrom(logging.Filter):
    """Passes warnings and worse, and the info lines of the named loggers."""

    def __init__(self, names: Sequence[str]) -> None:
        super().__init__()
        self.names = tuple(names)

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or any(
            record.name == n or record.name.startswith(n + ".") for n in self.names
        )


@contextlib.contextmanager
def _diagnostics() -> Iterator[Callable[[bool, Sequence[str]], None]]:
    """Route logging and Python warnings to one-line stderr messages, then restore.

    Yields:
        ``set_verbose(verbose, info_from)``: debug output on (``--verbose``), or else
        the info lines of the loggers a subcommand names (a training run's status).
    """
    root = logging.getLogger()
    ours = logging.getLogger("s2lic")
    saved = {ours: ours.level}
    handler = _StderrHandler()
    handler.setLevel(logging.WARNING)
    handler.setFormatter(_OneLineFormatter(verbose=False))
    root.addHandler(handler)

    def set_verbose(verbose: bool, info_from: Sequence[str] = ()) -> None:
        if verbose:
            handler.setLevel(logging.DEBUG)
            handler.setFormatter(_OneLineFormatter(verbose=True))
            ours.setLevel(logging.DEBUG)
        elif info_from:
            handler.setLevel(logging.INFO)
            handler.addFilter(_InfoFrom(info_from))
            for name in info_from:
                logger = logging.getLogger(name)
                saved.setdefault(logger, logger.level)
                logger.setLevel(logging.INFO)

    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            yield set_verbose
    finally:
        root.removeHandler(handler)
        for logger, level in saved.items():
            logger.setLevel(level)


def main(argv: list[str] | None = None) -> int:
    """Run the ``s2lic`` command line.

    Args:
        argv: the arguments after the program name; ``sys.argv[1:]`` if None.

    Returns:
        The exit status: 0 success, 1 error, 2 usage error, 130 interrupted.
    """
    tune_allocator()
    with _diagnostics() as set_verbose:
        try:
            argv = sys.argv[1:] if argv is None else argv
            parser = build_parser(argv)
            try:
                args = parser.parse_args(argv)
            except SystemExit as e:  # usage errors, --help and --version
                return (
                    e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
                )
            set_verbose(args.verbose, getattr(args, "info_from", ()))
            return int(args.run(args))
        except KeyboardInterrupt:
            print(f"{PROG}: interrupted", file=sys.stderr, flush=True)
            return 130
        except MemoryError:
            print(
                error_line("out of memory (try a smaller image, or --max-pixels)"),
                file=sys.stderr,
                flush=True,
            )
            return 1
        except BrokenPipeError:
            silence_stdout()
            return 1
        except (S2LICError, OSError, ValueError) as e:
            log.debug("details", exc_info=True)
            print(error_line(format_error(e)), file=sys.stderr, flush=True)
            return 1
        except Exception as e:  # the last resort: never a traceback
            log.debug("details", exc_info=True)
            print(
                error_line(
                    f"internal error: {type(e).__name__}: {format_error(e)} "
                    "(run with -v for details)"
                ),
                file=sys.stderr,
                flush=True,
            )
            return 1


if __name__ == "__main__":
    sys.exit(main())
