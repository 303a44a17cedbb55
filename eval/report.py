"""The evaluation's outputs: CompressAI-format JSONs, BD-rate tables, RD plots.

Everything here is computed from the points of a run (`runner.EvalResult`) and from
published reference curves; nothing is measured. `build_report` returns the files as
bytes (the caller writes them), so the same report can be rebuilt from the journal at
any time.

- One JSON per measured codec in CompressAI's results format: ``name``,
  ``description``, ``meta`` and ``results`` with the parallel lists ``bpp``,
  ``psnr-rgb``, ``ms-ssim-rgb``, ``encoding_time``, ``decoding_time``; each value is
  the mean over the images of the per-image values (as CompressAI averages), one
  entry per quality, sorted by rate. Non-finite values (MS-SSIM of images too small
  for it, PSNR of lossless points) are ``null``; a list that would be all ``null``
  is left out.
- ``results.md``: BD-rates against the anchor (PSNR-RGB and MS-SSIM in dB) and
  against each reference curve; for each learned model, its PSNR against the anchor's
  at equal rate, point by point, and the rate stretches where it is ahead or behind
  (a BD-rate averages those away); mean times, codec settings, environment.
- ``rd-psnr`` and ``rd-ms-ssim`` plots (PNG and SVG): measured curves solid with
  markers, reference curves dashed.
"""

from __future__ import annotations

import datetime
import io
import json
import math
import os
import platform
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Final, Literal

from s2lic.eval.bd import Stretch, bd_psnr, bd_rate, psnr_at, stretches
from s2lic.eval.codecs import Codec, EvalError, S2LICCodec
from s2lic.eval.curves import Curve, Metric, is_untrained, mean, measured_curve
from s2lic.eval.runner import CSV_NAME, EvalResult, summarize

__all__ = [
    "DEFAULT_ANCHOR",
    "X_MAX_BPP",
    "Report",
    "build_report",
    "compressai_json",
    "curve_bd_psnr",
    "curve_bd_rate",
    "curve_stretches",
    "environment",
    "equal_rate_table",
    "render_plot",
    "resolve_anchor",
]

DEFAULT_ANCHOR: Final = "jpeg"
"""Anchor of the BD-rate table when none is chosen.

JPEG, because it is always measurable (libjpeg is part of every Pillow build), so the
anchor is measured on the same images in the same run as every other codec, never
skipped for a missing library; everyone knows its quality, and its curve spans the
whole useful range (about 0.2 to 4 bpp on Kodak), so it overlaps every other codec.
The learned-codec literature's anchor, VTM, cannot be run here; BD-rates against its
published Kodak curve are in the reference table.
"""

X_MAX_BPP: Final = 2.0
"""Right end of the plots' rate axis: where the codecs differ; beyond, curves join."""

_PLOTS: Final[dict[Metric, str]] = {"psnr": "rd-psnr", "ms-ssim": "rd-ms-ssim"}
_AXIS: Final[dict[Metric, str]] = {
    "psnr": "PSNR-RGB (dB)",
    "ms-ssim": "MS-SSIM-RGB (dB, −10·log10(1 − MS-SSIM))",
}
_PACKAGES: Final = (
    "s2lic",
    "torch",
    "compressai",
    "numpy",
    "scipy",
    "pillow",
    "pillow-heif",
    "pillow-jxl-plugin",
    "pytorch-msssim",
    "matplotlib",
)


# --------------------------------------------------------------------------------------
# JSON


def _finite_or_none(v: float) -> float | None:
    return v if math.isfinite(v) else None


def compressai_json(curve: Curve, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """The curve in CompressAI's results format.

    Args:
        curve: a measured curve.
        meta: extra information stored under ``meta``.

    Returns:
        A JSON-serialisable dict (non-finite values are ``None``).
    """
    results: dict[str, list[float | None]] = {}
    for key, values in (
        ("bpp", curve.bpp),
        ("psnr-rgb", curve.psnr),
        ("ms-ssim-rgb", curve.ms_ssim),
        ("encoding_time", curve.enc_s),
        ("decoding_time", curve.dec_s),
    ):
        cleaned = [_finite_or_none(v) for v in values]
        if any(v is not None for v in cleaned):
            results[key] = cleaned
    doc: dict[str, Any] = {"name": curve.label, "description": curve.description}
    doc["meta"] = {"codec": curve.key, "quality": list(curve.quality), **(meta or {})}
    doc["results"] = results
    return doc


# --------------------------------------------------------------------------------------
# BD-rates


def curve_bd_rate(anchor: Curve, test: Curve, metric: Metric = "psnr") -> float | None:
    """BD-rate of ``test`` against ``anchor`` in percent, None where undefined.

    Undefined: the curves do not overlap in quality, or one has too few usable
    points (see `s2lic.eval.bd`).
    """
    return _curve_bd(bd_rate, anchor, test, metric)


def curve_bd_psnr(anchor: Curve, test: Curve, metric: Metric = "psnr") -> float | None:
    """BD-PSNR (mean quality gain at equal rate) of ``test`` against ``anchor``,
    None where the curves do not overlap in rate or cannot be interpolated."""
    return _curve_bd(bd_psnr, anchor, test, metric)


def _curve_bd(
    fn: Callable[..., float], anchor: Curve, test: Curve, metric: Metric
) -> float | None:
    rate_a, value_a = anchor.series(metric)
    rate_t, value_t = test.series(metric)
    try:
        return float(fn(rate_a, value_a, rate_t, value_t))
    except ValueError:
        return None


def curve_stretches(anchor: Curve, test: Curve) -> list[Stretch]:
    """Where ``test`` is ahead of ``anchor`` in PSNR-RGB (`bd.stretches`); [] where
    the curves do not overlap in rate or cannot be interpolated."""
    rate_a, value_a = anchor.series("psnr")
    rate_t, value_t = test.series("psnr")
    try:
        return stretches(rate_a, value_a, rate_t, value_t)
    except ValueError:
        return []


def _stretches_text(found: Sequence[Stretch]) -> str:
    """One line: the mean PSNR gap over each stretch, e.g. ``+0.82 dB over 0.23–1.23
    bpp, −0.23 dB over 1.23–1.37 bpp``."""
    parts = [f"{s.difference:+.2f} dB over {s.lo:.3f}–{s.hi:.3f} bpp" for s in found]
    return ", ".join(parts) or "n/a (the curves share no range of rates)"


def _crossing_note(found: Sequence[Stretch], anchor: str, test: str) -> str:
    """Says how the stretches were cut, or that there is nothing to cut."""
    if len(found) > 1:
        return "Stretches split where the curves cross. "
    if found:
        side = "ahead of" if found[0].difference > 0 else "behind"
        return f"The curves do not cross: {test} is {side} {anchor} there. "
    return ""


def equal_rate_table(anchor: Curve, test: Curve) -> str:
    """Each point of ``test`` beside the anchor's PSNR at the same rate."""
    rate_a, value_a = anchor.series("psnr")
    try:
        at = psnr_at(rate_a, value_a, test.bpp)
    except ValueError:
        at = [math.nan] * len(test.bpp)
    qualities = test.quality or (math.nan,) * len(test.bpp)
    rows = [
        [
            "n/a" if math.isnan(q) else f"{q:g}",
            f"{r:.3f}",
            f"{p:.2f}",
            "n/a" if math.isnan(a) else f"{a:.2f}",
            "n/a" if math.isnan(a) or math.isnan(p) else f"{p - a:+.2f}",
        ]
        for q, r, p, a in zip(qualities, test.bpp, test.psnr, at, strict=True)
    ]
    return _table(
        [
            "quality",
            "bpp",
            "PSNR (dB)",
            f"{anchor.key} PSNR at that bpp",
            "difference (dB)",
        ],
        rows,
    )


def _learned_vs(
    anchor: Curve, measured: Sequence[Curve], codecs: Sequence[Codec]
) -> list[Curve]:
    """The s2lic curves to set against ``anchor`` at equal rate (not itself)."""
    names = {c.name for c in codecs if isinstance(c, S2LICCodec)}
    return [c for c in measured if c.key in names and c.key != anchor.key]


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.1f} %"


def resolve_anchor(
    name: str | None, measured: Sequence[Curve], references: Sequence[Curve]
) -> Curve | None:
    """The anchor curve: ``name`` among the measured, then the reference curves.

    Without ``name``: `DEFAULT_ANCHOR` if measured, else the first measured classical
    codec (any measured one if there is none).

    Raises:
        EvalError: ``name`` is neither measured nor a reference curve.
    """
    if name is None:
        by_key = {c.key: c for c in measured}
        if DEFAULT_ANCHOR in by_key:
            return by_key[DEFAULT_ANCHOR]
        classical = [c for c in measured if not c.key.startswith("s2lic")]
        return (classical or list(measured) or [None])[0]
    for curve in (*measured, *references):
        if curve.key == name:
            return curve
    raise EvalError(
        f"anchor {name!r} is neither a measured codec "
        f"({', '.join(c.key for c in measured) or 'none'}) nor a reference curve "
        f"({', '.join(c.key for c in references) or 'none'})"
    )


# --------------------------------------------------------------------------------------
# Markdown


def _table(
    header: Sequence[str], rows: Iterable[Sequence[str]], numeric: bool = True
) -> str:
    """A Markdown table; columns after the first right-aligned when ``numeric``."""
    rest = "---:" if numeric else ":---"
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join([":---", *[rest] * (len(header) - 1)]) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _span(values: Sequence[float], fmt: str) -> str:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return "n/a"
    return f"{min(finite):{fmt}}–{max(finite):{fmt}}"


def _seconds(values: Sequence[float]) -> str:
    seconds = mean([v for v in values if math.isfinite(v)])
    return "n/a" if math.isnan(seconds) else f"{seconds:.3f}"


def anchor_table(measured: Sequence[Curve], anchor: Curve | None) -> str:
    """BD-rates against the anchor, ranges and mean times of every measured curve."""
    name = anchor.key if anchor is not None else "anchor"
    header = [
        "codec",
        "points",
        "bpp",
        "PSNR (dB)",
        f"BD-rate PSNR vs {name}",
        f"BD-rate MS-SSIM vs {name}",
        "encode (s)",
        "decode (s)",
    ]
    rows = [
        [
            c.label,
            str(len(c.bpp)),
            _span(c.bpp, ".3f"),
            _span(c.psnr, ".2f"),
            _percent(curve_bd_rate(anchor, c) if anchor else None),
            _percent(curve_bd_rate(anchor, c, "ms-ssim") if anchor else None),
            _seconds(c.enc_s),
            _seconds(c.dec_s),
        ]
        for c in measured
    ]
    return _table(header, rows)


def reference_table(measured: Sequence[Curve], references: Sequence[Curve]) -> str:
    """BD-rates (PSNR-RGB) of every measured curve against every reference curve."""
    header = ["codec", *(f"vs {r.label}" for r in references)]
    rows = [
        [c.label, *(_percent(curve_bd_rate(r, c)) for r in references)]
        for c in measured
    ]
    return _table(header, rows)


def environment() -> list[str]:
    """Lines describing the machine and the package versions (each codec's own
    library versions are in the settings table)."""
    versions = []
    for package in _PACKAGES:
        try:
            versions.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            continue
    return [
        f"machine: {platform.platform()}, {_cpu_model()}, "
        f"{os.cpu_count()} logical CPUs",
        f"Python {platform.python_version()}; {', '.join(versions)}",
    ]


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _format_qualities(values: Iterable[float]) -> str:
    return ", ".join(f"{q:g}" for q in values)


def _notes(
    result: EvalResult, skipped: dict[str, str], codecs: Sequence[Codec], images: int
) -> list[str]:
    """Bullets about what is missing: skipped codecs, incomplete and stale points."""
    notes = [f"**{name} not measured**: {why}" for name, why in skipped.items()]
    counts = Counter((p.codec, p.quality) for p in result.points)
    for codec in codecs:
        partial = [q for q in codec.qualities if counts[codec.name, q] < images]
        if partial:
            notes.append(
                f"{codec.name}: quality {_format_qualities(partial)} not measured on "
                "all images (left out of the curves)"
            )
    notes += [f"in the last invocation, {line}" for line in summarize(result.failures)]
    notes += [
        f"{codec}: {n} row(s) of {CSV_NAME} were measured with other settings and "
        "are ignored"
        for codec, n in result.stale.items()
    ]
    return notes


def _markdown(
    ctx: _Context,
    measured: Sequence[Curve],
    anchor: Curve | None,
    notes: Sequence[str],
) -> str:
    lines = [f"# Rate-distortion evaluation: {ctx.dataset}", ""]
    lines += [
        f"> **WARNING: {c.name} has no trained weights (seeded random weights): its "
        "numbers are meaningless; they only show that the pipeline runs.**\n"
        for c in ctx.codecs
        if is_untrained(c)
    ]
    lines += [
        f"{ctx.images} images, {sum(len(c.bpp) for c in measured)} RD points "
        f"({len(ctx.result.points)} per-image points in `{CSV_NAME}`). "
        f"Generated {ctx.date} by `s2lic eval`. Rates are from the real files "
        "(headers included); PSNR-RGB and MS-SSIM-RGB are measured on the decoded "
        "8-bit RGB images and averaged over the images per quality, like CompressAI.",
        "",
        f"## BD-rate vs {anchor.key if anchor else 'the anchor'}",
        "",
        anchor_table(measured, anchor),
        "",
        "Negative BD-rate: fewer bits than the anchor for the same quality. "
        "n/a: the curves do not overlap, or a curve has fewer than two usable "
        "points. Times: mean wall time per image and point, in seconds.",
        "",
    ]
    for curve in _learned_vs(anchor, measured, ctx.codecs) if anchor else ():
        found = curve_stretches(anchor, curve)
        lines += [
            f"## {curve.key} vs {anchor.key} at equal rate (PSNR-RGB)",
            "",
            equal_rate_table(anchor, curve),
            "",
            f"Mean difference: {_stretches_text(found)}. "
            f"{_crossing_note(found, anchor.key, curve.key)}The anchor is "
            "interpolated at each rate like the BD-rates: a monotone cubic (PCHIP) in "
            "log-rate through its points; n/a outside its range.",
            "",
        ]
    if ctx.references:
        lines += [
            "## BD-rate (PSNR-RGB) vs published Kodak curves",
            "",
            reference_table(measured, ctx.references),
            "",
            "References: "
            + "; ".join(
                f"{r.label} = `{r.key}.json` ({r.description})" for r in ctx.references
            )
            + ".",
            "",
        ]
    lines += [
        "## Codec settings",
        "",
        _table(
            ["codec", "label", "settings", "libraries", "qualities"],
            (
                [
                    c.name,
                    c.label,
                    c.settings,
                    c.version(),
                    _format_qualities(c.qualities),
                ]
                for c in ctx.codecs
            ),
            numeric=False,
        ),
        "",
    ]
    if notes:
        lines += ["## Notes", "", *(f"- {n}" for n in notes), ""]
    lines += [
        "## Plots",
        "",
        f"![PSNR-RGB vs bpp]({_PLOTS['psnr']}.png)",
        "",
        f"![MS-SSIM vs bpp]({_PLOTS['ms-ssim']}.png)",
        "",
        "SVG versions next to the PNGs. Solid with markers: measured here; dashed: "
        "published.",
        "",
        "## Environment",
        "",
        *(f"- {line}" for line in environment()),
        f"- classical codecs timed in {ctx.workers} parallel worker process(es) "
        "(one torch thread each for MS-SSIM), s2lic models in the main process; "
        "the last invocation measured "
        f"{ctx.result.measured} point(s) in {ctx.result.seconds:.1f} s and read the "
        f"others from `{CSV_NAME}`",
        "",
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------
# Plots


def render_plot(
    measured: Sequence[Curve],
    references: Sequence[Curve],
    metric: Metric,
    fmt: Literal["png", "svg"],
    title: str = "",
    x_max: float = X_MAX_BPP,
) -> bytes:
    """One RD plot: measured curves solid with markers, references dashed.

    Curves without a finite value of ``metric`` are left out; a measured curve
    entirely beyond ``x_max`` is named "off scale" in the legend. The y range fits
    the points left of ``x_max``.

    Returns:
        The image file's bytes (deterministic for the same inputs and versions).
    """
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    # The object API on an Agg canvas: no pyplot state, no display needed.
    fig = Figure(figsize=(10, 6), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    visible: list[float] = []
    # Colours follow the position in the lists, so that a curve has the same colour
    # in every plot even when another one has no values for this metric.
    tab10, dark2 = matplotlib.colormaps["tab10"], matplotlib.colormaps["Dark2"]
    styles = [(c, True, tab10(i % 10)) for i, c in enumerate(measured)]
    styles += [(c, False, dark2(i % 8)) for i, c in enumerate(references)]
    for curve, is_measured, colour in styles:
        x, y = curve.series(metric)
        if not x:
            continue
        label = curve.label if is_measured else f"{curve.label} (published)"
        if min(x) > x_max:
            label += f" (off scale: {min(x):.1f}–{max(x):.1f} bpp)"
        visible += [v for r, v in zip(x, y, strict=True) if r <= x_max]
        ax.plot(
            x,
            y,
            "-" if is_measured else "--",
            marker="o" if is_measured else None,
            markersize=4,
            linewidth=1.6 if is_measured else 1.2,
            color=colour,
            label=label,
        )
    ax.set_xlim(0.0, x_max)
    if visible:
        pad = max(0.5, 0.03 * (max(visible) - min(visible)))
        ax.set_ylim(min(visible) - pad, max(visible) + pad)
    ax.set_xlabel("bits per pixel (whole file)")
    ax.set_ylabel(_AXIS[metric])
    ax.set_title(title)
    ax.grid(True, alpha=0.4)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    buffer = io.BytesIO()
    # Fixed ids and no date, so that re-running the report changes no file.
    with matplotlib.rc_context({"svg.hashsalt": "s2lic-eval"}):
        fig.savefig(
            buffer,
            format=fmt,
            dpi=120,
            metadata={"Date": None} if fmt == "svg" else None,
        )
    return buffer.getvalue()


# --------------------------------------------------------------------------------------
# The report


@dataclass(frozen=True)
class _Context:
    result: EvalResult
    codecs: Sequence[Codec]
    references: Sequence[Curve]
    dataset: str
    images: int
    workers: int
    date: str


@dataclass(frozen=True)
class Report:
    """The outputs of an evaluation.

    Attributes:
        files: file name (in the output folder) -> contents.
        summary: the BD-rate tables as Markdown, for the terminal.
        curves: the measured curves.
        anchor: the anchor curve, if any.
    """

    files: dict[str, bytes]
    summary: str
    curves: list[Curve]
    anchor: Curve | None


def build_report(
    result: EvalResult,
    codecs: Sequence[Codec],
    images: int,
    *,
    references: Sequence[Curve] = (),
    anchor: str | None = None,
    skipped: dict[str, str] | None = None,
    dataset: str = "",
    workers: int = 1,
    reference_images: int | None = None,
) -> Report:
    """All outputs of an evaluation, as file contents.

    Args:
        result: the run's points.
        codecs: the codecs that were run (for labels, settings, qualities).
        images: the number of images evaluated.
        references: published curves to compare with.
        anchor: the BD-rate anchor (a codec or reference key); see `resolve_anchor`.
        skipped: codecs that could not run, with the reason.
        dataset: the dataset's name for titles.
        workers: the pool size, for the record.
        reference_images: how many images the published curves were measured on
            (None: the evaluated ones). When it is not ``images``, BD-rates against
            them would compare different image sets: their table is left out and
            a note says why (a published anchor stays, with the note).

    Returns:
        A `Report`; without BD-rates (and with a note saying so) when ``anchor``
        has no complete curve.
    """
    curves = [
        c
        for c in (measured_curve(k, result.points, images, dataset) for k in codecs)
        if c is not None
    ]
    notes = _notes(result, skipped or {}, codecs, images)
    other_set = _other_image_set(references, reference_images, images)
    if other_set:
        notes.append(other_set)
    tables = () if other_set else references
    try:
        anchor_curve = resolve_anchor(anchor, curves, references)
    except EvalError:
        # Measured but without a complete curve: the report is still worth having.
        anchor_curve = None
        notes.append(f"the anchor {anchor} has no complete curve: no BD-rates")
    ctx = _Context(
        result,
        codecs,
        tables,
        dataset or "dataset",
        images,
        workers,
        datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    )
    files: dict[str, bytes] = {}
    for curve in curves:
        meta = {"dataset": ctx.dataset, "images": images, "source": "measured"}
        doc = compressai_json(curve, meta)
        files[f"{curve.key}.json"] = (json.dumps(doc, indent=2) + "\n").encode()
    files["results.md"] = _markdown(ctx, curves, anchor_curve, notes).encode()
    for metric, stem in _PLOTS.items():
        title = f"{ctx.dataset} ({images} images): {_AXIS[metric].split(' (')[0]}"
        for fmt in ("png", "svg"):
            files[f"{stem}.{fmt}"] = render_plot(curves, references, metric, fmt, title)
    summary = anchor_table(curves, anchor_curve)
    for curve in _learned_vs(anchor_curve, curves, codecs) if anchor_curve else ():
        summary += (
            f"\n\n{curve.key} vs {anchor_curve.key} at equal rate (PSNR-RGB): "
            + _stretches_text(curve_stretches(anchor_curve, curve))
        )
    if tables:
        summary += "\n\n" + reference_table(curves, tables)
    if other_set:
        summary += "\n\n" + other_set[0].upper() + other_set[1:] + "."
    return Report(files, summary, curves, anchor_curve)


def _other_image_set(
    references: Sequence[Curve], reference_images: int | None, images: int
) -> str:
    """The note for published curves measured on other images than this run's."""
    if not references or reference_images is None or reference_images == images:
        return ""
    return (
        f"no BD-rates against the published curves: they were measured on "
        f"{reference_images} images, this evaluation on {images}; run it on the "
        "whole dataset to compare"
    )
