"""``s2lic decode``: decompress `.s2lic` files to images (PNG by default)."""

from __future__ import annotations

import argparse
import io
import logging
import os
from pathlib import Path
from typing import Any, Final

from PIL import Image

from s2lic.cli.commands import HELP
from s2lic.cli.common import (
    CLIError,
    add_shared_arguments,
    check_device,
    check_output,
    for_each_file,
    format_seconds,
    is_stdio,
    path_arg,
    read_input,
    resolve_outputs,
    shown,
    write_output,
)
from s2lic.entropy.bitstream import Limits
from s2lic.entropy.errors import LimitError

__all__ = ["add_parser", "run"]

log = logging.getLogger(__name__)

SUFFIX = ".png"

# Formats whose writers lose information by default: the user asked for them, so we
# write them, but say that the result is no longer the decoded image.
_LOSSY: Final = {
    "JPEG": "JPEG is lossy",
    "MPO": "MPO (JPEG) is lossy",
    "GIF": "GIF keeps at most 256 colours",
    "AVIF": "AVIF is lossy",
    "HEIF": "HEIF is lossy",
}

# Writer options that make formats with a lossless mode use it.
_SAVE_OPTIONS: Final[dict[str, dict[str, Any]]] = {
    "WEBP": {"lossless": True, "quality": 100, "exact": True},
}


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``decode`` subcommand.

    Args:
        subparsers: the object returned by ``ArgumentParser.add_subparsers``.
    """
    p = subparsers.add_parser(
        "decode",
        help=HELP["decode"],
        description=(
            "Decompress .s2lic files. Each image goes next to its input as .png "
            "unless -o is given; the format follows the suffix of -o (grayscale and "
            "alpha are kept). Existing files are never overwritten without --force. "
            "'-' reads the .s2lic data from standard input (with -o) and '-o -' "
            "writes a PNG to standard output."
        ),
    )
    p.add_argument(
        "inputs",
        nargs="+",
        type=path_arg,
        metavar="IN",
        help=".s2lic files ('-': standard input)",
    )
    add_shared_arguments(
        p, "output image (one input) or existing directory (any number of inputs)"
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Decode every input; a failing file is reported and the others still run.

    Args:
        args: the parsed command line.

    Returns:
        0 if every file was decoded, else 1.

    Raises:
        S2LICError: a problem that concerns all files (device, outputs).
    """
    inputs: list[Path] = args.inputs
    outputs = resolve_outputs(inputs, args.output, SUFFIX)
    check_device(args.device)
    for out in dict.fromkeys(outputs):
        _output_format(out)  # an unknown suffix fails before any work
    weights = os.fsdecode(args.weights) if args.weights is not None else None
    limits = Limits(max_pixels=args.max_pixels)
    return for_each_file(
        inputs,
        outputs,
        "decoding",
        lambda inp, out, _: _decode_one(inp, out, args, weights, limits),
    )


def _decode_one(
    inp: Path,
    out: Path,
    args: argparse.Namespace,
    weights: str | None,
    limits: Limits,
) -> str:
    """Decode one file and return its result line."""
    data = read_input(inp)
    check_output(inp, out, args.force)
    from s2lic import decode  # torch: only once there is a file to decode

    try:
        result = decode(data, device=args.device, weights=weights, limits=limits)
    except LimitError as e:
        if "pixels" in str(e) and "--max-pixels" not in str(e):
            raise LimitError(f"{e} (use --max-pixels)") from None
        raise
    image = result.image
    write_output(out, _encode_image(image, out), force=args.force)
    return (
        f"{shown(inp)} -> {shown(out, output=True)}: {image.width}x{image.height} "
        f"{image.mode}, {format_seconds(result.seconds)}"
    )


def _output_format(out: Path) -> str:
    """The Pillow format that the suffix of ``out`` names (PNG on standard output).

    Raises:
        CLIError: no suffix, or one Pillow cannot write.
    """
    if is_stdio(out):
        return "PNG"
    ext = out.suffix.lower()
    fmt = Image.registered_extensions().get(ext) if ext else None
    if fmt is None or fmt not in Image.SAVE:
        what = f"suffix '{out.suffix}'" if ext else "no suffix"
        raise CLIError(
            f"cannot tell which image format to write for '{os.fsdecode(out)}' "
            f"({what}); use .png"
        )
    return fmt


def _encode_image(image: Image.Image, out: Path) -> bytes:
    """The bytes of ``image`` in the format named by the suffix of ``out``.

    Raises:
        CLIError: the format cannot hold this image (e.g. alpha in JPEG).
    """
    fmt = _output_format(out)
    reason = _LOSSY.get(fmt)
    if reason is not None:
        log.warning(
            "'%s': %s; the decoded image is not stored exactly (use .png for that)",
            os.fsdecode(out),
            reason,
        )
    buf = io.BytesIO()
    try:
        image.save(buf, format=fmt, **_SAVE_OPTIONS.get(fmt, {}))
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise CLIError(
            f"cannot write a {image.mode} image as {fmt} to '{os.fsdecode(out)}' "
            f"({e}); use .png"
        ) from None
    return buf.getvalue()
