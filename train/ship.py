"""Ship trained weights only if they beat the shipped ones on Kodak; record provenance.

    candidate weights ─┐
    shipped weights ───┼─> s2lic eval (Kodak, same run, same machine) ─> BD-rates
    JPEG, WebP ────────┘        candidate better than shipped? ─> weights/ + manifest

"Better" is a BD-rate of the candidate against the shipped weights (PSNR, PCHIP) of at
least -`MIN_GAIN` %; where their PSNR ranges do not overlap, BD-PSNR over the
overlapping rates decides.
Random weights (nothing shipped yet) lose to any trained candidate.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import tomli_w
import tomllib
import torch

from s2lic.codec.fileio import atomic_output
from s2lic.codec.zoo import (
    load_model,
    save_weights,
    stored_config,
    weights_dir,
)
from s2lic.eval.codecs import S2LICCodec, make_codec
from s2lic.eval.curves import Curve, measured_curve
from s2lic.eval.report import curve_bd_psnr, curve_bd_rate, curve_stretches
from s2lic.eval.runner import find_images, run_eval

__all__ = [
    "MIN_GAIN",
    "TRAINED_ON",
    "Comparison",
    "average_weights",
    "compare",
    "evaluate",
    "ship",
    "record",
]

log = logging.getLogger(__name__)

SHIP_QUALITIES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
#: BD-rate saving (percent) that new weights need over the shipped ones: every
#: release keeps its weights for decoding (~16 MiB each, forever), so releases are few.
MIN_GAIN = 2.0
#: Where a training round ran (the manifest totals minutes per kind).
TRAINED_ON = ("cpu", "gpu")


@dataclass(frozen=True)
class Comparison:
    """Candidate vs shipped weights.

    Attributes:
        better: ship the candidate.
        reason: one line saying why.
        bd_rate: candidate vs shipped, percent (None if not computable).
        bd_psnr: candidate vs shipped, dB (None if not computable).
    """

    better: bool
    reason: str
    bd_rate: float | None = None
    bd_psnr: float | None = None


def compare(
    candidate: Curve, shipped: Curve | None, min_gain: float = MIN_GAIN
) -> Comparison:
    """Decide whether `candidate` beats `shipped` (None: nothing trained is shipped).

    Args:
        min_gain: BD-rate saving (percent) the candidate needs; every shipped file adds
            its size (~16 MiB) to the repository's history, so a smaller gain waits
            for the next round.
    """
    if shipped is None:
        return Comparison(True, "no trained weights are shipped yet")
    rate = curve_bd_rate(shipped, candidate)
    gain = curve_bd_psnr(shipped, candidate)
    if rate is not None:
        reason = f"BD-rate vs shipped {rate:+.2f} % (needs <= {-min_gain:+.2f} %)"
        return Comparison(rate <= -min_gain, reason, rate, gain)
    if gain is not None:
        return Comparison(gain > 0, f"BD-PSNR vs shipped {gain:+.3f} dB", rate, gain)
    return Comparison(False, "curves do not overlap: cannot compare", rate, gain)


def evaluate(
    dataset: Path,
    out: Path,
    codecs: dict[str, Any],
    limit: int | None = None,
    workers: int | None = None,
) -> dict[str, Curve]:
    """Measure `codecs` ({key: Codec}) on `dataset`; each in its own journal folder."""
    images = find_images(dataset, limit)
    curves = {}
    for key, codec in codecs.items():
        result = run_eval(images, [codec], out / key, workers=workers)
        curve = measured_curve(codec, result.points, len(images), dataset.name)
        if curve is None:
            raise RuntimeError(f"{key}: no complete quality on {dataset}")
        curves[key] = curve
    return curves


def average_weights(paths: Sequence[Path], model: str, out: Path) -> Path:
    """Write the parameter average of several weight files of one model to `out`.

    Averaging the last checkpoints of a run (Izmailov et al., "Averaging Weights
    Leads to Wider Optima and Better Generalization", UAI 2018) smooths out the
    noise of small-batch steps; the coding tables are rebuilt for the average.

    Raises:
        ValueError: no file given.
    """
    if not paths:
        raise ValueError("no weights to average")
    loaded = [load_model(model, "cpu", path) for path in paths]
    first = loaded[0]
    others = [dict(m.model.named_parameters()) for m in loaded[1:]]
    with torch.no_grad():
        for name, param in first.model.named_parameters():
            stack = [param.float(), *(o[name].float() for o in others)]
            param.copy_(torch.stack(stack).mean(0))
    save_weights(first.spec, first.model, out)
    return out


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def ship(candidate: Path, model: str, folder: Path | None = None) -> tuple[str, str]:
    """Copy `candidate` into the weights folder as ``<model>-<sha8>.safetensors``.

    The weights are loaded first (format, model, config and tables are checked). The
    weights shipped before stay: files encoded with them must keep decoding.

    Returns:
        (file name, sha256).
    """
    load_model(model, "cpu", candidate)
    folder = folder or weights_dir()
    sha = _sha256(candidate)
    name = f"{model}-{sha[:8]}.safetensors"
    with atomic_output(folder / name) as tmp:
        shutil.copyfile(candidate, tmp)
    return name, sha


def _curve_record(curve: Curve) -> dict[str, Any]:
    return {
        "quality": list(curve.quality),
        "bpp": [round(v, 4) for v in curve.bpp],
        "psnr_rgb": [round(v, 3) for v in curve.psnr],
    }


def record(
    model: str,
    file: str,
    sha256: str,
    training: dict[str, Any],
    kodak: dict[str, Any],
    folder: Path | None = None,
    release: str = "",
) -> Path:
    """Add the weights' own record to ``manifest.toml`` and make them the default.

    The records of the weights shipped before are kept as they are: each weights
    file keeps its own Kodak numbers and provenance. The new record holds the round
    since its parent (the previous default), whose totals it carries on; the round
    says where it ran (``trained_on``, one of `TRAINED_ON`).

    Args:
        release: the package version that ships them.
    """
    if training.get("trained_on") not in TRAINED_ON:
        raise ValueError(f"a round's trained_on must be one of {TRAINED_ON}")
    folder = folder or weights_dir()
    path = folder / "manifest.toml"
    text = path.read_text() if path.exists() else ""
    header = "".join(line + "\n" for line in text.splitlines() if line.startswith("#"))
    manifest = tomllib.loads(text) if text else {}
    entry = manifest.setdefault(model, {})
    shipped = entry.setdefault("weights", {})
    wid = sha256[:8]
    if wid in shipped:
        raise ValueError(f"weights {wid} of {model} are recorded already")
    parent_id = entry.get("default")
    parent = shipped.get(parent_id, {}) if parent_id else {}
    shipped[wid] = {
        "file": file,
        "sha256": sha256,
        **({"release": release} if release else {}),
        **({"parent": parent_id} if parent_id else {}),
        "config": stored_config(folder / file),  # the design the file was built as
        "date": date.today().isoformat(),
        "license": (
            "Apache-2.0; trained on ../shared/data/train, which includes research-only "
            "images (BSDS500, ImageNet samples, Urban100, Sun-Hays80): research use"
        ),
        "total_steps": parent.get("total_steps", 0) + int(training.get("steps", 0)),
        # CPU and GPU minutes apart: a GPU minute trains ~50x more than a CPU one.
        **{
            f"total_{kind}_minutes": round(
                parent.get(f"total_{kind}_minutes", 0.0)
                + (float(training["minutes"]) if training["trained_on"] == kind else 0),
                1,
            )
            for kind in TRAINED_ON
        },
        "kodak": kodak,
        "rounds": [training],
    }
    # `default` first, then the records, as the manifest's header describes them.
    entry.pop("default", None)
    manifest[model] = {"default": wid, **entry}
    with atomic_output(path) as tmp:
        tmp.write_text(header + "\n" + tomli_w.dumps(manifest))
    return path


def kodak_record(curves: dict[str, Curve], key: str = "candidate") -> dict[str, Any]:
    """The manifest's Kodak results: the curve, BD-rates vs JPEG and WebP, and the
    rate stretches where it is ahead of or behind JPEG (``vs_jpeg_at_equal_rate``:
    ``{bpp = [from, to], psnr_db = mean gap}`` each)."""
    out = _curve_record(curves[key])
    for anchor in ("jpeg", "webp"):
        if anchor in curves:
            value = curve_bd_rate(curves[anchor], curves[key])
            out[f"bd_rate_vs_{anchor}"] = "n/a" if value is None else round(value, 2)
    if "jpeg" in curves:
        out["vs_jpeg_at_equal_rate"] = [
            {"bpp": [round(s.lo, 3), round(s.hi, 3)], "psnr_db": round(s.difference, 2)}
            for s in curve_stretches(curves["jpeg"], curves[key])
        ]
    return out


def default_codecs(candidate: Path, model: str, device: str) -> dict[str, Any]:
    """Candidate, shipped (if trained) and the JPEG / WebP anchors."""
    codecs: dict[str, Any] = {
        "candidate": S2LICCodec(model, device, str(candidate), SHIP_QUALITIES),
        "jpeg": make_codec("jpeg"),
        "webp": make_codec("webp"),
    }
    shipped = S2LICCodec(model, device, None, SHIP_QUALITIES)
    if shipped.trained:
        codecs["shipped"] = shipped
    return codecs
