"""``s2lic train``: train (or keep training) a model on folders of images.

Options mirror `TrainConfig` field by field (one source of defaults). Re-running with
the same ``--out`` resumes from its checkpoint; ``--minutes`` stops cleanly and saves.
Multi-GPU: ``torchrun --nproc-per-node N -m s2lic.cli train ...``.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import typing

from s2lic.cli.commands import HELP
from s2lic.cli.common import CLIError
from s2lic.codec.registry import list_models
from s2lic.train import RateDistortion, TrainConfig, train
from s2lic.train.optim import OPTIMIZERS

__all__ = ["add_parser", "run"]

log = logging.getLogger(__name__)

_HELP = {
    "model": "model to train",
    "data": "image folders (never Kodak); e.g. ../shared/data/train/shard-*",
    "out": "run folder: checkpoint (resumed automatically), logs, weights",
    "crop": "random crop side (multiple of 64)",
    "batch": "batch size per process",
    "workers": "data loader processes",
    "optimizer": "soap (the default), muon or schedulefree from the train extra, or "
    "adamw (torch's own)",
    "lr": "learning rate (peak)",
    "weight_decay": "weight decay",
    "warmup": "warm-up steps",
    "clip": "gradient-norm clip (0 = off)",
    "steps": "stop after this many steps (schedule length)",
    "minutes": "stop after this many minutes (and save); without --steps or "
    "--schedule-minutes they count over all sessions of the run",
    "schedule_minutes": "length of the lr schedule in minutes over all sessions of "
    "the run (0 = --minutes): stop early, resume later",
    "aux_lr": "learning rate of the z quantiles",
    "ema": "decay of an exponential moving average of the weights, e.g. 0.999; "
    "validated and exported instead of the raw weights (0 = off)",
    "snapshots": "keep the weights of every checkpoint as step-N.safetensors (ship "
    "the average of the last ones)",
    "init": "start from these weights (fresh optimiser) if there is no checkpoint",
    "holdout": "training images held back for validation",
    "val_every": "validate every N steps",
    "ckpt_every": "seconds between checkpoints",
    "log_every": "steps between log rows",
    "bf16": "bf16 autocast on CUDA and on CPUs with native bf16 (AVX512-BF16)",
    "tf32": "TF32 matmuls on CUDA",
    "compile": "torch.compile the model (slow to start)",
    "device": "cuda or cpu (default: cuda if available)",
    "threads": "torch CPU threads (0 = default; busy CPU: set OMP_WAIT_POLICY=PASSIVE)",
    "seed": "random seed",
}


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``train`` subcommand."""
    p = subparsers.add_parser(
        "train",
        help=HELP["train"],
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    hints = typing.get_type_hints(TrainConfig)
    for f in dataclasses.fields(TrainConfig):
        if f.name == "objective":
            continue
        flag = "--" + f.name.replace("_", "-")
        default = f.default
        kind = hints[f.name]
        if kind is bool:
            p.add_argument(
                flag,
                action=argparse.BooleanOptionalAction,
                default=default,
                help=_HELP[f.name],
            )
        elif f.name == "data":
            p.add_argument(
                flag, nargs="+", required=True, metavar="DIR", help=_HELP[f.name]
            )
        elif f.name in ("model", "optimizer"):
            choices = list_models() if f.name == "model" else list(OPTIMIZERS)
            p.add_argument(flag, default=default, choices=choices, help=_HELP[f.name])
        else:
            conv = {int: int, float: float}.get(kind, str)  # type: ignore[call-overload]
            p.add_argument(
                flag,
                type=conv,
                default=default,
                help=f"{_HELP[f.name]} (default {default})",
            )
    p.add_argument("--metric", default="mse", choices=["mse", "ms-ssim"])
    p.add_argument(
        "--lambda-min", type=float, default=0.0, help="λ of quality 0 (0 = default)"
    )
    p.add_argument(
        "--lambda-max", type=float, default=0.0, help="λ of quality 1 (0 = default)"
    )
    p.add_argument(
        "--quality-tilt",
        type=float,
        default=0.0,
        help="draw training qualities with density 1 + t·(2q − 1): t > 0 trains the "
        "high rates more (0 = uniform, 1 = the most)",
    )
    # A run's status lines (precision, resume point, a row every 30 s, the stop) are
    # what a log file of a background or lent-GPU run has to show.
    p.set_defaults(run=run, info_from=("s2lic.train",))


def run(args: argparse.Namespace) -> int:
    """Build the `TrainConfig` from the options and train."""
    names = {f.name for f in dataclasses.fields(TrainConfig)} - {"objective"}
    values = {n: getattr(args, n) for n in names}
    values["data"] = tuple(values["data"])
    objective = RateDistortion(
        args.metric, args.lambda_min, args.lambda_max, args.quality_tilt
    )
    cfg = TrainConfig(**values, objective=objective)
    try:
        result = train(cfg)
    except ImportError as e:
        raise CLIError(
            f"--optimizer {cfg.optimizer} needs {e.name or 'a library'}: install the "
            "train extra (pip install -e '.[train]'), or use --optimizer adamw"
        ) from None
    print(
        f"trained {cfg.model} to step {result.step} "
        f"({result.images_per_second:.1f} img/s): {result.weights}"
    )
    return 0
