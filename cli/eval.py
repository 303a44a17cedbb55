"""``s2lic eval``: rate-distortion curves of s2lic and classical codecs on a dataset.

The measuring is `s2lic.eval.runner`, the tables and plots
`s2lic.eval.report`; this module turns the command line into their arguments,
shows progress and writes the report files.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from s2lic.cli.commands import HELP
from s2lic.cli.common import (
    CLIError,
    add_device_argument,
    atomic_write,
    check_device,
    format_seconds,
    positive_int,
    progress,
)
from s2lic.codec.registry import DEFAULT_MODEL, list_models
from s2lic.eval.classical import list_classical
from s2lic.eval.codecs import learned_model

__all__ = ["add_parser", "quality_spec", "run"]

log = logging.getLogger(__name__)

QualitySpec = tuple[str | None, tuple[float, ...]]


def quality_spec(text: str) -> QualitySpec:
    """argparse type of ``--qualities``: ``Q,Q,...`` or ``CODEC=Q,Q,...``.

    Returns:
        (codec name or None for the s2lic models, the qualities).
    """
    target, sep, values = text.rpartition("=")
    grid: list[float] = []
    for item in values.split(","):
        try:
            grid.append(float(item))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected [CODEC=]Q,Q,... with numbers, got {text!r}"
            ) from None
    if sep and not target:
        raise argparse.ArgumentTypeError(f"missing codec name before '=' in {text!r}")
    return (target if sep else None, tuple(grid))


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``eval`` subcommand.

    Args:
        subparsers: the object returned by ``ArgumentParser.add_subparsers``.
    """
    p = subparsers.add_parser(
        "eval",
        help=HELP["eval"],
        description=(
            "Encode every image of DATASET_DIR with every codec at every quality, "
            "decode it, and measure bpp (from the real files), PSNR-RGB, MS-SSIM and "
            "times. Writes per-image.csv, one CompressAI-format JSON per codec, "
            "results.md (BD-rates, times, settings) and RD plots to --out. Re-running "
            "with the same --out measures only the missing points."
        ),
    )
    p.add_argument("dataset", type=Path, metavar="DATASET_DIR", help="image folder")
    p.add_argument(
        "--codecs",
        metavar="LIST",
        help=(
            f"comma-separated codecs: s2lic models ({', '.join(list_models())}), "
            "optionally at an encoder effort level (e.g. s2lic-s+effort2) or with "
            "latent refinement only (e.g. s2lic-s+refine20: 20 steps per image), "
            f"and classical codecs ({', '.join(list_classical())}); "
            f"default {DEFAULT_MODEL} and every classical codec"
        ),
    )
    p.add_argument(
        "--qualities",
        type=quality_spec,
        action="append",
        metavar="[CODEC=]Q,...",
        help=(
            "quality grid: a plain list applies to the s2lic models (in [0, 1]; "
            "default 0,0.2,...,1), CODEC=LIST to one codec (e.g. jpeg=10,50,90); "
            "repeatable"
        ),
    )
    p.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="output folder (default eval-<dataset name>); reused to resume",
    )
    p.add_argument(
        "--reference",
        type=Path,
        metavar="DIR",
        help=(
            "folder of published CompressAI-format curves (default "
            "DATASET_DIR/../../reference/<dataset name> if it exists)"
        ),
    )
    p.add_argument(
        "--anchor",
        metavar="NAME",
        help=(
            "BD-rate anchor: a measured codec or a reference curve such as vtm "
            "(default jpeg: always available and measured in the same run)"
        ),
    )
    p.add_argument(
        "--workers",
        type=positive_int,
        default=os.cpu_count() or 1,
        metavar="N",
        help="processes for the classical codecs (default: the number of CPUs)",
    )
    p.add_argument(
        "--prune",
        action="store_true",
        help="drop results measured with other settings (older libraries or weights) "
        "from the output's per-image.csv",
    )
    p.add_argument(
        "--limit",
        type=positive_int,
        metavar="N",
        help="only the first N images (sorted by name), for a quick look",
    )
    add_device_argument(p, " of the s2lic models")
    p.add_argument(
        "--weights",
        type=Path,
        metavar="FILE",
        help="weights file (.safetensors) of the s2lic model instead of the installed",
    )
    p.set_defaults(run=run)


def _codec_names(text: str | None) -> list[str]:
    if text is None:
        return [DEFAULT_MODEL, *list_classical()]
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise CLIError("--codecs names no codec")
    return list(dict.fromkeys(names))  # drop repeats, keep the order


def _grids(
    specs: Sequence[QualitySpec] | None, names: Sequence[str]
) -> dict[str, tuple[float, ...]]:
    """Per codec, the quality grid the user asked for (later options win)."""
    models = [n for n in names if learned_model(n)]
    grids: dict[str, tuple[float, ...]] = {}
    for target, grid in specs or ():
        if target is None and not models:
            raise CLIError(
                "--qualities without CODEC= applies to the s2lic models, but "
                "--codecs has none; write e.g. --qualities jpeg=10,50,90"
            )
        if target is not None and target not in names:
            raise CLIError(
                f"--qualities names {target!r}, which is not among the codecs "
                f"({', '.join(names)})"
            )
        for name in models if target is None else [target]:
            grids[name] = grid
    return grids


def _reference_dir(args: argparse.Namespace, dataset: Path) -> Path | None:
    if args.reference is not None:
        return args.reference
    # The shared layout: <root>/data/<name> next to <root>/reference/<name>.
    guess = dataset.parent.parent / "reference" / dataset.name
    return guess if guess.is_dir() else None


def _prepare_out(out: Path) -> None:
    """Create the output folder and check it is writable, before any measuring."""
    name = os.fsdecode(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CLIError(f"cannot create output directory '{name}': {e.strerror}") from e
    if not os.access(out, os.W_OK | os.X_OK):
        raise CLIError(f"output directory '{name}' is not writable")


def run(args: argparse.Namespace) -> int:
    """Run the evaluation and write its report.

    Args:
        args: the parsed command line.

    Returns:
        0 if every point was measured, 1 if some failed (the report is written
        either way).

    Raises:
        S2LICError: bad dataset, codec names, qualities, anchor, references or
            output folder; nothing has been measured then.
    """
    from s2lic.eval import codecs as lineup
    from s2lic.eval import curves, report, runner

    dataset = Path(os.path.abspath(args.dataset))
    images = runner.find_images(dataset, args.limit)
    names = _codec_names(args.codecs)
    grids = _grids(args.qualities, names)
    if any(learned_model(n) for n in names):
        check_device(args.device)
    weights = os.fsdecode(args.weights) if args.weights is not None else None
    codecs = [
        lineup.make_codec(
            n, device=args.device, weights=weights, qualities=grids.get(n)
        )
        for n in names
    ]
    ref_dir = _reference_dir(args, dataset)
    references = curves.load_references(ref_dir) if ref_dir is not None else []
    reference_images = curves.PUBLISHED_IMAGES.get(dataset.name) or len(
        images if args.limit is None else runner.find_images(dataset)
    )
    if args.anchor is not None and args.anchor not in names + [
        r.key for r in references
    ]:
        raise CLIError(
            f"--anchor {args.anchor!r} is neither one of the codecs "
            f"({', '.join(names)}) nor a reference curve "
            f"({', '.join(r.key for r in references) or 'none loaded'})"
        )
    out: Path = args.out or Path(f"eval-{dataset.name}")
    if Path(os.path.abspath(out)) == dataset:
        raise CLIError("--out must not be the dataset directory (plots are images)")
    _prepare_out(out)

    available, skipped = lineup.split_available(codecs)
    for name, why in skipped.items():
        log.warning("skipping %s: %s", name, why)
    if not available:
        raise CLIError("none of the codecs can run here")
    if args.anchor in skipped:
        raise CLIError(
            f"--anchor {args.anchor} cannot run here: {skipped[args.anchor]}"
        )
    with progress(len(images) * len(available), "evaluating") as bar:

        def advance(label: str) -> None:
            bar.start(label)
            bar.advance()

        result = runner.run_eval(
            images,
            available,
            out,
            workers=args.workers,
            on_unit=advance,
            prune=args.prune,
        )
    for line in runner.summarize(result.failures):
        log.warning("%s", line)
    built = report.build_report(
        result,
        available,
        len(images),
        references=references,
        anchor=args.anchor,
        skipped=skipped,
        dataset=dataset.name,
        workers=args.workers,
        reference_images=reference_images,
    )
    for filename, data in built.files.items():
        atomic_write(out / filename, data, force=True)
    print(
        f"{len(images)} images, {len(available)} codecs: measured "
        f"{result.measured} new points in {format_seconds(result.seconds)}; "
        f"results in '{os.fsdecode(out)}' ({runner.CSV_NAME}, results.md, "
        f"{len(built.curves)} JSONs, rd-psnr/rd-ms-ssim .png and .svg)"
    )
    print()
    print(built.summary)
    sys.stdout.flush()
    return 1 if result.failures else 0
