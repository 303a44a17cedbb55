"""What one request of the web demo computes, without Gradio.

`compare` codes an upload with s2lic and every classical codec at (nearly) the same
size, `decode_upload` verifies and decodes an uploaded `.s2lic` file; the dataclasses
hold the server's settings and the results. Every number comes from the same public
API as the CLI (`s2lic.codec.api`, `s2lic.codec.image`, `s2lic.codec.metrics`,
`s2lic.eval.classical`, `s2lic.eval.match`).
"""

from __future__ import annotations

import atexit
import contextlib
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from PIL import Image

from s2lic import decode, describe, encode, load
from s2lic.codec.image import ImageError, Planes, load_image, to_planes
from s2lic.codec.metrics import ms_ssim, psnr
from s2lic.codec.registry import DEFAULT_MODEL
from s2lic.codec.zoo import LoadedModel
from s2lic.entropy.bitstream import Limits, is_s2lic_file
from s2lic.entropy.errors import S2LICError
from s2lic.eval.classical import CodecUnavailableError, get_classical
from s2lic.eval.match import MatchResult, match_classical

__all__ = [
    "COMPARE_CODECS",
    "DEFAULT_WEB_MAX_EFFORT",
    "DEFAULT_WEB_MAX_PIXELS",
    "OFFERED_CODECS",
    "ORIGINAL",
    "SHORT_NAMES",
    "CodecResult",
    "Comparison",
    "DecodedFile",
    "DemoSettings",
    "Report",
    "U8Array",
    "compare",
    "decode_upload",
    "example_paths",
    "load_upload",
    "model_notice",
    "no_report",
    "temporary_folder",
]

U8Array = npt.NDArray[np.uint8]

DEFAULT_WEB_MAX_PIXELS: Final = 4_000_000
"""The demo's pixel limit: every upload is coded by five codecs, AVIF's slow encoder
several times, on a shared server; 4 MP keeps one request within about a minute."""

DEFAULT_WEB_MAX_EFFORT: Final = 2
"""The highest encoder effort level a request may ask for (`EFFORTS`): level 2 (20
refinement steps and a per-image FiLM update of the decoder) takes ~50 s for a 768x512
image on 2 CPU cores instead of ~1 s at level 0; the higher levels (~100 s and ~5 min)
take too long for a shared demo server, where requests wait for one another
(docs/effort.md)."""

COMPARE_CODECS: Final = ("jpeg", "webp", "avif", "jxl")
"""The classical codecs compared by default (HEIC can be ticked in the page)."""

OFFERED_CODECS: Final = ("jpeg", "webp", "avif", "jxl", "heic")
SHORT_NAMES: Final = {
    "jpeg": "JPEG",
    "webp": "WebP",
    "avif": "AVIF",
    "jxl": "JPEG XL",
    "heic": "HEIC",
}
ORIGINAL: Final = "Original"
"""The name of the uncompressed image in the view and zoom choices."""

_EXAMPLES_PACKAGE: Final = "s2lic.web"


@dataclass(frozen=True)
class DemoSettings:
    """What a server instance runs with (from the ``s2lic web`` command line).

    Attributes:
        model: the s2lic model (registry name).
        device: torch device of the model.
        max_pixels: the largest image accepted, in pixels.
        max_effort: the highest encoder effort level a request may ask for, 0 to
            `MAX_EFFORT` (0 hides the control).
        workdir: where the download files are written: a fresh temporary folder if
            None. Gradio serves files only from the system's temporary folder and
            the working directory.
    """

    model: str = DEFAULT_MODEL
    device: str = "cpu"
    max_pixels: int = DEFAULT_WEB_MAX_PIXELS
    max_effort: int = DEFAULT_WEB_MAX_EFFORT
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
        effort: the encoder effort level of s2lic's file (0 = plain).
    """

    stem: str
    original: U8Array = field(repr=False)
    results: tuple[CodecResult, ...]
    s2lic_image: Image.Image = field(repr=False)
    model: str
    trained: bool
    skipped: tuple[str, ...] = ()
    effort: int = 0

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


def temporary_folder(prefix: str) -> Path:
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
    folder = temporary_folder("s2lic-web-examples-")
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
    return load(settings.model, settings.device)  # cached: the one that encodes


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
    if is_s2lic_file(path):
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


def no_report(fraction: float, message: str) -> None:
    pass


def _format_quality(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def compare(
    image: Image.Image,
    settings: DemoSettings,
    *,
    quality: float | None = None,
    bpp: float | None = None,
    codecs: Sequence[str] = COMPARE_CODECS,
    stem: str = "image",
    report: Report = no_report,
    effort: int = 0,
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
        effort: s2lic's encoder effort level, 0 (plain) to `MAX_EFFORT`
            (`s2lic.codec.adapt.levels.EFFORTS`): fewer bytes at the same quality
            for a slower encoding; the classical codecs are matched to the size of
            the file this level makes.

    Returns:
        `Comparison`.

    Raises:
        S2LICError, ValueError: the image cannot be coded (mode, size, quality,
            effort level).
    """
    loaded = _loaded(settings)
    planes: Planes = to_planes(image)
    original = planes.rgb
    shape = original.shape
    steps = 2 + len(codecs)
    report(
        0.0,
        f"encoding with {settings.model}"
        + (f" at encoder effort {effort}" if effort else ""),
    )

    def refining(step: int, total: int) -> None:
        report(
            step / total / steps,
            f"encoder effort {effort}: refinement step {step} of {total}",
        )

    enc = encode(
        planes,
        quality=quality,
        bpp=bpp,
        model=settings.model,
        device=settings.device,
        effort=effort,
        on_refine_step=refining,
    )
    report(1 / steps, f"decoding with {settings.model}")
    dec = decode(enc.data, device=settings.device)
    s2lic_rgb = to_planes(dec.image).rgb
    results = [
        CodecResult(
            "s2lic",
            "s2lic",
            f"s2lic ({settings.model}{f', effort {effort}' if effort else ''})",
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
        name = SHORT_NAMES.get(key, codec.label)
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
        effort=effort,
    )


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
    if not is_s2lic_file(path):
        hint = ""
        with contextlib.suppress(S2LICError, OSError, ValueError):
            load_image(path, settings.max_pixels)
            hint = ": it is an image, compress it in the 'Compress' tab"
        raise S2LICError(f"'{path.name}' is not an .s2lic file{hint}")
    data = path.read_bytes()
    header = {"file": path.name, **describe(data)}
    dec = decode(
        data,
        device=settings.device,
        limits=Limits(max_pixels=settings.max_pixels),
    )
    return DecodedFile(header=header, image=dec.image, seconds=dec.seconds)
