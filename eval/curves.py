"""Rate-distortion curves: measured ones from a run's points (means over the images
per quality, sorted by rate) and published ones from CompressAI-format JSON files."""

from __future__ import annotations

import json
import math
import os
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from s2lic.eval.codecs import Codec, EvalError, S2LICCodec
from s2lic.eval.runner import Point

__all__ = [
    "DEFAULT_REFERENCES",
    "Curve",
    "Metric",
    "is_untrained",
    "load_curve",
    "load_references",
    "PUBLISHED_IMAGES",
    "mean",
    "measured_curve",
]

Metric = Literal["psnr", "ms-ssim"]

DEFAULT_REFERENCES: Final = {
    "vtm": "VTM",
    "bpg_444_x265_ycbcr": "BPG 4:4:4",
    "av1": "AV1",
    "paper-elic2022_mse": "ELIC",
    "paper-s2lic2024_mse": "S2LIC paper",
    "jpeg": "JPEG",
    "webp": "WebP",
    "jpeg2000": "JPEG 2000",
}
"""Reference files (stems in the reference folder) and their short names."""


@dataclass(frozen=True)
class Curve:
    """A rate-distortion curve, sorted by rate; NaN where a value is unknown.

    Attributes:
        key: codec name, or the reference file's stem.
        label: name for legends and tables.
        description: one line: what and how.
        bpp: mean bits per pixel of each point.
        psnr: mean PSNR-RGB in dB.
        ms_ssim: mean MS-SSIM-RGB (linear, in [0, 1]).
        enc_s: mean encoding seconds per image.
        dec_s: mean decoding seconds per image.
        measured: measured in this evaluation (else a published reference).
        quality: the codec's quality parameter of each point (measured curves).
    """

    key: str
    label: str
    description: str
    bpp: tuple[float, ...]
    psnr: tuple[float, ...]
    ms_ssim: tuple[float, ...]
    enc_s: tuple[float, ...]
    dec_s: tuple[float, ...]
    measured: bool = False
    quality: tuple[float, ...] = ()

    def series(self, metric: Metric) -> tuple[list[float], list[float]]:
        """(bpp, value) of the points where both are finite; MS-SSIM in dB."""
        if metric == "psnr":
            values = self.psnr
        else:
            values = tuple(_ms_ssim_db(m) for m in self.ms_ssim)
        pairs = [
            (r, v)
            for r, v in zip(self.bpp, values, strict=True)
            if math.isfinite(r) and math.isfinite(v)
        ]
        return [r for r, _ in pairs], [v for _, v in pairs]


def _ms_ssim_db(m: float) -> float:
    # -10 log10(1 - MS-SSIM), as CompressAI plots it: spreads the values near 1.
    return -10.0 * math.log10(1.0 - m) if m < 1.0 else math.inf


def _sorted_curve(
    key: str,
    label: str,
    description: str,
    columns: dict[str, Sequence[float]],
    *,
    measured: bool = False,
) -> Curve:
    """A `Curve` of parallel columns (bpp, psnr, ms_ssim, enc_s, dec_s[, quality])."""
    order = sorted(range(len(columns["bpp"])), key=lambda i: columns["bpp"][i])

    def col(name: str) -> tuple[float, ...]:
        values = columns.get(name)
        if values is None:
            return tuple(math.nan for _ in order) if name != "quality" else ()
        return tuple(float(values[i]) for i in order)

    return Curve(
        key,
        label,
        description,
        col("bpp"),
        col("psnr"),
        col("ms_ssim"),
        col("enc_s"),
        col("dec_s"),
        measured,
        col("quality"),
    )


def mean(values: Sequence[float]) -> float:
    """The mean of the values (NaN for none), independent of their order."""
    # fsum: the mean does not depend on the order the points were measured in.
    return math.fsum(values) / len(values) if values else math.nan


def measured_curve(
    codec: Codec, points: Iterable[Point], images: int, dataset: str = ""
) -> Curve | None:
    """The curve of one codec: per quality, the mean over the images.

    Only qualities measured on all ``images`` images are kept (a mean over fewer
    would not be comparable).

    Args:
        codec: the codec.
        points: its points (others are ignored).
        images: the number of images of the evaluation.
        dataset: the dataset's name, for the description.

    Returns:
        The curve, or None when no quality is complete.
    """
    by_quality: dict[float, list[Point]] = defaultdict(list)
    for p in points:
        if p.codec == codec.name:
            by_quality[p.quality].append(p)
    complete = {q: ps for q, ps in by_quality.items() if len(ps) == images}
    if not complete:
        return None
    qualities = sorted(complete)
    columns: dict[str, list[float]] = {"quality": qualities}
    for field in ("bpp", "psnr", "ms_ssim", "enc_s", "dec_s"):
        columns[field] = [
            mean([getattr(p, field) for p in complete[q]]) for q in qualities
        ]
    return _sorted_curve(
        codec.name,
        codec.label,
        _description(codec, images, dataset),
        columns,
        measured=True,
    )


def is_untrained(codec: Codec) -> bool:
    """Whether the codec is a learned model running with random weights."""
    return isinstance(codec, S2LICCodec) and not codec.trained


def _description(codec: Codec, images: int, dataset: str) -> str:
    where = f" on {images} {dataset} images" if dataset else f" on {images} images"
    text = (
        f"{codec.label}: {codec.settings} ({codec.version()}). "
        f"Measured by s2lic eval{where}."
    )
    if is_untrained(codec):
        text = (
            "UNTRAINED: random weights, the results are meaningless (they only show "
            f"that the pipeline runs). {text}"
        )
    return text


def load_curve(path: Path, label: str | None = None) -> Curve:
    """A curve from a CompressAI-format JSON (``results.bpp``, ``psnr-rgb``, ...).

    Missing ``ms-ssim-rgb`` or time lists become NaN.

    Args:
        path: the JSON file.
        label: short name; default the file's ``name``.

    Raises:
        EvalError: the file cannot be read or is not in that format.
    """
    name = os.fsdecode(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        results = doc["results"]
        columns = {
            "bpp": results["bpp"],
            "psnr": results.get("psnr-rgb", results.get("psnr")),
            "ms_ssim": results.get("ms-ssim-rgb", results.get("ms-ssim")),
            "enc_s": results.get("encoding_time"),
            "dec_s": results.get("decoding_time"),
        }
        if columns["psnr"] is None:
            raise KeyError("psnr-rgb")
        present = {k: [_number(v) for v in vs] for k, vs in columns.items() if vs}
        if len({len(v) for v in present.values()}) != 1:
            raise ValueError("the result lists differ in length")
        return _sorted_curve(
            path.stem,
            label or str(doc.get("name", path.stem)),
            str(doc.get("description", "")),
            present,
        )
    except OSError as e:
        raise EvalError(f"cannot read reference '{name}': {e.strerror or e}") from None
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise EvalError(f"'{name}' is not a CompressAI results file: {e}") from None


def _number(value: Any) -> float:
    return math.nan if value is None else float(value)


#: Images in the sets the published curves were measured on, by dataset folder name
#: (other folders: all of their images).
PUBLISHED_IMAGES = {"kodak": 24}


def load_references(folder: Path, names: dict[str, str] | None = None) -> list[Curve]:
    """The reference curves of ``folder`` that exist, in the order of ``names``.

    Args:
        folder: a folder of CompressAI-format JSONs.
        names: file stems to load and their short names; default
            `DEFAULT_REFERENCES`.

    Raises:
        EvalError: the folder does not exist, or a file is not in the format.
    """
    if not folder.is_dir():
        raise EvalError(f"reference directory '{os.fsdecode(folder)}' does not exist")
    wanted = DEFAULT_REFERENCES if names is None else names
    return [
        load_curve(folder / f"{stem}.json", label)
        for stem, label in wanted.items()
        if (folder / f"{stem}.json").is_file()
    ]
