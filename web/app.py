"""The Gradio compare-and-compress demo (``s2lic web``).

This module is only the user interface: every number it shows comes from the same
public API as the CLI (`s2lic.codec.api`, `s2lic.codec.image`, `s2lic.codec.metrics`,
`s2lic.codec.eval.classical`, `s2lic.codec.eval.match`, the ``s2lic info`` description
of a file). The functions below the Gradio layer (`load_upload`, `compare`,
`table_rows`, `view_pair`, `zoom_crops`, `save_downloads`, `decode_upload`) take and
return plain values so that they are tested without a browser; the ``on_*`` handlers
wrap them for Gradio and turn every failure into a one-line message in the page
(`gr.Error`), so that no input can crash the server.

Gradio is imported at module level: only ``s2lic web`` imports this module.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import logging
import math
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any, Final, TypeVar

import gradio as gr
import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

from s2lic.cli.info import describe
from s2lic.codec.api import DEFAULT_QUALITY, decode, encode, get_codec
from s2lic.codec.eval.classical import CodecUnavailableError, get_classical
from s2lic.codec.eval.match import MatchResult, MatchStatus, match_classical
from s2lic.codec.image import ImageError, Planes, load_image, to_planes
from s2lic.codec.metrics import MS_SSIM_MIN_SIDE, ms_ssim, psnr
from s2lic.codec.registry import DEFAULT_MODEL
from s2lic.codec.zoo import LoadedModel
from s2lic.entropy.bitstream import MAGIC, Limits
from s2lic.entropy.errors import S2LICError

__all__ = [
    "COMPARE_CODECS",
    "DEFAULT_WEB_MAX_PIXELS",
    "DEFAULT_WEB_MAX_REFINE",
    "ORIGINAL",
    "TABLE_HEADERS",
    "CodecResult",
    "Comparison",
    "DecodedFile",
    "DemoSettings",
    "build_app",
    "compare",
    "decode_upload",
    "example_paths",
    "launch",
    "load_upload",
    "mark_zoom",
    "model_notice",
    "on_compress",
    "on_decode",
    "on_upload",
    "on_zoom",
    "save_downloads",
    "table_rows",
    "view_pair",
    "zoom_crops",
]

log = logging.getLogger(__name__)

U8Array = npt.NDArray[np.uint8]
_F = TypeVar("_F", bound=Callable[..., Any])

DEFAULT_WEB_MAX_PIXELS: Final = 4_000_000
"""The demo's pixel limit: every upload is coded by five codecs, AVIF's slow encoder
several times, on a shared server; 4 MP keeps one request within about a minute."""

DEFAULT_WEB_MAX_REFINE: Final = 20
"""The most encoder-side refinement steps a request may ask for: each step is a
gradient pass through the entropy model and g_s (~1.4 s for a 768x512 image on 2 CPU
cores), and 20 steps already give most of the gain (docs/refine.md)."""

COMPARE_CODECS: Final = ("jpeg", "webp", "avif", "jxl")
"""The classical codecs compared by default (HEIC can be ticked in the page)."""

_OFFERED_CODECS: Final = ("jpeg", "webp", "avif", "jxl", "heic")
_SHORT_NAMES: Final = {
    "jpeg": "JPEG",
    "webp": "WebP",
    "avif": "AVIF",
    "jxl": "JPEG XL",
    "heic": "HEIC",
}
ORIGINAL: Final = "Original"
"""The name of the uncompressed image in the view and zoom choices."""

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
_TABLE_TYPES: Final = [
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

_ZOOM_FACTOR: Final = 4
_ZOOM_SIZE: Final = 96  # source pixels per crop side: 384 px on screen at 4x
_RESULTS_MAX_AGE_S: Final = 3600.0
_EXAMPLES_PACKAGE: Final = "s2lic.web"

# Messages of `load_image` carry CLI hints; the page has no command line.
_CLI_HINT = re.compile(r"\s*\(use --max-pixels\)")


# --------------------------------------------------------------------------------------
# Settings and the values the page shows


@dataclass(frozen=True)
class DemoSettings:
    """What a server instance runs with (from the ``s2lic web`` command line).

    Attributes:
        model: the s2lic model (registry name).
        device: torch device of the model.
        max_pixels: the largest image accepted, in pixels.
        max_refine: the most refinement steps a request may ask for (0 hides the
            control).
        workdir: where the download files are written: a fresh temporary folder if
            None. Gradio serves files only from the system's temporary folder and
            the working directory.
    """

    model: str = DEFAULT_MODEL
    device: str = "cpu"
    max_pixels: int = DEFAULT_WEB_MAX_PIXELS
    max_refine: int = DEFAULT_WEB_MAX_REFINE
    workdir: Path | None = None


@dataclass(frozen=True)
class CodecResult:
    """One codec's file for the uploaded image, decoded and measured.

    Attributes:
        key: "s2lic" or a classical codec name ("jpeg", ...).
        name: short display name ("s2lic", "JPEG", ...).
        label: full name for the table, e.g. "JPEG 4:2:0 (libjpeg-turbo)".
        data: the complete file.
        decoded: its decoded pixels, (H, W, 3) uint8.
        quality: the codec's quality parameter, formatted.
        encode_seconds: wall time of the one encode that made `data` (for classical
            codecs, without the search for the size).
        decode_seconds: wall time of decoding `data`.
        psnr: PSNR-RGB in dB against the original.
        ms_ssim: MS-SSIM against the original (NaN for sides under 161 pixels).
        match: for classical codecs, how `data` was matched to s2lic's size.
    """

    key: str
    name: str
    label: str
    data: bytes
    decoded: U8Array = field(repr=False)
    quality: str
    encode_seconds: float
    decode_seconds: float
    psnr: float
    ms_ssim: float
    match: MatchResult | None = field(default=None, repr=False)

    @property
    def size(self) -> int:
        """File size in bytes."""
        return len(self.data)


@dataclass(frozen=True)
class Comparison:
    """Everything the page shows after one compression.

    Attributes:
        stem: the uploaded file's name without suffix (for download names).
        original: the image as the codecs saw it, (H, W, 3) uint8.
        results: s2lic first, then the classical codecs in the order asked for.
        s2lic_image: the decoded s2lic image in the file's own mode (alpha kept),
            for the PNG download.
        model: the s2lic model's name.
        trained: whether that model has trained weights.
        skipped: classical codecs left out, with the reason.
        refine: steps of encoder-side refinement of s2lic's latent (0 = none).
    """

    stem: str
    original: U8Array = field(repr=False)
    results: tuple[CodecResult, ...]
    s2lic_image: Image.Image = field(repr=False)
    model: str
    trained: bool
    skipped: tuple[str, ...] = ()
    refine: int = 0

    @property
    def pixels(self) -> int:
        """Width times height."""
        return int(self.original.shape[0] * self.original.shape[1])

    @property
    def s2lic(self) -> CodecResult:
        """The s2lic result (always the first)."""
        return self.results[0]

    def names(self) -> list[str]:
        """The choices of the view and zoom: the original, then every codec."""
        return [ORIGINAL, *(r.name for r in self.results)]

    def pixels_of(self, name: str) -> U8Array:
        """The decoded pixels of a codec by display name, or the original."""
        if name == ORIGINAL:
            return self.original
        for r in self.results:
            if r.name == name:
                return r.decoded
        raise ValueError(f"no result named {name!r}; choose from {self.names()}")


@dataclass(frozen=True)
class DecodedFile:
    """An uploaded `.s2lic` file, decoded.

    Attributes:
        header: the ``s2lic info`` fields of the file.
        image: the decoded image (in the file's mode).
        seconds: wall time of decoding.
    """

    header: dict[str, Any]
    image: Image.Image = field(repr=False)
    seconds: float


# --------------------------------------------------------------------------------------
# Plain functions (tested without a browser)


def _temporary_folder(prefix: str) -> Path:
    """A new folder in the system's temporary folder, removed when Python exits."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def example_paths() -> list[Path]:
    """The bundled example images, copied to a temporary folder.

    Gradio serves files only from folders it is told about; a copy in a folder of
    our own works the same for an installed wheel and an editable checkout.

    Returns:
        Paths of the copies, sorted by name.
    """
    folder = _temporary_folder("s2lic-web-examples-")
    paths = []
    for entry in resources.files(_EXAMPLES_PACKAGE).joinpath("examples").iterdir():
        if entry.name.lower().endswith((".jpg", ".jpeg", ".png", ".webp")):
            with resources.as_file(entry) as src:
                paths.append(Path(shutil.copy(src, folder / entry.name)))
    return sorted(paths)


def model_notice(settings: DemoSettings) -> str:
    """Markdown that names the model and says whether its weights are trained."""
    loaded = _loaded(settings)
    if loaded.trained:
        return (
            f"Model **{settings.model}** on `{settings.device}`, trained weights "
            f"`{Path(loaded.source).name}`."
        )
    return (
        f"⚠️ **Model {settings.model} has no trained weights.** This server runs it "
        f"with {loaded.source} weights: files round-trip bit-exactly, but the "
        "decoded pictures are noise and the files large, so the comparison shows the "
        "pipeline, not the codec's quality."
    )


def _loaded(settings: DemoSettings) -> LoadedModel:
    # The same positional arguments as `api.encode` uses: `get_codec` is an
    # lru_cache, and another spelling of the call would load a second copy.
    return get_codec(settings.model, settings.device, None)


def _is_s2lic(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


def load_upload(path: str | Path | None, max_pixels: int) -> Image.Image:
    """Read an uploaded image for compression.

    Args:
        path: the uploaded file (None when nothing is uploaded).
        max_pixels: the largest accepted image.

    Returns:
        The image, upright, detached from the file.

    Raises:
        ImageError: nothing uploaded, an `.s2lic` file, or not a readable image.
        LimitError: the image has more than ``max_pixels`` pixels.
    """
    if path is None or not str(path):
        raise ImageError("upload an image first (or pick the example)")
    path = Path(path)
    if _is_s2lic(path):
        raise ImageError(
            f"'{path.name}' is an .s2lic file: decode it in the 'Decode .s2lic' tab"
        )
    return load_image(path, max_pixels)


def _decode_classical(
    key: str, data: bytes, shape: tuple[int, ...]
) -> tuple[U8Array, float]:
    start = time.perf_counter()
    pixels = get_classical(key).decode(data, expected_shape=shape)
    return pixels, time.perf_counter() - start


def _measure(original: U8Array, decoded: U8Array) -> tuple[float, float]:
    return psnr(original, decoded), ms_ssim(original, decoded)


Report = Callable[[float, str], None]


def _no_report(fraction: float, message: str) -> None:
    pass


def compare(
    image: Image.Image,
    settings: DemoSettings,
    *,
    quality: float | None = None,
    bpp: float | None = None,
    codecs: Sequence[str] = COMPARE_CODECS,
    stem: str = "image",
    report: Report = _no_report,
    refine: int = 0,
) -> Comparison:
    """Compress with s2lic, then every classical codec at (nearly) the same size.

    Args:
        image: the image to compress (e.g. from `load_upload`).
        settings: the model and device.
        quality: s2lic quality in [0, 1] (default `DEFAULT_QUALITY`).
        bpp: a target in bits per pixel instead of ``quality``.
        codecs: classical codec names; each is encoded to the largest file not above
            s2lic's (`match_classical`). Unavailable codecs are skipped and listed.
        stem: the name for downloads.
        report: progress callback (fraction done, what is being done).
        refine: steps of encoder-side refinement of s2lic's latent (0 = off): a
            lower rate-distortion cost for a slower encoding; the classical codecs
            are then matched to the refined file's size.

    Returns:
        `Comparison`.

    Raises:
        S2LICError, ValueError: the image cannot be coded (mode, size, quality).
    """
    loaded = _loaded(settings)
    planes: Planes = to_planes(image)
    original = planes.rgb
    shape = original.shape
    steps = 2 + len(codecs)
    report(
        0.0,
        f"encoding with {settings.model}"
        + (f", refining its latent ({refine} steps)" if refine else ""),
    )

    def refining(step: int, total: int) -> None:
        report(step / total / steps, f"refining s2lic's latent: step {step} of {total}")

    enc = encode(
        planes,
        quality=quality,
        bpp=bpp,
        model=settings.model,
        device=settings.device,
        refine=refine,
        on_refine_step=refining,
    )
    report(1 / steps, f"decoding with {settings.model}")
    dec = decode(enc.data, device=settings.device)
    s2lic_rgb = to_planes(dec.image).rgb
    results = [
        CodecResult(
            "s2lic",
            "s2lic",
            f"s2lic ({settings.model}" + (f", refined x{refine})" if refine else ")"),
            enc.data,
            s2lic_rgb,
            f"{enc.quality:.3f}",
            enc.seconds,
            dec.seconds,
            *_measure(original, s2lic_rgb),
        )
    ]
    skipped = []
    for i, key in enumerate(codecs):
        codec = get_classical(key)
        name = _SHORT_NAMES.get(key, codec.label)
        reason = codec.unavailable()
        if reason is not None:
            skipped.append(f"{name}: {reason}")
            continue
        report((2 + i) / steps, f"encoding {name} to {len(enc.data):,} bytes")
        try:
            m = match_classical(codec, original, len(enc.data))
        except CodecUnavailableError as e:
            skipped.append(f"{name}: {e}")
            continue
        pixels, seconds = _decode_classical(key, m.data, shape)
        results.append(
            CodecResult(
                key,
                name,
                codec.label,
                m.data,
                pixels,
                _format_quality(m.quality),
                m.seconds,
                seconds,
                *_measure(original, pixels),
                match=m,
            )
        )
    report(1.0, "done")
    return Comparison(
        stem=stem,
        original=original,
        results=tuple(results),
        s2lic_image=dec.image,
        model=settings.model,
        trained=loaded.trained,
        skipped=tuple(skipped),
        refine=refine,
    )


def _format_quality(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


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
    factor: int = _ZOOM_FACTOR,
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


def _workdir(settings: DemoSettings) -> Path:
    # `build_app` always sets one; direct callers without get a shared default.
    return settings.workdir or Path(tempfile.gettempdir()) / "s2lic-web"


def _prune(workdir: Path) -> None:
    # Downloads of old requests; Gradio keeps its own copies only as long as needed.
    cutoff = time.time() - _RESULTS_MAX_AGE_S
    for child in workdir.iterdir():
        with contextlib.suppress(OSError):
            if child.is_dir() and child.stat().st_mtime < cutoff:
                shutil.rmtree(child, ignore_errors=True)


def _request_folder(workdir: Path) -> Path:
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
    folder = _request_folder(workdir)
    s2lic_path = folder / f"{comparison.stem}.s2lic"
    s2lic_path.write_bytes(comparison.s2lic.data)
    png_path = folder / f"{comparison.stem}.s2lic.png"
    comparison.s2lic_image.save(png_path, format="PNG")
    return s2lic_path, png_path


def decode_upload(path: str | Path | None, settings: DemoSettings) -> DecodedFile:
    """Verify and decode an uploaded `.s2lic` file.

    Args:
        path: the uploaded file (None when nothing is uploaded).
        settings: the device and pixel limit.

    Returns:
        `DecodedFile`.

    Raises:
        S2LICError: nothing uploaded, not an `.s2lic` file (an image gets a hint),
            truncated or corrupted, other weights, or above the pixel limit.
    """
    if path is None or not str(path):
        raise ImageError("upload an .s2lic file first")
    path = Path(path)
    if not _is_s2lic(path):
        hint = ""
        with contextlib.suppress(S2LICError, OSError, ValueError):
            load_image(path, settings.max_pixels)
            hint = ": it is an image, compress it in the 'Compress' tab"
        raise S2LICError(f"'{path.name}' is not an .s2lic file{hint}")
    header = describe(path)
    header["file"] = path.name
    dec = decode(
        path.read_bytes(),
        device=settings.device,
        limits=Limits(max_pixels=settings.max_pixels),
    )
    return DecodedFile(header=header, image=dec.image, seconds=dec.seconds)


def _code(name: str) -> str:
    """A user's file name as Markdown code that cannot break a table or span."""
    return "`" + name.replace("`", "'").replace("|", "\\|") + "`"


def _header_markdown(info: dict[str, Any], seconds: float) -> str:
    pixels = info["width"] * info["height"]
    rows = [
        ("file", _code(info["file"])),
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
        ("total", f"{info['bytes']:,} bytes"),
        ("bpp", f"{info['bpp']:.4f}"),
        ("decoded in", f"{1000 * seconds:.0f} ms"),
    ]
    return "| field | value |\n|---|---|\n" + "\n".join(
        f"| {k} | {v} |" for k, v in rows
    )


# --------------------------------------------------------------------------------------
# Gradio handlers: plain functions in, page updates out, failures as messages


def _one_line(exc: BaseException, path: str | Path | None = None) -> str:
    text = str(exc) or type(exc).__name__
    if path is not None:
        # Uploads live under Gradio's cache folder; the user knows the file's name.
        text = text.replace(str(path), Path(path).name)
    return _CLI_HINT.sub("", " ".join(text.split()))


def _friendly(title: str) -> Callable[[_F], _F]:
    """Turn every exception of a handler into a `gr.Error` shown in the page."""

    def wrap(fn: _F) -> _F:
        @functools.wraps(fn)
        def handler(*args: Any, **kwargs: Any) -> Any:
            path = args[0] if args and isinstance(args[0], str | Path) else None
            try:
                return fn(*args, **kwargs)
            except gr.Error:
                raise
            except (S2LICError, ValueError, OSError) as e:
                raise gr.Error(
                    _one_line(e, path), title=title, print_exception=False
                ) from None
            except MemoryError:
                raise gr.Error(
                    "out of memory: try a smaller image", title=title
                ) from None
            except Exception as e:  # the last resort: the server stays up
                log.exception("%s failed", title)
                raise gr.Error(
                    f"internal error: {type(e).__name__}: {_one_line(e, path)}",
                    title=title,
                    print_exception=False,
                ) from None

        return handler  # type: ignore[return-value]

    return wrap


def _reporter(progress: gr.Progress | None) -> Report:
    """`compare`'s progress callback on top of Gradio's progress bar."""
    if progress is None:
        return _no_report

    def report(fraction: float, message: str) -> None:
        progress(fraction, desc=message)

    return report


@_friendly("Cannot read this file")
def on_upload(path: str | None, settings: DemoSettings) -> tuple[Any, str]:
    """A new upload: show it (or clear the page when the upload was removed).

    Returns:
        The preview image and a one-line description.
    """
    if path is None:
        return None, ""
    image = load_upload(path, settings.max_pixels)
    w, h = image.size
    return (
        to_planes(image).rgb,
        f"{_code(Path(path).name)}: {w}x{h} ({w * h:,} pixels), mode {image.mode}",
    )


def _status(comparison: Comparison) -> str:
    s = comparison.s2lic
    others = [r.name for r in comparison.results[1:]]
    lines = [
        f"{_code(comparison.stem)} with {comparison.model}: {s.size:,} bytes "
        f"({8 * s.size / comparison.pixels:.4f} bpp) at quality {s.quality}"
        + (
            f" with {comparison.refine} steps of encoder-side refinement"
            if comparison.refine
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


def _refine_steps(value: float | None, limit: int) -> int:
    """The refinement steps a request asked for (a slider sends a float)."""
    steps = 0 if value is None else value
    if not (
        isinstance(steps, int | float)
        and math.isfinite(steps)
        and steps == int(steps)
        and steps >= 0
    ):
        raise ValueError(f"refinement steps must be a whole number >= 0, got {value}")
    if steps > limit:
        raise ValueError(f"at most {limit} refinement steps on this server")
    return int(steps)


@_friendly("Cannot compress")
def on_compress(
    path: str | None,
    rate_mode: str,
    quality: float,
    bpp: float | None,
    codecs: Sequence[str],
    settings: DemoSettings,
    progress: gr.Progress | None = None,
    center: tuple[float, float] | None = None,
    refine: float = 0,
) -> dict[str, Any]:
    """Compress an upload and build every output of the results area.

    Args:
        path: the uploaded file.
        rate_mode: "quality" or "target bpp".
        quality: s2lic quality, for "quality".
        bpp: bits per pixel, for "target bpp".
        codecs: the classical codecs to compare with.
        settings: model, device, limits.
        progress: Gradio's progress bar.
        center: (x, y) of the zoomed area (the image centre if None).
        refine: encoder-side refinement steps, 0 to ``settings.max_refine``.

    Returns:
        A dict with ``comparison``, ``slider``, ``rows``, ``status``, ``s2lic_path``,
        ``png_path``, ``crops`` and ``marked`` (the original with the zoomed area
        outlined).
    """
    steps = _refine_steps(refine, settings.max_refine)
    image = load_upload(path, settings.max_pixels)
    if rate_mode == "target bpp":
        if bpp is None or not (isinstance(bpp, int | float) and bpp > 0):
            raise ValueError("the target bpp must be a positive number")
        kwargs: dict[str, float | None] = {"bpp": float(bpp)}
    else:
        kwargs = {"quality": float(quality) if quality is not None else None}
    stem = Path(str(path)).stem or "image"
    comparison = compare(
        image,
        settings,
        codecs=list(codecs),
        stem=stem,
        report=_reporter(progress),
        refine=steps,
        **kwargs,
    )
    s2lic_path, png_path = save_downloads(comparison, _workdir(settings))
    return {
        "comparison": comparison,
        "slider": view_pair(comparison, ORIGINAL, "s2lic"),
        "rows": table_rows(comparison),
        "status": _status(comparison),
        "s2lic_path": s2lic_path,
        "png_path": png_path,
        "crops": zoom_crops(comparison, center),
        "marked": mark_zoom(comparison.original, center),
    }


@_friendly("Cannot zoom")
def on_zoom(
    comparison: Comparison | None, center: tuple[float, float] | None
) -> tuple[Any, Any]:
    """Crops around ``center`` for every codec, and the original with the square."""
    if comparison is None:
        raise ValueError("compress an image first; then click it to zoom")
    return zoom_crops(comparison, center), mark_zoom(comparison.original, center)


@_friendly("Cannot decode")
def on_decode(
    path: str | None, settings: DemoSettings, progress: gr.Progress | None = None
) -> tuple[str, Image.Image, Path]:
    """Decode an uploaded `.s2lic` file.

    Returns:
        The header as Markdown, the decoded image and the path of its PNG.
    """
    if progress is not None:
        progress(0.0, desc="decoding")
    result = decode_upload(path, settings)
    folder = _request_folder(_workdir(settings))
    png = folder / f"{Path(str(path)).stem}.png"
    result.image.save(png, format="PNG")
    return _header_markdown(result.header, result.seconds), result.image, png


# --------------------------------------------------------------------------------------
# The page


_CSS: Final = """
#model-notice { border-left: 4px solid #e0a000; padding-left: 0.75em; }
#results-table table { font-variant-numeric: tabular-nums; }
"""

_INTRO: Final = """\
# s2lic: compress and compare

Upload an image (or pick the example), choose a quality or a target bpp and press
**Compress**. s2lic's result is compared with the original and with JPEG, WebP, AVIF
and JPEG XL encoded to (nearly) the same number of bytes: drag the slider, pick the two
sides below it, and click the original to zoom into a detail of every codec.
"""


def _available_codecs() -> list[tuple[str, str]]:
    choices = []
    for key in _OFFERED_CODECS:
        if get_classical(key).unavailable() is None:
            choices.append((_SHORT_NAMES[key], key))
    return choices


@dataclass
class _CompressTab:
    """The components of the Compress tab that events read or write."""

    upload: gr.File
    upload_info: gr.Markdown
    rate_mode: gr.Radio
    quality: gr.Slider
    bpp: gr.Number
    refine: gr.Slider
    codecs: gr.CheckboxGroup
    run: gr.Button
    preview: gr.Image
    status: gr.Markdown
    slider: gr.ImageSlider
    left: gr.Dropdown
    right: gr.Dropdown
    table: gr.Dataframe
    download_s2lic: gr.DownloadButton
    download_png: gr.DownloadButton
    zoom: gr.Gallery
    comparison: gr.State
    center: gr.State


def _compress_tab(examples: list[Path], max_refine: int) -> _CompressTab:
    codec_choices = _available_codecs()
    with gr.Row():
        with gr.Column(scale=1, min_width=300):
            upload = gr.File(
                label="Image",
                file_count="single",
                type="filepath",
                elem_id="input-file",
            )
            gr.Examples(
                examples=[[str(p)] for p in examples], inputs=[upload], label="Example"
            )
            upload_info = gr.Markdown(elem_id="input-info")
            rate_mode = gr.Radio(
                ["quality", "target bpp"], value="quality", label="Rate control"
            )
            quality = gr.Slider(
                0.0, 1.0, value=DEFAULT_QUALITY, step=0.01, label="quality"
            )
            bpp = gr.Number(0.5, label="target bpp", minimum=0.001, visible=False)
            refine = gr.Slider(
                0,
                max(max_refine, 1),
                value=0,
                step=1,
                label="encoder effort: refinement steps (0 = off)",
                info="optimises s2lic's latent for the decoder: fewer bytes at the "
                "same quality, ~1.4 s per step for a 768x512 image on 2 CPU cores",
                visible=max_refine > 0,
                elem_id="refine",
            )
            codecs = gr.CheckboxGroup(
                codec_choices,
                value=[k for _, k in codec_choices if k in COMPARE_CODECS],
                label="Compare with (at the same file size)",
            )
            run = gr.Button("Compress", variant="primary", elem_id="compress")
        with gr.Column(scale=2, min_width=400):
            preview = gr.Image(
                label="Original: click to choose the zoomed area",
                type="numpy",
                format="png",
                interactive=False,
                elem_id="preview",
            )
            status = gr.Markdown(elem_id="status")
    slider = gr.ImageSlider(
        label="Compare (drag the handle)",
        type="numpy",
        format="png",
        interactive=False,
        max_height=700,
        elem_id="compare-slider",
    )
    with gr.Row():
        left = gr.Dropdown(
            [ORIGINAL], value=ORIGINAL, label="left side", elem_id="left"
        )
        right = gr.Dropdown(
            ["s2lic"], value="s2lic", label="right side", elem_id="right"
        )
    table = gr.Dataframe(
        headers=list(TABLE_HEADERS),
        datatype=_TABLE_TYPES,
        interactive=False,
        wrap=True,
        label="Results (complete files; PSNR-RGB; times on this server)",
        elem_id="results-table",
    )
    with gr.Row():
        download_s2lic = gr.DownloadButton(
            "Download .s2lic", visible=False, elem_id="download-s2lic"
        )
        download_png = gr.DownloadButton(
            "Download decoded PNG", visible=False, elem_id="download-png"
        )
    zoom = gr.Gallery(
        label=f"Zoom {_ZOOM_FACTOR}x (click the original above to move it)",
        columns=3,
        format="png",
        object_fit="contain",
        elem_id="zoom",
    )
    return _CompressTab(
        upload=upload,
        upload_info=upload_info,
        rate_mode=rate_mode,
        quality=quality,
        bpp=bpp,
        refine=refine,
        codecs=codecs,
        run=run,
        preview=preview,
        status=status,
        slider=slider,
        left=left,
        right=right,
        table=table,
        download_s2lic=download_s2lic,
        download_png=download_png,
        zoom=zoom,
        comparison=gr.State(None),
        center=gr.State(None),
    )


def _wire_upload(ui: _CompressTab, settings: DemoSettings) -> None:
    results = [
        ui.comparison,
        ui.preview,
        ui.upload_info,
        ui.status,
        ui.slider,
        ui.table,
        ui.download_s2lic,
        ui.download_png,
        ui.zoom,
    ]

    def clear_results() -> tuple[Any, ...]:
        hidden = gr.update(value=None, visible=False)
        return (None, None, "", "", None, None, hidden, hidden, None)

    def show_upload(path: str | None) -> tuple[Any, str]:
        return on_upload(path, settings)

    # Cleared first, so that an upload that fails to load leaves no stale results
    # of the previous image next to its error message.
    ui.upload.change(clear_results, outputs=results, queue=False).then(
        show_upload,
        inputs=[ui.upload],
        outputs=[ui.preview, ui.upload_info],
        concurrency_limit=2,
    )
    ui.rate_mode.change(
        lambda mode: (
            gr.update(visible=mode == "quality"),
            gr.update(visible=mode != "quality"),
        ),
        inputs=[ui.rate_mode],
        outputs=[ui.quality, ui.bpp],
        queue=False,
    )


def _wire_compress(ui: _CompressTab, settings: DemoSettings) -> None:
    def run_compress(
        path: str | None,
        mode: str,
        q: float,
        b: float | None,
        steps: float,
        chosen: list[str],
        center: tuple[float, float] | None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 - Gradio's idiom
    ) -> tuple[Any, ...]:
        out = on_compress(
            path, mode, q, b, chosen, settings, progress, center, refine=steps
        )
        comparison: Comparison = out["comparison"]
        names = comparison.names()
        return (
            comparison,
            out["slider"],
            gr.update(choices=names, value=ORIGINAL),
            gr.update(choices=names, value="s2lic"),
            out["rows"],
            out["status"],
            gr.update(
                value=str(out["s2lic_path"]),
                label=f"Download .s2lic ({comparison.s2lic.size:,} bytes)",
                visible=True,
            ),
            gr.update(value=str(out["png_path"]), visible=True),
            out["crops"],
            out["marked"],
        )

    ui.run.click(
        run_compress,
        inputs=[
            ui.upload,
            ui.rate_mode,
            ui.quality,
            ui.bpp,
            ui.refine,
            ui.codecs,
            ui.center,
        ],
        outputs=[
            ui.comparison,
            ui.slider,
            ui.left,
            ui.right,
            ui.table,
            ui.status,
            ui.download_s2lic,
            ui.download_png,
            ui.zoom,
            ui.preview,
        ],
        concurrency_limit=1,
        concurrency_id="codec",
    )

    def change_view(comparison: Comparison | None, a: str, b: str) -> Any:
        if comparison is None or not {a, b} <= set(comparison.names()):
            return gr.update()
        return view_pair(comparison, a, b)

    for side in (ui.left, ui.right):
        side.change(
            change_view,
            inputs=[ui.comparison, ui.left, ui.right],
            outputs=[ui.slider],
            concurrency_limit=4,
        )

    def select_zoom(
        comparison: Comparison | None, evt: gr.SelectData
    ) -> tuple[Any, Any, Any]:
        x, y = evt.index
        center = (float(x), float(y))
        if comparison is None:
            return gr.update(), gr.update(), center
        crops, marked = on_zoom(comparison, center)
        return crops, marked, center

    ui.preview.select(
        select_zoom,
        inputs=[ui.comparison],
        outputs=[ui.zoom, ui.preview, ui.center],
        concurrency_limit=4,
    )


def _decode_tab(settings: DemoSettings) -> None:
    with gr.Row():
        with gr.Column(scale=1, min_width=300):
            s2lic_file = gr.File(
                label=".s2lic file",
                file_count="single",
                type="filepath",
                elem_id="decode-file",
            )
            header = gr.Markdown(elem_id="decode-header")
            download = gr.DownloadButton(
                "Download PNG", visible=False, elem_id="download-decoded"
            )
        with gr.Column(scale=2):
            decoded = gr.Image(
                label="Decoded",
                type="pil",
                format="png",
                interactive=False,
                elem_id="decoded",
            )

    def run_decode(
        path: str | None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 - Gradio's idiom
    ) -> tuple[Any, Any, Any]:
        if path is None:
            return "", None, gr.update(visible=False)
        md, image, png = on_decode(path, settings, progress)
        return md, image, gr.update(value=str(png), visible=True)

    s2lic_file.change(
        lambda: ("", None, gr.update(visible=False)),
        outputs=[header, decoded, download],
        queue=False,
    ).then(
        run_decode,
        inputs=[s2lic_file],
        outputs=[header, decoded, download],
        concurrency_limit=1,
        concurrency_id="codec",
    )


def build_app(settings: DemoSettings) -> gr.Blocks:
    """The page: a Compress tab and a Decode tab.

    The model is loaded here, so that a bad model or device fails before the server
    starts. Coding runs in Gradio's queue one job at a time (the events share the
    `concurrency_id` "codec"): a large image makes other requests wait their turn
    with their place in the queue shown; it does not freeze the page.

    Args:
        settings: model, device and limits.

    Returns:
        The Gradio app, ready for `launch`.
    """
    if settings.workdir is None:
        # In the system's temporary folder: Gradio serves downloads from there.
        settings = replace(settings, workdir=_temporary_folder("s2lic-web-"))
    notice = model_notice(settings)
    examples = example_paths()
    with gr.Blocks(
        title="s2lic demo", analytics_enabled=False, delete_cache=(1800, 3600)
    ) as demo:
        gr.Markdown(_INTRO)
        gr.Markdown(notice, elem_id="model-notice")
        with gr.Tab("Compress", id="compress-tab"):
            ui = _compress_tab(examples, settings.max_refine)
            _wire_upload(ui, settings)
            _wire_compress(ui, settings)
        with gr.Tab("Decode .s2lic", id="decode-tab"):
            _decode_tab(settings)
    demo.queue(max_size=32)
    return demo


def launch(
    demo: gr.Blocks,
    *,
    host: str = "127.0.0.1",
    port: int = 7860,
    prevent_thread_lock: bool = False,
    quiet: bool = False,
) -> None:
    """Serve the app (blocks until interrupted unless ``prevent_thread_lock``).

    Args:
        demo: from `build_app`.
        host: the interface to listen on.
        port: the TCP port.
        prevent_thread_lock: return at once and serve from a thread (tests).
        quiet: do not print the URL.

    Raises:
        OSError: the port is taken.
    """
    theme = gr.themes.Soft(
        # System fonts: the default theme would fetch Google Fonts from the browser.
        font=["ui-sans-serif", "system-ui", "sans-serif"],
        font_mono=["ui-monospace", "monospace"],
    )
    demo.launch(
        server_name=host,
        server_port=port,
        prevent_thread_lock=prevent_thread_lock,
        quiet=quiet,
        share=False,
        inbrowser=False,
        ssr_mode=False,
        show_error=True,
        max_file_size="64mb",
        footer_links=[],
        theme=theme,
        css=_CSS,
    )
