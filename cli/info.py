"""``s2lic info``: show what an `.s2lic` file holds, after verifying it."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from s2lic.cli.commands import HELP
from s2lic.cli.common import (
    check_stdin_alone,
    error_line,
    file_message,
    format_bytes,
    path_arg,
    read_input,
    shown,
)
from s2lic.codec.describe import describe as describe_bytes
from s2lic.entropy.errors import S2LICError

__all__ = ["add_parser", "describe", "run"]


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``info`` subcommand.

    Args:
        subparsers: the object returned by ``ArgumentParser.add_subparsers``.
    """
    p = subparsers.add_parser(
        "info",
        help=HELP["info"],
        description=(
            "Verify .s2lic files (structure and CRC32) and show their headers: model, "
            "weights, coder, image size and mode, quality, streams, size and bpp."
        ),
    )
    p.add_argument(
        "inputs",
        nargs="+",
        type=path_arg,
        metavar="FILE",
        help=".s2lic files ('-': standard input)",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print JSON (an object, or a list of objects for several files)",
    )
    p.set_defaults(run=run)


def describe(path: Path) -> dict[str, Any]:
    """Read, verify and describe one file (`describe_bytes` with its name first).

    Raises:
        S2LICError: the file cannot be read, is not an `.s2lic` file, is truncated
            or corrupted.
    """
    return {"file": shown(path), **describe_bytes(read_input(path))}


def _text(info: dict[str, Any]) -> str:
    streams = info["streams"]
    pixels = info["width"] * info["height"]
    rows = [
        ("model", f"{info['model']} (id {info['model_id']})"),
        ("weights id", info["weights_id"]),
        ("coder", f"{info['coder']} (id {info['coder_id']})"),
        (
            "size",
            f"{info['width']}x{info['height']} ({pixels:,} pixels)",
        ),
        ("mode", info["mode"]),
        ("quality", f"{info['quality']:.3f} (code {info['quality_code']})"),
        (
            "streams",
            f"{len(streams)}: " + ", ".join(f"{n:,}" for n in streams) + " bytes",
        ),
        (
            "adaptation",
            f"{info['adaptation']:,} bytes of per-image decoder tools "
            f"(container v{info['container']})"
            if info["adaptation"]
            else f"none (container v{info['container']})",
        ),
        ("total", format_bytes(info["bytes"])),
        ("bpp", f"{info['bpp']:.4f}"),
    ]
    width = max(len(k) for k, _ in rows) + 1
    return "\n".join(
        [f"{info['file']}:"] + [f"  {k + ':':<{width}} {v}" for k, v in rows]
    )


def run(args: argparse.Namespace) -> int:
    """Describe every input; a failing file is reported and the others still run.

    Args:
        args: the parsed command line.

    Returns:
        0 if every file is a valid `.s2lic` file, else 1.

    Raises:
        CLIError: ``-`` is given beside other inputs.
    """
    inputs: list[Path] = args.inputs
    check_stdin_alone(inputs)
    infos: list[dict[str, Any]] = []
    failed = 0
    for i, path in enumerate(inputs):
        try:
            info = describe(path)
        except (S2LICError, OSError) as e:
            failed += 1
            print(error_line(file_message(path, e)), file=sys.stderr, flush=True)
            continue
        infos.append(info)
        if not args.json:
            print(("\n" if i and len(infos) > 1 else "") + _text(info), flush=True)
    if args.json and infos:
        single = len(inputs) == 1
        print(json.dumps(infos[0] if single else infos, indent=2))
    return 1 if failed else 0
