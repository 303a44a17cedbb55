"""Helpers shared by the subcommands: paths, atomic output, progress, formatting.

Everything a subcommand reports to the user goes through here, so that all of them
name files, sizes and times the same way and fail with the same one-line messages.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import stat
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Final, Protocol

from s2lic.codec.fileio import atomic_output
from s2lic.entropy.bitstream import DEFAULT_MAX_PIXELS
from s2lic.entropy.errors import LimitError, S2LICError

__all__ = [
    "MAX_INPUT_BYTES",
    "PROG",
    "STDIO",
    "CLIError",
    "OutputExistsError",
    "Progress",
    "add_device_argument",
    "atomic_write",
    "bpp_arg",
    "check_device",
    "check_output",
    "check_stdin_alone",
    "device_arg",
    "error_line",
    "file_message",
    "format_bytes",
    "format_error",
    "format_seconds",
    "for_each_file",
    "is_stdio",
    "non_negative_int",
    "path_arg",
    "positive_int",
    "progress",
    "quality_arg",
    "read_input",
    "read_stdin",
    "resolve_outputs",
    "result_stream",
    "shown",
    "silence_stdout",
    "write_output",
]

PROG: Final = "s2lic"
"""The program name that prefixes every diagnostic line."""

MAX_INPUT_BYTES: Final = 512 * 1024 * 1024
"""Largest input the CLI reads: checked before reading, bounds memory."""

STDIO: Final = Path("-")
"""``-`` as an input or as ``-o``: standard input or output.

`path_arg` returns this very object, and `is_stdio` tests identity, so that a file
named ``-`` stays reachable as ``./-`` (pathlib makes both ``Path("-")``).
"""


class CLIError(S2LICError):
    """A problem the CLI itself detects (paths, options, output files)."""


class OutputExistsError(CLIError):
    """The output file exists and ``--force`` was not given."""


# --------------------------------------------------------------------------------------
# Messages and formatting


def format_error(exc: BaseException) -> str:
    """One line describing ``exc`` for the user (no type names, no traceback).

    Args:
        exc: an `S2LICError`, `OSError`, `ValueError` or anything else.

    Returns:
        The message, with newlines folded so it always fits on one line.
    """
    if isinstance(exc, OSError) and exc.strerror:
        name = exc.filename if exc.filename is not None else None
        text = f"cannot access '{os.fsdecode(name)}': {exc.strerror}" if name else ""
        text = text or exc.strerror
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(text.split())


def error_line(message: str) -> str:
    """The stderr line for an error: ``s2lic: error: <message>``."""
    return f"{PROG}: error: {' '.join(message.split())}"


def path_arg(text: str) -> Path:
    """Argument type of input and output paths: ``-`` is `STDIO`."""
    return STDIO if text == "-" else Path(text)


def is_stdio(path: Path) -> bool:
    """Whether ``path`` is the ``-`` of standard input or output."""
    return path is STDIO


def shown(path: Path, output: bool = False) -> str:
    """How messages name a path: ``<stdin>`` / ``<stdout>`` for ``-``."""
    if is_stdio(path):
        return "<stdout>" if output else "<stdin>"
    return os.fsdecode(path)


def file_message(path: str | os.PathLike[str], exc: BaseException) -> str:
    """`format_error` of ``exc``, prefixed by the file it concerns unless it names it.

    Args:
        path: the input the error happened on.
        exc: the error.

    Returns:
        One line such as ``'a.s2lic': file is corrupted: CRC32 mismatch``.
    """
    text = format_error(exc)
    name = shown(path) if isinstance(path, Path) else os.fsdecode(path)
    return text if f"'{name}'" in text else f"'{name}': {text}"


def format_bytes(n: int) -> str:
    """``12,345 bytes`` (``1 byte`` for one)."""
    return f"{n:,} byte" if n == 1 else f"{n:,} bytes"


def format_seconds(seconds: float) -> str:
    """Wall time with two decimals: ``1.23 s``."""
    return f"{seconds:.2f} s"


# --------------------------------------------------------------------------------------
# Argument types (argparse turns their ArgumentTypeError into a usage error)


def _float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def quality_arg(text: str) -> float:
    """argparse type of ``--quality``: a number in [0, 1]."""
    value = _float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {text}")
    return value


def bpp_arg(text: str) -> float:
    """argparse type of ``--bpp``: a positive number of bits per pixel."""
    value = _float(text)
    if value <= 0.0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def _int_at_least(text: str, minimum: int) -> int:
    try:
        value = int(text.replace("_", "").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {text}")
    return value


def positive_int(text: str) -> int:
    """argparse type of counts such as ``--max-pixels`` (``_`` separators allowed)."""
    return _int_at_least(text, 1)


def non_negative_int(text: str) -> int:
    """argparse type of limits where 0 means "none", such as ``--max-effort``."""
    return _int_at_least(text, 0)


def device_arg(text: str) -> str:
    """argparse type of ``--device``: ``cpu``, ``cuda`` or ``cuda:N``."""
    kind, _, index = text.partition(":")
    if kind == "cpu" and not index:
        return text
    if kind == "cuda" and (not index or index.isdigit()):
        return text
    raise argparse.ArgumentTypeError(f"must be cpu, cuda or cuda:N, got {text!r}")


def check_device(device: str) -> None:
    """Fail early and clearly when a CUDA device is asked for but absent.

    Torch would otherwise raise deep inside model loading, with an ``AssertionError``
    on builds without CUDA.

    Raises:
        CLIError: the device does not exist on this machine.
    """
    if not device.startswith("cuda"):
        return
    import torch

    if not torch.cuda.is_available():
        raise CLIError(f"device {device!r} asked for, but CUDA is not available here")
    _, _, index = device.partition(":")
    if index and int(index) >= torch.cuda.device_count():
        raise CLIError(
            f"device {device!r} asked for, but there are only "
            f"{torch.cuda.device_count()} CUDA devices"
        )


# --------------------------------------------------------------------------------------
# Inputs


def read_input(
    path: Path, limit: int = MAX_INPUT_BYTES, example: str = "photo.s2lic"
) -> bytes:
    """Read a whole input file, refusing files above ``limit`` before reading them.

    The size is checked on the open file (and the read is bounded), so a file that
    grows after the check still cannot make us hold more than ``limit`` bytes.
    `STDIO` reads standard input (`read_stdin`).

    Args:
        path: the file, or `STDIO`.
        limit: the largest accepted size in bytes.
        example: a file `read_stdin`'s hint suggests piping in.

    Returns:
        The contents.

    Raises:
        CLIError: the file is missing, a directory, not a regular file or unreadable.
        LimitError: the file is larger than ``limit``.
    """
    if is_stdio(path):
        return read_stdin(limit, example=example)
    name = os.fsdecode(path)
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below, after fstat and read
    except FileNotFoundError:
        raise CLIError(f"cannot read '{name}': no such file") from None
    except IsADirectoryError:
        raise CLIError(f"cannot read '{name}': it is a directory") from None
    except OSError as e:
        raise CLIError(f"cannot read '{name}': {e.strerror or e}") from None
    with f:
        try:
            st = os.fstat(f.fileno())
            if not _is_regular(st.st_mode):
                raise CLIError(f"cannot read '{name}': it is not a regular file")
            if st.st_size > limit:
                raise LimitError(
                    f"'{name}' is {format_bytes(st.st_size)}, above the limit of "
                    f"{format_bytes(limit)}"
                )
            data = f.read(limit + 1)
        except OSError as e:
            raise CLIError(f"cannot read '{name}': {e.strerror or e}") from None
    if len(data) > limit:
        raise LimitError(f"'{name}' is larger than the limit of {format_bytes(limit)}")
    return data


def read_stdin(limit: int = MAX_INPUT_BYTES, *, example: str) -> bytes:
    """All of standard input, at most ``limit`` bytes.

    ``example`` names the kind of file the command reads, for the hint given when
    standard input is a terminal (encode: ``photo.png``, decode: ``photo.s2lic``).

    Raises:
        CLIError: standard input is missing or a terminal, or cannot be read.
        LimitError: it holds more than ``limit`` bytes.
    """
    stream = sys.stdin
    if stream is None or _isatty(stream):
        raise CLIError(
            f"standard input is a terminal: pipe a file into '-' (e.g. '< {example}')"
        )
    try:
        data = stream.buffer.read(limit + 1)
    except OSError as e:
        raise CLIError(f"cannot read standard input: {e.strerror or e}") from None
    if len(data) > limit:
        raise LimitError(
            f"standard input holds more than the limit of {format_bytes(limit)}"
        )
    return data


def _is_regular(mode: int) -> bool:
    return stat.S_ISREG(mode)


# --------------------------------------------------------------------------------------
# Outputs


def resolve_outputs(
    inputs: Sequence[Path], output: Path | None, suffix: str
) -> list[Path]:
    """The output path of every input.

    Without ``output`` each result goes next to its input with ``suffix``. With one
    input, ``output`` is the file to write, or a directory to write into if it is an
    existing directory (or ends with a path separator). With several inputs it must
    be an existing directory. `STDIO` (``-``) as the only input needs an ``output``;
    as ``output`` it takes one input and must not be a terminal.

    Args:
        inputs: the input paths, as the user gave them.
        output: the ``-o`` argument, if any.
        suffix: the default suffix of outputs, e.g. ``.s2lic``.

    Returns:
        One output path per input, in order.

    Raises:
        CLIError: ``output`` is not a directory although it must be, two inputs
            would be written to the same output, or ``-`` is misused.
    """
    _check_stdio(inputs, output, suffix)
    if output is not None and is_stdio(output):
        return [output]
    as_dir = output is not None and (
        output.is_dir() or os.fsdecode(output).endswith(("/", os.sep))
    )
    if output is not None and len(inputs) > 1 and not output.is_dir():
        raise CLIError(
            f"-o '{os.fsdecode(output)}' must be an existing directory when "
            f"several inputs are given"
        )
    if output is not None and as_dir and not output.is_dir():
        raise CLIError(f"output directory '{os.fsdecode(output)}' does not exist")
    outs: list[Path] = []
    for inp in inputs:
        if output is None:
            outs.append(inp.with_suffix(suffix) if inp.name else inp)
        elif as_dir:
            outs.append(output / Path(inp.name).with_suffix(suffix))
        else:
            outs.append(output)
    seen: dict[str, Path] = {}
    for inp, out in zip(inputs, outs, strict=True):
        if is_stdio(inp):
            continue  # the only input (checked above)
        key = os.path.realpath(out)
        if key in seen:
            raise CLIError(
                f"'{os.fsdecode(seen[key])}' and '{os.fsdecode(inp)}' would both be "
                f"written to '{os.fsdecode(out)}'"
            )
        seen[key] = inp
    return outs


def check_stdin_alone(inputs: Sequence[Path]) -> None:
    """Standard input is read once, so ``-`` must be the only input.

    Raises:
        CLIError: ``-`` is given beside other inputs (or twice).
    """
    if len(inputs) > 1 and any(is_stdio(p) for p in inputs):
        raise CLIError("'-' (standard input) must be the only input")


def _check_stdio(inputs: Sequence[Path], output: Path | None, suffix: str) -> None:
    check_stdin_alone(inputs)
    if any(is_stdio(p) for p in inputs):
        if output is None or (not is_stdio(output) and output.is_dir()):
            raise CLIError(
                "standard input has no file name: give -o FILE (or -o - for "
                "standard output)"
            )
    if output is not None and is_stdio(output):
        if len(inputs) > 1:
            raise CLIError("-o - (standard output) takes one input")
        if sys.stdout is None or _isatty(sys.stdout):
            raise CLIError(
                f"standard output is a terminal: redirect it (e.g. '> out{suffix}') "
                "or give -o FILE"
            )


def write_output(path: Path, data: bytes, *, force: bool = False) -> None:
    """`atomic_write` to a file, or all of ``data`` at once to standard output."""
    if not is_stdio(path):
        atomic_write(path, data, force=force)
        return
    try:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    except OSError as e:
        if isinstance(e, BrokenPipeError):
            silence_stdout()
            raise CLIError(
                "cannot write standard output: its reader has gone"
            ) from None
        raise CLIError(f"cannot write standard output: {e.strerror or e}") from None


def silence_stdout() -> None:
    """Point stdout at /dev/null, after EPIPE: else Python's final flush fails too."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def result_stream(out: Path) -> object:
    """Where a file's result line goes: stderr when stdout carries the data."""
    return sys.stderr if is_stdio(out) else sys.stdout


def check_output(inp: Path, out: Path, force: bool) -> None:
    """Refuse outputs that would overwrite the input, or an existing file without force.

    Called before the (slow) coding so that the user learns at once; `atomic_write`
    checks again when publishing, which closes the race.

    Raises:
        CLIError: ``out`` is ``inp``, or is a directory.
        OutputExistsError: ``out`` exists and ``force`` is false.
    """
    if is_stdio(out):
        return
    name = os.fsdecode(out)
    same = os.path.realpath(inp) == os.path.realpath(out) or _same_file(inp, out)
    if same and not is_stdio(inp):
        raise CLIError(f"output '{name}' is the input file; choose another with -o")
    if out.is_dir():
        raise CLIError(f"output '{name}' is a directory")
    if not force and os.path.lexists(out):
        raise OutputExistsError(
            f"output '{name}' already exists (use --force to overwrite it)"
        )


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def atomic_write(path: Path, data: bytes, *, force: bool = False) -> None:
    """Write ``data`` to ``path`` so that readers see either nothing or the whole file.

    See `s2lic.codec.fileio.atomic_output`: without ``force`` the file is published
    only if ``path`` does not exist, even if it appeared after `check_output`. On any
    failure, interruptions included, ``path`` is left as it was.

    Args:
        path: the output file.
        data: its complete contents.
        force: replace an existing file.

    Raises:
        OutputExistsError: ``path`` exists and ``force`` is false.
        CLIError: the file cannot be written (the message names it and the reason).
    """
    name = os.fsdecode(path)
    try:
        with atomic_output(path, replace=force) as tmp:
            tmp.write_bytes(data)
    except FileExistsError:
        raise OutputExistsError(
            f"output '{name}' already exists (use --force to overwrite it)"
        ) from None
    except OSError as e:
        raise CLIError(f"cannot write '{name}': {e.strerror or e}") from None


# --------------------------------------------------------------------------------------
# Progress


class Progress(Protocol):
    """What the subcommands need of a progress display."""

    def start(self, name: str) -> None:
        """Show that work on ``name`` begins."""
        ...

    def advance(self, n: int = 1) -> None:
        """Count n units of work as done."""
        ...


class _NoProgress:
    def start(self, name: str) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass


class _RichProgress:
    def __init__(self, bar: object, task: object) -> None:
        self._bar = bar
        self._task = task

    def start(self, name: str) -> None:
        self._bar.update(self._task, description=name)  # type: ignore[attr-defined]

    def advance(self, n: int = 1) -> None:
        self._bar.advance(self._task, n)  # type: ignore[attr-defined]


@contextlib.contextmanager
def progress(total: int, label: str) -> Iterator[Progress]:
    """A progress bar on stderr for ``total`` units of work, or a no-op.

    The bar is shown only for several units and only when stderr is a terminal, so
    pipes, logs and tests see plain per-file lines.

    Args:
        total: the units of work: files, or refinement steps of all files.
        label: the verb shown before the file name, e.g. ``encoding``.

    Yields:
        A `Progress`.
    """
    stderr = sys.stderr
    if total < 2 or not _isatty(stderr):
        yield _NoProgress()
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TextColumn,
        TimeElapsedColumn,
    )
    from rich.progress import Progress as RichProgress

    bar = RichProgress(
        TextColumn(f"{label} [bold]{{task.description}}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(file=stderr),
        # Results printed to a terminal stdout must pass above the bar; results sent
        # to a pipe must not be diverted to stderr.
        redirect_stdout=_isatty(sys.stdout),
        redirect_stderr=True,
        transient=True,
    )
    with bar:
        yield _RichProgress(bar, bar.add_task("", total=total))


FileWork = Callable[[Path, Path, Callable[..., None]], str]
"""``work(input, output, step)``: one file's job, returning its result line; it may
call ``step()`` once per unit of progress within the file (refinement steps)."""


def for_each_file(
    inputs: Sequence[Path],
    outputs: Sequence[Path],
    label: str,
    work: FileWork,
    units_per_file: int = 1,
) -> int:
    """Run ``work`` on every (input, output) under one progress bar.

    Each success prints its result line (on stderr when the data go to stdout); a
    failing file prints one error line and the others still run.

    Returns:
        The exit status: 0 if every file succeeded, else 1.
    """
    failed = 0
    with progress(len(inputs) * units_per_file, label) as bar:
        for inp, out in zip(inputs, outputs, strict=True):
            bar.start(shown(inp) if is_stdio(inp) else inp.name)
            done = 0

            def step(*_: object) -> None:
                nonlocal done
                done += 1
                bar.advance()

            try:
                line = work(inp, out, step)
            except (S2LICError, OSError) as e:
                failed += 1
                print(error_line(file_message(inp, e)), file=sys.stderr, flush=True)
            else:
                print(line, file=result_stream(out), flush=True)
            bar.advance(max(units_per_file - done, 0))
    if failed and len(inputs) > 1:
        print(
            error_line(f"{failed} of {len(inputs)} files failed"),
            file=sys.stderr,
            flush=True,
        )
    return 1 if failed else 0


def _isatty(stream: object) -> bool:
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError, OSError):
        return False


def add_device_argument(p: argparse.ArgumentParser, of: str = "") -> None:
    """Add ``--device`` (default cpu, checked by `device_arg`); `of`: what runs."""
    p.add_argument(
        "--device",
        default="cpu",
        type=device_arg,
        help=f"torch device{of}: cpu, cuda or cuda:N (default cpu)",
    )


def add_shared_arguments(p: argparse.ArgumentParser, output_help: str) -> None:
    """Options that ``encode`` and ``decode`` share: output, device, weights, limits.

    Args:
        p: the subcommand's parser.
        output_help: help text of ``-o``.
    """
    p.add_argument(
        "-o",
        "--output",
        type=path_arg,
        metavar="OUT",
        help=f"{output_help}; '-': standard output",
    )
    add_device_argument(p)
    p.add_argument(
        "--weights",
        type=Path,
        metavar="FILE",
        help="weights file (.safetensors) instead of the installed ones",
    )
    p.add_argument(
        "--max-pixels",
        type=positive_int,
        default=DEFAULT_MAX_PIXELS,
        metavar="N",
        help=f"refuse larger images (default {DEFAULT_MAX_PIXELS:,})",
    )
    p.add_argument(
        "-f", "--force", action="store_true", help="overwrite existing outputs"
    )
