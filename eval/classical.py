"""Classical image codecs through maintained libraries, for rate-distortion comparisons.

Every codec is one frozen `ClassicalCodec` in `CODECS`: its name, a label for plots,
one line with its exact settings, a default quality grid, and how to encode an 8-bit
RGB array into a complete file (whose length is the rate) and decode it again. All go
through Pillow's ``Image.save`` / ``Image.open``; what differs between codecs is data
(format name, save options as a function of the quality, the plugin or Pillow feature
it needs), held by a small backend object.

Third-party plugins (``pillow_jxl``, ``pillow_heif``) are imported only when a codec
is used or asked whether it is available, so a missing library makes that one codec
unavailable (`ClassicalCodec.unavailable` says why) and never breaks this module.

The settings were chosen for PSNR (the metric of the comparison) on Kodak; the
measurements behind them are in docs/results.md, section "Classical codecs: settings".
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import io
import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from s2lic.entropy.errors import S2LICError

__all__ = [
    "CODECS",
    "ClassicalCodec",
    "CodecUnavailableError",
    "UnknownCodecError",
    "get_classical",
    "list_classical",
]

_LOG = logging.getLogger(__name__)

U8Array = npt.NDArray[np.uint8]
_Options = dict[str, Any]


class UnknownCodecError(S2LICError, ValueError):
    """A classical codec name that is not in `CODECS`."""


class CodecUnavailableError(S2LICError, RuntimeError):
    """A classical codec whose library is missing was asked to encode or decode."""


# --------------------------------------------------------------------------------------
# Library access


@dataclass(frozen=True)
class _Plugin:
    """A third-party Pillow plugin, imported on first use."""

    module: str
    distribution: str
    register: str | None = None  # function of `module` that registers it with Pillow


@functools.cache
def _load_plugin(plugin: _Plugin) -> None:
    module = importlib.import_module(plugin.module)
    if plugin.register is not None:
        getattr(module, plugin.register)()


def _dist_version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _pillow_version(feature: str) -> str:
    from PIL import features

    try:
        return features.version(feature) or "unknown"
    except ValueError:  # a feature this Pillow does not know
        return "not available"


@dataclass(frozen=True)
class _PillowBackend:
    """How one codec is reached through Pillow.

    Attributes:
        format: Pillow's format name for ``Image.save`` and ``Image.open``.
        options: the ``Image.save`` keyword arguments for a quality value. It must
            build fresh dicts: some plugins (pillow_heif) write into them.
        quality_range: the closed interval of valid quality values.
        integer_quality: the library takes only integers.
        feature: a `PIL.features` name Pillow must be built with, if any.
        plugin: a third-party plugin to import first, if any.
        check: a further condition; returns a reason when it is not met.
        versions: the versions of the libraries involved, one line.
    """

    format: str
    options: Callable[[float], _Options]
    quality_range: tuple[float, float]
    integer_quality: bool
    versions: Callable[[], str]
    feature: str | None = None
    plugin: _Plugin | None = None
    check: Callable[[], str | None] | None = None

    def unavailable(self) -> str | None:
        return _unavailable(self)

    def save_options(self, quality: float) -> _Options:
        q = float(quality)
        lo, hi = self.quality_range
        if not (math.isfinite(q) and lo <= q <= hi):
            raise ValueError(f"quality {quality!r} is outside [{lo:g}, {hi:g}]")
        if self.integer_quality and not q.is_integer():
            raise ValueError(f"quality {quality!r} must be an integer for this codec")
        return self.options(int(q) if self.integer_quality else q)

    def encode(self, rgb: U8Array, quality: float) -> bytes:
        options = self.save_options(quality)
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, format=self.format, **options)
        return buf.getvalue()

    def decode(self, data: bytes) -> U8Array:
        with Image.open(io.BytesIO(data), formats=[self.format]) as im:
            im.load()
            if im.mode != "RGB":
                raise RuntimeError(f"{self.format} decoder returned mode {im.mode!r}")
            # A copy: Pillow's array view may be read-only.
            array = np.array(im, dtype=np.uint8)
            size = im.size
        if array.shape != (size[1], size[0], 3):
            raise RuntimeError(
                f"{self.format} decoder returned {array.shape} for a "
                f"{size[0]}x{size[1]} image"
            )
        return array


@functools.cache
def _unavailable(backend: _PillowBackend) -> str | None:
    from PIL import features

    if backend.feature is not None:
        # An older Pillow may not know the name at all (AVIF before 11.3);
        # `features.check` would warn about it.
        known = (*features.modules, *features.codecs, *features.features)
        if backend.feature not in known or not features.check(backend.feature):
            from PIL import __version__ as pillow_version

            return (
                f"Pillow {pillow_version} was built without {backend.feature!r} support"
            )
    if backend.plugin is not None:
        try:
            _load_plugin(backend.plugin)
        except ImportError as e:
            return f"{backend.plugin.distribution} is not installed ({e})"
    if backend.check is not None:
        return backend.check()
    return None


# --------------------------------------------------------------------------------------
# The codec type


@dataclass(frozen=True)
class ClassicalCodec:
    """A classical codec with its exact settings and default quality grid.

    Attributes:
        name: registry key, kebab-case ("jpeg", "jpeg-444", "webp", "jp2", "avif",
            "jxl", "heic").
        label: for plots and tables, e.g. "JPEG 4:2:0 (libjpeg-turbo)".
        settings: one line saying exactly how the codec is configured.
        qualities: the default quality grid, in the library's own quality parameter,
            from the fewest bytes to the most.
        higher_is_better_quality: True when a larger parameter gives more bytes
            (False for JPEG 2000's compression ratio).
    """

    name: str
    label: str
    settings: str
    qualities: tuple[float, ...]
    higher_is_better_quality: bool
    _backend: _PillowBackend = field(repr=False, compare=False)

    def unavailable(self) -> str | None:
        """None when the codec can be used, else a one-line reason."""
        return self._backend.unavailable()

    def version(self) -> str:
        """The versions of the libraries behind this codec, one line."""
        return self._backend.versions()

    def quality_range(self) -> tuple[float, float, bool]:
        """``(low, high, integer)``: the library's accepted quality values, and whether
        it takes integers only."""
        low, high = self._backend.quality_range
        return float(low), float(high), self._backend.integer_quality

    def _require(self) -> None:
        reason = self.unavailable()
        if reason is not None:
            raise CodecUnavailableError(f"codec {self.name!r} is unavailable: {reason}")

    def encode(self, rgb: U8Array, quality: float) -> bytes:
        """Encode an image into a complete file of the codec's format.

        Args:
            rgb: (H, W, 3) uint8 RGB image.
            quality: the library's quality parameter (see `qualities`).

        Returns:
            The file's bytes; their length is the rate.

        Raises:
            ValueError: `rgb` is not (H, W, 3) uint8, or `quality` is out of range or
                not an integer where the library needs one.
            CodecUnavailableError: the codec's library is missing.
        """
        if not (
            isinstance(rgb, np.ndarray)
            and rgb.dtype == np.uint8
            and rgb.ndim == 3
            and rgb.shape[2] == 3
            and rgb.size > 0
        ):
            raise ValueError(
                "expected a non-empty (H, W, 3) uint8 array, got "
                f"{getattr(rgb, 'shape', None)} {getattr(rgb, 'dtype', type(rgb))}"
            )
        self._require()
        data = self._backend.encode(rgb, quality)
        _LOG.debug("%s q=%g: %d bytes", self.name, quality, len(data))
        return data

    def decode(
        self, data: bytes, *, expected_shape: tuple[int, ...] | None = None
    ) -> U8Array:
        """Decode a file made by `encode`.

        Args:
            data: the file's bytes.
            expected_shape: if given, the (H, W, 3) the result must have (the shape
                of the original image).

        Returns:
            (H, W, 3) uint8 RGB image.

        Raises:
            RuntimeError: the decoder returned something other than 8-bit RGB of the
                size in the file's header, or not `expected_shape`.
            PIL.UnidentifiedImageError: `data` is not a file of this format.
            CodecUnavailableError: the codec's library is missing.
        """
        self._require()
        array = self._backend.decode(data)
        if expected_shape is not None and array.shape != tuple(expected_shape):
            raise RuntimeError(
                f"{self.name} decoded {array.shape}, expected {tuple(expected_shape)}"
            )
        return array


# --------------------------------------------------------------------------------------
# The codecs


_AVIF_SPEED = 2
_JXL_EFFORT = 9

# The option builders are module-level functions (no lambdas or closures) so that
# codecs pickle: the evaluation runner sends them to worker processes.


def _jpeg_options(q: float, *, subsampling: int) -> _Options:
    # Pillow's subsampling codes: 0 = 4:4:4, 2 = 4:2:0.
    return {"quality": q, "subsampling": subsampling, "optimize": True}


def _webp_options(q: float) -> _Options:
    return {"quality": q, "method": 6, "lossless": False}


def _jp2_options(q: float) -> _Options:
    # Pillow's defaults (reversible 5/3 wavelet, no colour transform) cost about
    # 2.3x the bytes at equal PSNR. quality_mode="dB" is honoured, but OpenJPEG's
    # rate allocation for it costs ~40 % more bytes than "rates" at equal PSNR.
    return {
        "irreversible": True,
        "mct": 1,
        "quality_mode": "rates",
        "quality_layers": [q],
    }


def _avif_options(q: float) -> _Options:
    return {
        "quality": q,
        "speed": _AVIF_SPEED,
        "subsampling": "4:4:4",
        "codec": "aom",
        "range": "full",
        "advanced": {"tune": "psnr"},
    }


def _jxl_options(q: float) -> _Options:
    return {
        "quality": q,
        "lossless": False,
        "effort": _JXL_EFFORT,
        "decoding_speed": 0,
        "use_container": False,
    }


def _heic_options(q: float) -> _Options:
    # pillow_heif adds "chroma" to enc_params: a fresh dict every call.
    return {
        "quality": q,
        "chroma": 444,
        "enc_params": {"preset": "slow", "tune": "psnr"},
    }


def _jpeg_versions() -> str:
    from PIL import __version__

    return f"Pillow {__version__}, libjpeg-turbo {_pillow_version('libjpeg_turbo')}"


def _webp_versions() -> str:
    from PIL import __version__

    return f"Pillow {__version__}, libwebp {_pillow_version('webp')}"


def _jp2_versions() -> str:
    from PIL import __version__

    return f"Pillow {__version__}, OpenJPEG {_pillow_version('jpg_2000')}"


def _avif_versions() -> str:
    from PIL import __version__

    text = f"Pillow {__version__}, libavif {_pillow_version('avif')}"
    try:
        from PIL import AvifImagePlugin
    except ImportError:
        return text
    aom = AvifImagePlugin.get_codec_version("aom") or "not available"
    dav1d = AvifImagePlugin.get_codec_version("dav1d") or "not available"
    return f"{text} (encoder aom {aom}, decoder dav1d {dav1d})"


def _avif_check() -> str | None:
    from PIL import _avif  # present: the "avif" feature was checked first

    if not _avif.encoder_codec_available("aom"):
        return "Pillow's libavif was built without the aom encoder (needed for tune)"
    return None


_JXL_TAG = re.compile(rb"jpegxl-rs-([0-9][0-9A-Za-z.\-]*)\+libjxl-([0-9][0-9.]*)")


@functools.cache
def _libjxl_version() -> str:
    # pillow_jxl links libjxl statically and exposes no version call; the version of
    # the vendored library is in the Rust crate's path compiled into the extension.
    try:
        import pillow_jxl
    except ImportError:
        return "not installed"
    from pathlib import Path

    for so in Path(pillow_jxl.__file__).parent.glob("pillow_jxl*.so"):
        match = _JXL_TAG.search(so.read_bytes())
        if match:
            return (
                f"{match.group(2).decode()} "
                f"(vendored by jpegxl-rs {match.group(1).decode()})"
            )
    return "unknown"


def _jxl_versions() -> str:
    from PIL import __version__

    return (
        f"Pillow {__version__}, pillow-jxl-plugin "
        f"{_dist_version('pillow-jxl-plugin')}, libjxl {_libjxl_version()}"
    )


def _heic_versions() -> str:
    from PIL import __version__

    try:
        import pillow_heif
    except ImportError:
        return f"Pillow {__version__}, pillow-heif not installed"
    info = pillow_heif.libheif_info()
    x265 = info.get("encoders", {}).get("x265", "x265 not available")
    de265 = info.get("decoders", {}).get("libde265", "libde265 not available")
    return (
        f"Pillow {__version__}, pillow-heif {pillow_heif.__version__}, "
        f"libheif {pillow_heif.libheif_version()} ({x265}; {de265})"
    )


def _heic_check() -> str | None:
    import pillow_heif

    if "x265" not in pillow_heif.libheif_info().get("encoders", {}):
        return "pillow-heif's libheif has no x265 encoder"
    return None


def _jpeg(name: str, sampling: str, subsampling: int) -> ClassicalCodec:
    """Pillow's libjpeg-turbo JPEG with the chroma `sampling` ("4:2:0", "4:4:4")."""
    return ClassicalCodec(
        name=name,
        label=f"JPEG {sampling} (libjpeg-turbo)",
        settings=(
            f"Pillow JPEG: quality=q, subsampling={sampling}, optimize=True (optimal "
            "Huffman tables), baseline sequential (not progressive), standard "
            "(Annex K) quantisation tables scaled by q"
        ),
        qualities=(5, 10, 15, 20, 30, 40, 50, 60, 70, 80, 90),
        higher_is_better_quality=True,
        _backend=_PillowBackend(
            format="JPEG",
            options=functools.partial(_jpeg_options, subsampling=subsampling),
            quality_range=(1, 100),
            integer_quality=True,
            versions=_jpeg_versions,
            feature="jpg",
        ),
    )


_CODEC_LIST = (
    _jpeg("jpeg", "4:2:0", subsampling=2),
    _jpeg("jpeg-444", "4:4:4", subsampling=0),
    ClassicalCodec(
        name="webp",
        label="WebP (libwebp)",
        settings=(
            "Pillow WebP: lossy (VP8, 4:2:0), quality=q, method=6 (slowest, best); "
            "sharp YUV and the sns/filter options are not exposed by Pillow "
            "(libwebp defaults)"
        ),
        qualities=(0, 5, 10, 20, 30, 40, 50, 60, 70, 80, 85, 90),
        higher_is_better_quality=True,
        _backend=_PillowBackend(
            format="WEBP",
            options=_webp_options,
            quality_range=(0, 100),
            integer_quality=False,
            versions=_webp_versions,
            feature="webp",
        ),
    ),
    ClassicalCodec(
        name="jp2",
        label="JPEG 2000 (OpenJPEG, 9/7)",
        settings=(
            "Pillow JPEG 2000 (.jp2): irreversible=True (9/7 wavelet), mct=1 "
            "(irreversible colour transform), quality_mode='rates', "
            "quality_layers=[q] (q = compression ratio to 24 bpp, one layer), "
            "6 resolutions, 64x64 code blocks, no tiling"
        ),
        qualities=(240, 160, 120, 80, 60, 40, 30, 24, 16, 12),
        higher_is_better_quality=False,
        _backend=_PillowBackend(
            format="JPEG2000",
            options=_jp2_options,
            quality_range=(1, 10_000),
            integer_quality=False,
            versions=_jp2_versions,
            feature="jpg_2000",
        ),
    ),
    ClassicalCodec(
        name="avif",
        label="AVIF 4:4:4 (libavif + aom)",
        settings=(
            f"Pillow AVIF: codec='aom', quality=q, speed={_AVIF_SPEED}, "
            "subsampling=4:4:4, range=full, advanced={'tune': 'psnr'} (libavif's "
            "default with this aom is the perceptual tune=iq); default threads"
        ),
        qualities=(5, 15, 25, 35, 45, 55, 65, 75),
        higher_is_better_quality=True,
        _backend=_PillowBackend(
            format="AVIF",
            options=_avif_options,
            quality_range=(0, 100),
            integer_quality=True,
            versions=_avif_versions,
            feature="avif",
            check=_avif_check,
        ),
    ),
    ClassicalCodec(
        name="jxl",
        label="JPEG XL (libjxl)",
        settings=(
            f"pillow-jxl-plugin: lossy (VarDCT, XYB), quality=q (libjxl maps it to a "
            f"Butteraugli distance, 0 -> 25), effort={_JXL_EFFORT}, decoding_speed=0, "
            "bare codestream (no container)"
        ),
        qualities=(0, 10, 20, 30, 45, 60, 70, 80, 85, 90),
        higher_is_better_quality=True,
        _backend=_PillowBackend(
            format="JXL",
            options=_jxl_options,
            quality_range=(0, 100),
            integer_quality=False,
            versions=_jxl_versions,
            plugin=_Plugin("pillow_jxl", "pillow-jxl-plugin"),
        ),
    ),
    ClassicalCodec(
        name="heic",
        label="HEIC 4:4:4 (libheif + x265)",
        settings=(
            "pillow-heif HEIF: quality=q, chroma=444, enc_params={'preset': 'slow', "
            "'tune': 'psnr'} (libheif's default tune is ssim), 8 bit, BT.601 "
            "full-range YCbCr (libheif's default NCLX)"
        ),
        qualities=(5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55),
        higher_is_better_quality=True,
        _backend=_PillowBackend(
            format="HEIF",
            options=_heic_options,
            quality_range=(0, 100),
            integer_quality=True,
            versions=_heic_versions,
            plugin=_Plugin("pillow_heif", "pillow-heif", "register_heif_opener"),
            check=_heic_check,
        ),
    ),
)

CODECS: dict[str, ClassicalCodec] = {c.name: c for c in _CODEC_LIST}
"""All classical codecs by name, in presentation order."""


def list_classical() -> list[str]:
    """Names of all classical codecs (available or not), in presentation order."""
    return list(CODECS)


def get_classical(name: str) -> ClassicalCodec:
    """The classical codec called `name`.

    Raises:
        UnknownCodecError: (a `ValueError`) `name` is not registered; the message
            lists the choices.
    """
    try:
        return CODECS[name]
    except KeyError:
        raise UnknownCodecError(
            f"unknown classical codec {name!r}; choose from {', '.join(CODECS)}"
        ) from None
