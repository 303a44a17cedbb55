"""``s2lic encode``: compress images to `.s2lic` files."""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Callable
from pathlib import Path

from s2lic.cli.commands import HELP
from s2lic.cli.common import (
    CLIError,
    add_shared_arguments,
    bpp_arg,
    check_device,
    check_output,
    for_each_file,
    format_bytes,
    format_seconds,
    is_stdio,
    path_arg,
    positive_int,
    quality_arg,
    read_stdin,
    resolve_outputs,
    shown,
    write_output,
)
from s2lic.codec.adapt.levels import EFFORTS, MAX_EFFORT
from s2lic.codec.registry import DEFAULT_MODEL, DEFAULT_QUALITY, list_models
from s2lic.entropy.bitstream import is_s2lic_file
from s2lic.entropy.coders import DEFAULT_CODER, list_coders

__all__ = ["add_parser", "run"]

log = logging.getLogger(__name__)

SUFFIX = ".s2lic"


ADVICE = (
    "20 steps save ~6 % of the bits at equal PSNR on Kodak for ~35 s of encoding "
    "per 768x512 image on 2 CPU cores instead of ~1 s; images over 1024 px are "
    "refined on tiles (a 6 MP photo peaks at ~6.9 GiB)"
)
"""What ``s2lic encode --help`` and the README say about ``--refine`` (one source,
measured in docs/refine.md and docs/benchmarks.md; a test keeps the README equal)."""


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``encode`` subcommand.

    Args:
        subparsers: the object returned by ``ArgumentParser.add_subparsers``.
    """
    p = subparsers.add_parser(
        "encode",
        help=HELP["encode"],
        description=(
            "Compress images (PNG, JPEG, ... any format Pillow reads) to .s2lic files. "
            "Each output goes next to its input with the suffix .s2lic unless -o "
            "is given; existing files are never overwritten without --force. "
            "'-' reads the image from standard input (with -o) and '-o -' writes "
            "the .s2lic data to standard output."
        ),
    )
    p.add_argument(
        "inputs",
        nargs="+",
        type=path_arg,
        metavar="IN",
        help="image files ('-': standard input)",
    )
    rate = p.add_mutually_exclusive_group()
    rate.add_argument(
        "-q",
        "--quality",
        type=quality_arg,
        metavar="Q",
        help=f"quality in [0, 1], higher is more bits (default {DEFAULT_QUALITY})",
    )
    rate.add_argument(
        "--bpp",
        type=bpp_arg,
        metavar="B",
        help="target bits per pixel: the best quality whose file fits is searched",
    )
    p.add_argument(
        "--effort",
        type=int,
        choices=range(MAX_EFFORT + 1),
        default=0,
        metavar="N",
        help=(
            f"encoder effort, 0 (default) to {MAX_EFFORT}: higher levels spend more "
            "time fitting the latent and small per-image decoder tools carried in "
            "the file, for fewer bits at equal quality (levels and their cost: "
            "docs/effort.md)"
        ),
    )
    p.add_argument(
        "--refine",
        type=positive_int,
        metavar="N",
        help=(
            "refine each latent for the decoder with N optimisation steps: a lower "
            "rate-distortion cost, most at high qualities; the files decode as "
            # argparse formats help with %: the advice's percent sign is doubled.
            f"usual. {ADVICE[0].upper()}{ADVICE[1:]}".replace("%", "%%")
        ),
    )
    p.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        choices=list_models(),
        help=f"model (default {DEFAULT_MODEL}; see 's2lic models')",
    )
    p.add_argument(
        "--coder",
        default=DEFAULT_CODER,
        choices=list_coders(),
        help=f"entropy coder (default {DEFAULT_CODER})",
    )
    add_shared_arguments(
        p, "output file (one input) or existing directory (any number of inputs)"
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Encode every input; a failing file is reported and the others still run.

    Args:
        args: the parsed command line.

    Returns:
        0 if every file was encoded, else 1.

    Raises:
        S2LICError: a problem that concerns all files (model, weights, device,
            outputs); nothing has been written then.
    """
    inputs: list[Path] = args.inputs
    outputs = resolve_outputs(inputs, args.output, SUFFIX)
    check_device(args.device)
    weights = os.fsdecode(args.weights) if args.weights is not None else None
    # Torch and the network load only now, after the arguments were checked.
    from s2lic import load

    # Load once up front: bad weights are one error, not one per file.
    loaded = load(args.model, args.device, weights)
    log.debug(
        "model %s on %s, weights %s (id %s), coder %s",
        args.model,
        args.device,
        loaded.source,
        loaded.weights_id.hex(),
        args.coder,
    )
    # Refinement is the slow part: the bar counts its steps, even for one file.
    return for_each_file(
        inputs,
        outputs,
        "encoding",
        lambda inp, out, step: _encode_one(inp, out, args, weights, step),
        units_per_file=args.refine or EFFORTS[args.effort].refine or 1,
    )


def _encode_one(
    inp: Path,
    out: Path,
    args: argparse.Namespace,
    weights: str | None,
    on_refine_step: Callable[[int, int], None],
) -> str:
    """Encode one file and return its result line."""
    from s2lic import encode
    from s2lic.codec.image import ImageError, load_image

    source = read_stdin(example="photo.png") if is_stdio(inp) else inp
    try:
        image = load_image(source, args.max_pixels, name=shown(inp))
    except ImageError:
        if is_s2lic_file(source):
            raise CLIError(
                f"'{shown(inp)}' is already an .s2lic file "
                "(use 's2lic decode' to decompress it)"
            ) from None
        raise
    # Checked before the slow part so that a refusal comes at once.
    check_output(inp, out, args.force)
    result = encode(
        image,
        quality=args.quality,
        bpp=args.bpp,
        model=args.model,
        coder=args.coder,
        device=args.device,
        weights=weights,
        effort=args.effort,
        refine=args.refine,
        on_refine_step=on_refine_step,
    )
    write_output(out, result.data, force=args.force)
    return (
        f"{shown(inp)} -> {shown(out, output=True)}: "
        f"{format_bytes(len(result.data))}, "
        f"{result.bpp:.3f} bpp, quality {result.quality:.3f}, "
        f"{format_seconds(result.seconds)}"
    )
