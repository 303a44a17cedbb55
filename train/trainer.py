"""The training loop: resumable, time-budgeted, one variable-rate model, CPU or GPU(s).

    data ─> random crops ─> model(x, q) ─> RD loss (+ aux loss of z's quantiles)
         ─> AdamW, Muon, SOAP or Schedule-Free AdamW (optim.py; warm-up + cosine,
            Schedule-Free: warm-up + constant), grad clipping, bf16 autocast
    optional EMA of the weights (`ema`): what is validated and exported
    every `ckpt_every` s: full state -> ckpt.pt, fp16 weights -> last.safetensors,
                          config + step + time -> run.json (travels with the weights)
    every `val_every` steps: held-back images at 3 qualities -> out/val.csv

Multi-GPU through ``torchrun`` (DDP; NCCL on CUDA, gloo on CPUs). Only rank 0 writes.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import json
import logging
import math
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader

from s2lic.codec.fileio import atomic_output
from s2lic.codec.objective import RateDistortion
from s2lic.codec.registry import get_spec
from s2lic.codec.zoo import load_model, load_state, save_weights
from s2lic.train.data import (
    CenterCrops,
    RandomCrops,
    list_images,
    split_holdout,
)
from s2lic.train.optim import OPTIMIZERS, build_optimizer, evaluation_mode

__all__ = ["TrainConfig", "TrainResult", "rd_losses", "train"]

log = logging.getLogger(__name__)

_VAL_QUALITIES = (0.0, 0.5, 1.0)
_MAX_SKIPPED = 20


@torch.no_grad()
def copy_norm_statistics(src: nn.Module, dst: nn.Module) -> None:
    """Copy BatchNorm running statistics from `src` to its average `dst`.

    The EMA averages parameters only (``use_buffers=False`` keeps the coding tables and
    window indices out of it), so the running statistics it exports are the live ones.
    """
    targets = dict(dst.named_modules())
    for name, m in src.named_modules():
        if isinstance(m, nn.modules.batchnorm._NormBase) and m.track_running_stats:
            t = targets[name]
            for buf in ("running_mean", "running_var", "num_batches_tracked"):
                getattr(t, buf).copy_(getattr(m, buf))


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run needs (stored in its checkpoints).

    Attributes:
        model: registry name.
        data: image folders.
        out: run folder (checkpoint, logs, exported weights).
        crop, batch, workers: random crop side, batch size per process, loader workers.
        optimizer: one of `OPTIMIZERS` (see optim.py); SOAP by default, the winner
            of the training-efficiency study (docs/training.md). A run resumes
            only with the optimiser it started with.
        lr, weight_decay, warmup, clip: the optimiser and its schedule; `warmup`
            steps from 10 % of lr, then cosine to 10 % at the end of the run
            (Schedule-Free: constant after the warm-up; it averages instead).
        steps: length of the run in steps (0: until `minutes` runs out).
        minutes: wall-time budget of this session (0: none). With steps = 0 and no
            `schedule_minutes` it is the whole run's: the schedule's length in
            minutes trained over all sessions, so a resumed session trains what is
            left of it (not another full budget at the schedule's floor).
        schedule_minutes: length of the schedule in minutes trained over all sessions
            of the run (0: `minutes`). A session may stop before the schedule ends
            and a resumed one goes on from there, with other `data` if need be: one
            warm-up, one cosine and one optimiser state over calls of a lent GPU.
        objective: λ range and metric.
        aux_lr: learning rate of the EntropyBottleneck's quantiles.
        ema: decay of an exponential moving average of the weights, updated after
            every step (0: none). With it, validation and the exported weights
            are the average; the checkpoint keeps both.
        snapshots: also keep the weights of every checkpoint as
            ``step-N.safetensors``, to ship the average of the last ones
            (scripts/ship_weights.py takes several files).
        init: weights to start from (fresh optimiser) when there is no checkpoint.
        holdout, val_every: held-back images and validation period (steps).
        ckpt_every: seconds between checkpoints.
        log_every: steps between log lines.
        bf16: bf16 autocast on CUDA and on CPUs with native bf16 (see `amp_bf16`).
        tf32, compile: CUDA speed options.
        device: "cuda", "cpu" or "" (cuda if available).
        threads: torch CPU threads (0 = torch's default).
        seed: RNG seed.
    """

    model: str = "s2lic-s"
    data: tuple[str, ...] = ()
    out: str = "runs/s2lic-s"
    crop: int = 256
    batch: int = 8
    workers: int = 4
    optimizer: str = "soap"
    lr: float = 1e-4
    weight_decay: float = 0.0
    warmup: int = 500
    clip: float = 1.0
    steps: int = 0
    minutes: float = 0.0
    schedule_minutes: float = 0.0
    objective: RateDistortion = field(default_factory=RateDistortion)
    aux_lr: float = 1e-3
    ema: float = 0.0
    snapshots: bool = False
    init: str | None = None
    holdout: int = 8
    val_every: int = 500
    ckpt_every: float = 600.0
    log_every: int = 20
    bf16: bool = True
    tf32: bool = True
    compile: bool = False
    device: str = ""
    threads: int = 0
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.steps and not self.minutes:
            raise ValueError("give --steps or --minutes (or both)")
        if self.schedule_minutes < 0:
            raise ValueError(
                f"schedule_minutes must be >= 0, got {self.schedule_minutes}"
            )
        if not 0 <= self.ema < 1:
            raise ValueError(f"ema must be in [0, 1), got {self.ema}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(
                f"optimizer must be one of {', '.join(OPTIMIZERS)}, "
                f"not {self.optimizer!r}"
            )
        if self.optimizer == "schedulefree" and self.ema:
            # It averages its iterates already; an EMA of the training iterate
            # would average the wrong sequence.
            raise ValueError("schedulefree averages by itself: leave ema at 0")


@dataclass
class TrainResult:
    """What a run ended with."""

    step: int
    images_per_second: float
    weights: Path
    checkpoint: Path


def amp_bf16(device: torch.device, wanted: bool = True) -> bool:
    """Whether the training forward runs under bf16 autocast on `device`.

    On CUDA whenever wanted. On a CPU only with native bf16 arithmetic (AVX512-BF16):
    there a 4x256² step of ``s2lic-s`` takes ~19 % less time than in fp32
    (docs/training.md), while emulated bf16 would be slower than fp32.
    """
    if not wanted:
        return False
    if device.type == "cuda":
        return True
    # torch has no public probe; a torch without this one gets fp32.
    probe = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
    return device.type == "cpu" and probe is not None and bool(probe())


def rd_losses(
    net: nn.Module,
    model: nn.Module,
    objective: RateDistortion,
    x: torch.Tensor,
    bf16: bool = True,
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """The losses of one training batch: RD parts at random qualities, and aux loss.

    Args:
        net: what runs the forward (the model, or its DDP / compiled wrapper).
        model: the model itself (owner of the EntropyBottleneck's aux loss).
        x: (B, 3, H, W) batch on the model's device.
        bf16: autocast the forward to bf16 where `amp_bf16` allows (the likelihoods
            stay fp32).
    """
    quality = objective.sample_quality(x.shape[0], x.device)
    amp = amp_bf16(x.device, bf16)
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=amp):
        result = net(x, quality)
    return objective(result, x, quality), model.entropy.aux_loss()


class _Schedule:
    """Warm-up then cosine, driven by steps or by the share of the time budget used."""

    def __init__(self, cfg: TrainConfig) -> None:
        self.cfg = cfg

    def progress(self, step: int, elapsed: float) -> float:
        p = 0.0
        if self.cfg.steps:
            p = max(p, step / self.cfg.steps)
        length = self.cfg.schedule_minutes or self.cfg.minutes
        if length and not self.cfg.steps:
            p = max(p, elapsed / (60.0 * length))
        return min(p, 1.0)

    def lr(self, step: int, elapsed: float) -> float:
        base = self.cfg.lr
        if step < self.cfg.warmup:
            return base * (0.1 + 0.9 * step / self.cfg.warmup)
        if self.cfg.optimizer == "schedulefree":
            return base
        p = self.progress(step, elapsed)
        return base * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * p)))


def _setup_distributed(cfg: TrainConfig) -> tuple[int, int, torch.device]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    use_cuda = cfg.device == "cuda" or (not cfg.device and torch.cuda.is_available())
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo")
    rank = dist.get_rank() if dist.is_initialized() else 0
    if use_cuda:
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        return rank, world, torch.device("cuda", local)
    return rank, world, torch.device("cpu")


def _csv_append(path: Path, row: dict[str, Any]) -> None:
    new = not path.exists()
    with path.open("a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(row))
        if new:
            w.writeheader()
        w.writerow(row)


class _Run:
    """One training process: model, optimisers, data and the bookkeeping of a run."""

    def __init__(self, cfg: TrainConfig) -> None:
        self.cfg = cfg
        self.rank, self.world, self.device = _setup_distributed(cfg)
        torch.manual_seed(cfg.seed + self.rank)
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        if self.device.type == "cuda" and cfg.tf32:
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        self.out = Path(cfg.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.ckpt = self.out / "ckpt.pt"
        self.weights = self.out / "last.safetensors"
        self.spec = get_spec(cfg.model)
        resume = self.ckpt.exists()
        # Shipped weights (or --init) when starting; a checkpoint overwrites them. The
        # network is built as its weights file says (weights carry their design): a
        # resumed run keeps its own design even after the registry's default moved on.
        start = cfg.init
        if resume:
            start = str(self.weights) if self.weights.exists() else None
        self.model = load_model(cfg.model, "cpu", start).model
        self.model.to(self.device).train()
        named = list(self.model.named_parameters())
        self.aux_params = [p for n, p in named if n.endswith("quantiles")]
        self.main_params = [p for n, p in named if not n.endswith("quantiles")]
        self.opt = build_optimizer(
            cfg.optimizer, self.model, self.main_params, cfg.lr, cfg.weight_decay
        )
        self.aux_opt = torch.optim.Adam(self.aux_params, lr=cfg.aux_lr)
        # Every rank steps the same weights, so one average (rank 0's) suffices.
        self.ema = (
            AveragedModel(
                self.model,
                multi_avg_fn=get_ema_multi_avg_fn(cfg.ema),
                use_buffers=False,
            )
            if cfg.ema and self.rank == 0
            else None
        )
        self.step, self.elapsed, self.skipped = 0, 0.0, 0
        self.data = list(cfg.data)  # every session's folders, for the provenance
        if resume:
            self._resume()
        self.net = self._wrap(self.model)
        files = list_images(cfg.data)
        train_files, held = split_holdout(files, cfg.holdout)
        self.loader = DataLoader(
            RandomCrops(train_files, cfg.crop, length=10**9),
            batch_size=cfg.batch,
            num_workers=cfg.workers,
            pin_memory=self.device.type == "cuda",
            drop_last=True,
            persistent_workers=cfg.workers > 0,
            # A new seed per (rank, resume point): resumed runs see new crops.
            generator=torch.Generator().manual_seed(
                cfg.seed * 1000 + self.rank + self.step
            ),
        )
        self.val = (
            torch.stack(list(CenterCrops(held, cfg.crop))).to(self.device)
            if self.rank == 0 and held
            else None
        )
        self.schedule = _Schedule(cfg)
        if self.rank == 0:
            log.info(
                "training %s on %s (%s), %d x %d² crops per process",
                cfg.model,
                self.device,
                "bf16 autocast" if amp_bf16(self.device, cfg.bf16) else "fp32",
                cfg.batch,
                cfg.crop,
            )
        self.started = time.perf_counter()

    def _resume(self) -> None:
        state = torch.load(self.ckpt, map_location="cpu", weights_only=True)
        # Runs from before the optimiser choice saved no name: they used AdamW.
        started = state.get("config", {}).get("optimizer", "adamw")
        if started != self.cfg.optimizer:
            raise ValueError(
                f"{self.ckpt} was trained with --optimizer {started}: resume it with "
                f"that (this run asked for {self.cfg.optimizer})"
            )
        load_state(self.model, state["model"])
        self.opt.load_state_dict(state["opt"])
        self.aux_opt.load_state_dict(state["aux_opt"])
        if self.ema is not None and "ema" in state:
            # Through load_state: the average's coding-table buffers take the stored
            # sizes (the network may have been built from exported weights, whose
            # tables were rebuilt).
            averaged = dict(state["ema"])
            self.ema.n_averaged.copy_(averaged.pop("n_averaged"))
            load_state(
                self.ema.module,
                {k.removeprefix("module."): v for k, v in averaged.items()},
            )
        self.step, self.elapsed = state["step"], state["elapsed"]
        self.data = list(dict.fromkeys([*state.get("data", ()), *self.data]))
        if self.rank == 0:
            log.info(
                "resumed %s at step %d (%.1f min trained)",
                self.ckpt,
                self.step,
                self.elapsed / 60,
            )

    def _wrap(self, model: nn.Module) -> nn.Module:
        net = model
        if self.world > 1:
            # Buffers are coding tables and window indices: nothing to synchronise,
            # and rank 0 rebuilds the tables when it exports weights.
            net = nn.parallel.DistributedDataParallel(
                model,
                device_ids=[self.device.index] if self.device.type == "cuda" else None,
                broadcast_buffers=False,
            )
        if self.cfg.compile:
            net = torch.compile(net)  # type: ignore[assignment]
        return net

    @property
    def exported(self) -> nn.Module:
        """The weights that are validated and shipped: the average, if any."""
        return self.model if self.ema is None else self.ema.module

    def run_time(self) -> float:
        """Seconds trained, over all resumed sessions of this run."""
        return self.elapsed + time.perf_counter() - self.started

    def done(self) -> bool:
        cfg = self.cfg
        budget = 60 * cfg.minutes
        session = time.perf_counter() - self.started
        whole_run = not cfg.steps and not cfg.schedule_minutes
        over_budget = budget and (
            session >= budget or (whole_run and self.run_time() >= budget)
        )
        return bool((cfg.steps and self.step >= cfg.steps) or over_budget)

    def train_step(self, x: torch.Tensor) -> dict[str, float]:
        cfg, device = self.cfg, self.device
        x = x.to(device, non_blocking=True)
        lr = self.schedule.lr(self.step, self.run_time())
        for g in self.opt.param_groups:
            g["lr"] = lr
        parts, aux_loss = rd_losses(
            self.net, self.model, cfg.objective, x, bf16=cfg.bf16
        )
        self.opt.zero_grad(set_to_none=True)
        self.aux_opt.zero_grad(set_to_none=True)
        total = parts["loss"] + aux_loss
        if not torch.isfinite(total):
            # Skip the update: one bad batch must not poison the weights.
            self.skipped += 1
            log.warning("non-finite loss at step %d: update skipped", self.step)
            if self.skipped > _MAX_SKIPPED:
                raise FloatingPointError(f"{self.skipped} non-finite losses: diverged")
            self.step += 1
            return {k: float("nan") for k in ("loss", "bpp", "mse", "psnr", "aux")} | {
                "lr": lr
            }
        # One backward: the aux loss only reaches the quantiles, the RD loss the rest.
        total.backward()
        if cfg.clip:
            torch.nn.utils.clip_grad_norm_(self.main_params, cfg.clip)
        self.opt.step()
        self.aux_opt.step()
        if self.ema is not None:
            self.ema.update_parameters(self.model)
            copy_norm_statistics(self.model, self.ema.module)
        self.step += 1
        row = {k: v.item() for k, v in parts.items()}
        return {**row, "aux": aux_loss.item(), "lr": lr}

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Eval-mode rate (likelihoods) and PSNR of held-back crops at 3 qualities."""
        assert self.val is not None
        model = self.exported
        model.eval()
        row: dict[str, float] = {}
        with evaluation_mode(self.opt):
            for q in _VAL_QUALITIES:
                quality = torch.full((self.val.shape[0],), q, device=self.device)
                parts = self.cfg.objective(model(self.val, quality), self.val, quality)
                row[f"bpp@{q}"] = round(parts["bpp"].item(), 4)
                row[f"psnr@{q}"] = round(parts["psnr"].item(), 3)
        model.train()
        return row

    def save(self) -> None:
        """Checkpoint (full state), shippable fp16 weights and run.json, atomically.

        run.json holds the run's provenance (config, step, seconds trained) for
        scripts/ship_weights.py: unlike ckpt.pt it is small enough to come back from a
        GPU machine with the weights.
        """
        info = {
            "step": self.step,
            "elapsed": self.run_time(),
            "data": self.data,
            "config": _json_safe(dataclasses.asdict(self.cfg)),
        }
        state = {
            "model": self.model.state_dict(),
            "opt": self.opt.state_dict(),
            "aux_opt": self.aux_opt.state_dict(),
            **({"ema": self.ema.state_dict()} if self.ema is not None else {}),
            **info,
        }
        with atomic_output(self.ckpt) as tmp:
            torch.save(state, tmp)
        with evaluation_mode(self.opt):
            save_weights(self.spec, self.exported, self.weights)
        if self.cfg.snapshots:
            with atomic_output(self.out / f"step-{self.step}.safetensors") as tmp:
                shutil.copyfile(self.weights, tmp)
        with atomic_output(self.out / "run.json") as tmp:
            tmp.write_text(json.dumps(info, indent=1) + "\n")


@contextlib.contextmanager
def _progress(cfg: TrainConfig, show: bool) -> Iterator[Callable[[int, str], None]]:
    """A rich progress bar on stderr (TTY only): ``update(step, text)``."""
    if not show or not sys.stderr.isatty():
        yield lambda step, text: None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    bar = Progress(
        TextColumn("training"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        transient=True,
    )
    with bar:
        task = bar.add_task("", total=cfg.steps or None)
        yield lambda step, text: bar.update(task, completed=step, description=text)


def train(cfg: TrainConfig) -> TrainResult:
    """Run (or resume) training as configured; returns where the results are."""
    run = _Run(cfg)
    main = run.rank == 0
    last_ckpt = last_line = window_start = time.perf_counter()
    window_images, rate = 0, 0.0
    with _progress(cfg, main) as show:
        for x in run.loader:
            if run.done():
                break
            parts = run.train_step(x)
            window_images += x.shape[0] * run.world
            if main and run.step % cfg.log_every == 0:
                now = time.perf_counter()
                rate = window_images / (now - window_start)
                window_start, window_images = now, 0
                row = {
                    "step": run.step,
                    "minutes": round(run.run_time() / 60, 2),
                    "img_per_s": round(rate, 2),
                    "lr": f"{parts['lr']:.3g}",
                    **{k: round(parts[k], 4) for k in ("loss", "bpp", "psnr", "aux")},
                }
                _csv_append(run.out / "log.csv", row)
                show(
                    run.step,
                    " ".join(
                        f"{k} {row[k]}" for k in ("loss", "bpp", "psnr", "img_per_s")
                    ),
                )
                if now - last_line > 30 and not sys.stderr.isatty():  # else: bar
                    log.info(" ".join(f"{k}={v}" for k, v in row.items()))
                    last_line = now
            if (
                main
                and run.val is not None
                and cfg.val_every
                and run.step % cfg.val_every == 0
            ):
                _csv_append(run.out / "val.csv", {"step": run.step, **run.validate()})
            if main and time.perf_counter() - last_ckpt > cfg.ckpt_every:
                run.save()
                last_ckpt = time.perf_counter()
    if main:
        run.save()
        log.info("stopped at step %d; weights in %s", run.step, run.weights)
    if dist.is_initialized():
        dist.barrier()
    return TrainResult(run.step, rate, run.weights, run.ckpt)


def _json_safe(value: Any) -> Any:
    """Config values as plain types (checkpoints are loaded with weights_only)."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value
