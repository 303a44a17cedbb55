"""``s2lic web``: the Gradio compare-and-compress demo in a browser."""

from __future__ import annotations

import argparse
import logging
import os

from s2lic.cli.commands import HELP
from s2lic.cli.common import (
    CLIError,
    add_device_argument,
    check_device,
    non_negative_int,
    positive_int,
)
from s2lic.codec.adapt.levels import MAX_EFFORT
from s2lic.codec.registry import DEFAULT_MODEL, list_models
from s2lic.web.comparison import DEFAULT_WEB_MAX_EFFORT, DEFAULT_WEB_MAX_PIXELS

__all__ = ["DEFAULT_PORT", "add_parser", "run"]

log = logging.getLogger(__name__)

DEFAULT_PORT = 7860


def _effort_limit(text: str) -> int:
    """argparse type of ``--max-effort``: an effort level, 0 to `MAX_EFFORT`."""
    value = non_negative_int(text)
    if value > MAX_EFFORT:
        raise argparse.ArgumentTypeError(
            f"must be at most {MAX_EFFORT} (the highest effort level), got {text}"
        )
    return value


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``web`` subcommand.

    Args:
        subparsers: the object returned by ``ArgumentParser.add_subparsers``.
    """
    p = subparsers.add_parser(
        "web",
        help=HELP["web"],
        description=(
            "Serve a web page that compresses an uploaded image with s2lic and "
            "compares it with JPEG, WebP, AVIF and JPEG XL at the same file size "
            "(slider, table, zoom, downloads), and decodes uploaded .s2lic files. "
            "Needs the 'web' extra: pip install 's2lic[web]'."
        ),
    )
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="interface to listen on (default 127.0.0.1; 0.0.0.0 for all)",
    )
    p.add_argument(
        "--port",
        type=positive_int,
        default=DEFAULT_PORT,
        help=f"TCP port (default {DEFAULT_PORT})",
    )
    add_device_argument(p)
    p.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        choices=list_models(),
        help=f"model (default {DEFAULT_MODEL}; see 's2lic models')",
    )
    p.add_argument(
        "--max-pixels",
        type=positive_int,
        default=DEFAULT_WEB_MAX_PIXELS,
        metavar="N",
        help=f"refuse larger uploads (default {DEFAULT_WEB_MAX_PIXELS:,})",
    )
    p.add_argument(
        "--max-effort",
        type=_effort_limit,
        default=DEFAULT_WEB_MAX_EFFORT,
        metavar="N",
        help=f"the highest encoder effort level (0 to {MAX_EFFORT}) a request may "
        f"ask for (default {DEFAULT_WEB_MAX_EFFORT}; 0 hides the control; each level "
        "is slower than the one below, up to minutes per image: docs/effort.md)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Build the app (loading the model) and serve it until interrupted.

    Args:
        args: the parsed command line.

    Returns:
        0 when the server was stopped.

    Raises:
        CLIError: Gradio is not installed, the port is invalid or the device absent.
        S2LICError: the model or its weights cannot be loaded.
        OSError: the port cannot be opened.
    """
    if args.port > 65535:
        raise CLIError(f"--port must be at most 65535, got {args.port}")
    check_device(args.device)
    # Before Gradio is imported: it reads these at import time. The demo runs
    # offline; nothing is reported anywhere.
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    try:
        from s2lic.web.app import DemoSettings, build_app, launch
    except ModuleNotFoundError as e:
        if e.name is None or not e.name.startswith("gradio"):
            raise
        raise CLIError(
            "the web demo needs Gradio, which is not installed: "
            "pip install 's2lic[web]'"
        ) from None
    settings = DemoSettings(
        model=args.model,
        device=args.device,
        max_pixels=args.max_pixels,
        max_effort=args.max_effort,
    )
    demo = build_app(settings)
    log.debug("serving on http://%s:%d", args.host, args.port)
    try:
        launch(demo, host=args.host, port=args.port)
    except OSError as e:
        # Gradio's message names its launch() parameters, not our options.
        if "empty port" not in str(e):
            raise
        raise CLIError(
            f"cannot listen on {args.host}:{args.port}: the port is in use or not "
            "available (choose another with --port)"
        ) from None
    finally:
        demo.close()
    return 0
