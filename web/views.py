"""How the web demo shows a comparison, without Gradio: the results table, the
slider's pair of images, the zoomed crops, the download files and the Markdown of the
status line and of a decoded file's header."""

from __future__ import annotations

import contextlib
import math
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Final

import numpy as np
from PIL import Image, ImageDraw

from s2lic.codec.metrics import MS_SSIM_MIN_SIDE, psnr
from s2lic.eval.match import MatchStatus
from s2lic.web.comparison import (
    ORIGINAL,
    CodecResult,
    Comparison,
    DemoSettings,
    U8Array,
)

__all__ = [
    "TABLE_HEADERS",
    "TABLE_TYPES",
    "ZOOM_FACTOR",
    "header_markdown",
    "mark_zoom",
    "markdown_code",
    "request_folder",
    "save_downloads",
    "status_markdown",
    "table_rows",
    "view_pair",
    "workdir",
    "zoom_crops",
]

TABLE_HEADERS: Final = (
    "codec",
    "bytes",
    "bpp",
    "size vs s2lic",
    "quality",
    "PSNR (dB)",
    "MS-SSIM",
    "encode (ms)",
    "decode (ms)",
)
# PSNR can be infinite and MS-SSIM undefined: both are shown as text.
TABLE_TYPES: Final = [
    "str",  # codec
    "number",  # bytes
    "number",  # bpp
    "str",  # size vs s2lic
    "str",  # quality
    "str",  # PSNR
    "str",  # MS-SSIM
    "number",  # encode ms
    "number",  # decode ms
]

ZOOM_FACTOR: Final = 4
_ZOOM_SIZE: Final = 96  # source pixels per crop side: 384 px on screen at 4x
_RESULTS_MAX_AGE_S: Final = 3600.0


def _format_psnr(value: float) -> str:
    return "∞" if math.isinf(value) else f"{value:.2f}"


def _format_ms_ssim(value: float) -> str:
    return (
        f"n/a (side < {MS_SSIM_MIN_SIDE} px)" if math.isnan(value) else f"{value:.4f}"
    )


def _format_match(r: CodecResult) -> str:
    if r.match is None:
        return "reference"
    return r.match.message


def table_rows(comparison: Comparison) -> list[list[Any]]:
    """The comparison table, one row per codec, columns as `TABLE_HEADERS`.

    Bytes are the real file lengths (headers included) and bpp is ``8 * bytes /
    pixels``; "size vs s2lic" says how close the equal-size search came.
    """
    rows = []
    for r in comparison.results:
        rows.append(
            [
                r.label,
                r.size,
                round(8.0 * r.size / comparison.pixels, 4),
                _format_match(r),
                r.quality,
                _format_psnr(r.psnr),
                _format_ms_ssim(r.ms_ssim),
                round(1000.0 * r.encode_seconds, 1),
                round(1000.0 * r.decode_seconds, 1),
            ]
        )
    return rows


def view_pair(comparison: Comparison, left: str, right: str) -> tuple[U8Array, U8Array]:
    """The two images of the compare slider, by name (see `Comparison.names`)."""
    return comparison.pixels_of(left), comparison.pixels_of(right)


def _zoom_box(
    shape: tuple[int, ...], center: tuple[float, float], size: int
) -> tuple[int, int, int, int]:
    """A ``size`` square around ``center`` = (x, y), moved inside the image."""
    h, w = shape[:2]
    side_w, side_h = min(size, w), min(size, h)
    x0 = int(round(center[0] - side_w / 2))
    y0 = int(round(center[1] - side_h / 2))
    x0 = min(max(x0, 0), w - side_w)
    y0 = min(max(y0, 0), h - side_h)
    return x0, y0, x0 + side_w, y0 + side_h


def zoom_crops(
    comparison: Comparison,
    center: tuple[float, float] | None = None,
    *,
    size: int = _ZOOM_SIZE,
    factor: int = ZOOM_FACTOR,
) -> list[tuple[U8Array, str]]:
    """The same square of every image, enlarged ``factor`` times without smoothing.

    Args:
        comparison: the results.
        center: (x, y) in image pixels; the image centre if None.
        size: side of the square in image pixels (smaller for smaller images).
        factor: the enlargement.

    Returns:
        (crop, caption) for the original and each codec, in table order; captions
        give the file size and the PSNR of the crop.
    """
    h, w = comparison.original.shape[:2]
    x0, y0, x1, y1 = _zoom_box(
        comparison.original.shape, center or (w / 2, h / 2), size
    )

    def enlarge(pixels: U8Array) -> U8Array:
        part = pixels[y0:y1, x0:x1]
        return np.repeat(np.repeat(part, factor, axis=0), factor, axis=1)

    reference = comparison.original[y0:y1, x0:x1]
    crops = [(enlarge(comparison.original), f"{ORIGINAL} ({x0},{y0})–({x1},{y1})")]
    for r in comparison.results:
        crop_psnr = psnr(reference, r.decoded[y0:y1, x0:x1])
        crops.append(
            (
                enlarge(r.decoded),
                f"{r.name}: {r.size:,} bytes, crop PSNR {_format_psnr(crop_psnr)} dB",
            )
        )
    return crops


def mark_zoom(original: U8Array, center: tuple[float, float] | None) -> U8Array:
    """The original with the zoomed square outlined."""
    h, w = original.shape[:2]
    box = _zoom_box(original.shape, center or (w / 2, h / 2), _ZOOM_SIZE)
    img = Image.fromarray(original)
    width = max(1, round(max(h, w) / 300))
    ImageDraw.Draw(img).rectangle(
        (box[0], box[1], box[2] - 1, box[3] - 1), outline=(255, 0, 64), width=width
    )
    return np.asarray(img)


def workdir(settings: DemoSettings) -> Path:
    # `build_app` always sets one; direct callers without get a shared default.
    return settings.workdir or Path(tempfile.gettempdir()) / "s2lic-web"


def _prune(workdir: Path) -> None:
    # Downloads of old requests; Gradio keeps its own copies only as long as needed.
    cutoff = time.time() - _RESULTS_MAX_AGE_S
    for child in workdir.iterdir():
        with contextlib.suppress(OSError):
            if child.is_dir() and child.stat().st_mtime < cutoff:
                shutil.rmtree(child, ignore_errors=True)


def request_folder(workdir: Path) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    _prune(workdir)
    folder = workdir / uuid.uuid4().hex
    folder.mkdir()
    return folder


def save_downloads(comparison: Comparison, workdir: Path) -> tuple[Path, Path]:
    """Write the `.s2lic` file and its decoded PNG for download.

    Args:
        comparison: the results.
        workdir: the folder of the demo's files; each call writes a new subfolder.

    Returns:
        Paths of ``<stem>.s2lic`` and ``<stem>.s2lic.png``.
    """
    folder = request_folder(workdir)
    s2lic_path = folder / f"{comparison.stem}.s2lic"
    s2lic_path.write_bytes(comparison.s2lic.data)
    png_path = folder / f"{comparison.stem}.s2lic.png"
    comparison.s2lic_image.save(png_path, format="PNG")
    return s2lic_path, png_path


def markdown_code(name: str) -> str:
    """A user's file name as Markdown code that cannot break a table or span."""
    return "`" + name.replace("`", "'").replace("|", "\\|") + "`"


def header_markdown(info: dict[str, Any], seconds: float) -> str:
    pixels = info["width"] * info["height"]
    rows = [
        ("file", markdown_code(info["file"])),
        ("model", f"{info['model']} (id {info['model_id']})"),
        ("weights id", f"`{info['weights_id']}`"),
        ("coder", f"{info['coder']} (id {info['coder_id']})"),
        ("size", f"{info['width']}x{info['height']} ({pixels:,} pixels)"),
        ("mode", info["mode"]),
        ("quality", f"{info['quality']:.3f} (code {info['quality_code']})"),
        (
            "streams",
            f"{len(info['streams'])}: "
            + ", ".join(f"{n:,}" for n in info["streams"])
            + " bytes",
        ),
        (
            "adaptation",
            f"{info['adaptation']:,} bytes of per-image decoder tools "
            f"(container v{info['container']})"
            if info["adaptation"]
            else f"none (container v{info['container']})",
        ),
        ("total", f"{info['bytes']:,} bytes"),
        ("bpp", f"{info['bpp']:.4f}"),
        ("decoded in", f"{1000 * seconds:.0f} ms"),
    ]
    return "| field | value |\n|---|---|\n" + "\n".join(
        f"| {k} | {v} |" for k, v in rows
    )


def status_markdown(comparison: Comparison) -> str:
    s = comparison.s2lic
    others = [r.name for r in comparison.results[1:]]
    lines = [
        f"{markdown_code(comparison.stem)} with {comparison.model}: {s.size:,} bytes "
        f"({8 * s.size / comparison.pixels:.4f} bpp) at quality {s.quality}"
        + (
            f", at encoder effort {comparison.effort} (docs/effort.md)"
            if comparison.effort
            else ""
        )
        + f", PSNR {_format_psnr(s.psnr)} dB."
    ]
    if others:
        lines[0] += (
            f" {', '.join(others)}: the largest file not above that size "
            "(*size vs s2lic* in the table says how close)."
        )
    for status, words in (
        (MatchStatus.ABOVE_MAXIMUM, "even at its highest quality is smaller"),
        (MatchStatus.BELOW_MINIMUM, "even at its lowest quality is larger"),
    ):
        names = [
            r.name for r in comparison.results if r.match and r.match.status is status
        ]
        if names:
            lines.append(f"{', '.join(names)}: the file {words} than s2lic's.")
    if not comparison.trained:
        lines.append(
            "⚠️ The model has no trained weights: its picture is noise and its "
            "file far larger than a trained model's."
        )
    lines += [f"Skipped {reason}" for reason in comparison.skipped]
    return "\n\n".join(lines)
