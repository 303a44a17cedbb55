"""Reading user images into what the codec codes, and back.

The codec codes 8-bit RGB; everything else a user may hand us (grayscale, palettes,
alpha, 16-bit and float samples, CMYK, EXIF-rotated photos, animations) is mapped
onto an 8-bit RGB array, a `ColorMode` that says how to rebuild the image, and an
optional alpha plane (coded losslessly by `s2lic.codec.alpha`). RGB images with an
embedded colour profile other than sRGB (Display P3, Adobe RGB) are converted to sRGB
with littleCMS.

Pixel-count limits: Pillow's own decompression-bomb limit (`Image.MAX_IMAGE_PIXELS`)
is replaced by the caller's ``max_pixels`` only for the duration of `load_image`;
importing this module changes no global state.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import struct
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F
from PIL import Image, ImageCms, ImageFile, ImageOps, UnidentifiedImageError

from s2lic.entropy.bitstream import DEFAULT_MAX_PIXELS, ColorMode
from s2lic.entropy.errors import LimitError, S2LICError

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "ImageError",
    "ImageSource",
    "Planes",
    "crop",
    "from_planes",
    "load_image",
    "pad_to_multiple",
    "to_planes",
    "to_tensor",
    "to_uint8",
]

_LOG = logging.getLogger(__name__)


# An image file by path, or its bytes.
ImageSource = str | os.PathLike[str] | bytes
"""Default limit of `load_image` on width * height (40 MP)."""

U8Array = npt.NDArray[np.uint8]


class ImageError(S2LICError):
    """An input image cannot be read or converted, or an alpha stream is corrupted."""


# --------------------------------------------------------------------------------------
# Loading


# `Image.MAX_IMAGE_PIXELS` is a module global of Pillow; the lock keeps concurrent
# `load_image` calls from restoring each other's temporary value.
_PILLOW_LIMIT_LOCK = threading.RLock()

# Pillow reads these exceptions out of malformed or truncated image data.
_DECODE_ERRORS: Final = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    struct.error,
    zlib.error,
)

# 16-bit-per-sample PNG layouts that Pillow stores in 8-bit modes by keeping only the
# high byte of each sample (its `_MODES` table: LA;16B even becomes RGBA).
_PNG16_RAWMODES: Final = ("RGB;16B", "RGBA;16B", "LA;16B")

# Pillow's unpackers scale 2- and 4-bit gray samples to 0..255, but keep the tRNS
# colour key of those images in the file's scale.
_LOW_DEPTH_GRAY_SCALE: Final = {"L;2": 85, "L;4": 17}

# Raw modes with 16 bits per sample (not BMP's "BGR;16", which is 16 bits per pixel).
_WIDE_RAWMODE: Final = re.compile(r";16[BLN]$")


@contextlib.contextmanager
def _pillow_pixel_limit(limit: int | None) -> Iterator[None]:
    """Temporarily set Pillow's decompression-bomb limit (caller holds the lock)."""
    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = limit
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def load_image(
    path: ImageSource,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    *,
    name: str | None = None,
) -> Image.Image:
    """Read an image file completely into memory, upright and ready for `to_planes`.

    The size in the file's header is checked against ``max_pixels`` before any pixel
    data is decoded, so a small file that declares a huge image fails fast. Animated
    or multi-page files give their first frame (with a logged warning). The EXIF
    orientation is applied. 16-bit colour PNGs are reduced to 8 bits per sample here
    (``round(v / 257)``, with a logged warning) because Pillow has no 16-bit colour
    mode; 16-bit grayscale stays in Pillow's ``I;16`` mode for `to_planes`.

    Args:
        path: the image file, or its bytes (e.g. read from standard input).
        max_pixels: the largest accepted ``width * height``; this replaces Pillow's
            own decompression-bomb limit during the call.
        name: what messages call the image (default: the path, or ``<bytes>``).

    Returns:
        The decoded first frame, detached from the file (which is closed).

    Raises:
        ImageError: the file is missing, a directory, unreadable, not an image Pillow
            can open, or its data is corrupt or truncated.
        LimitError: the image has more than ``max_pixels`` pixels.
        ValueError: ``max_pixels`` is not positive.
    """
    if max_pixels < 1:
        raise ValueError(f"max_pixels must be positive, got {max_pixels}")
    if name is None:
        name = "<bytes>" if isinstance(path, bytes) else os.fsdecode(path)
    if not isinstance(path, bytes) and os.path.isdir(path):
        raise ImageError(f"cannot read '{name}': it is a directory, not an image file")
    with _PILLOW_LIMIT_LOCK:
        # Pillow's check at open time would fire before we know the size to report;
        # ours follows right after the header is parsed.
        with _pillow_pixel_limit(None):
            im = _open(path, name)
        # Pillow re-checks the sizes of frames and tiles while decoding; those stay
        # bounded by our limit.
        with im, _pillow_pixel_limit(max_pixels):
            _check_size(im.size, name, max_pixels)
            _warn_if_multiframe(im, name)
            img = _decode(im, path, name)
            return _to_srgb(_apply_orientation(img, name), name)


def _stream(source: ImageSource) -> str | os.PathLike[str] | io.BytesIO:
    """What `Image.open` takes: the path, or a new stream over the bytes."""
    return io.BytesIO(source) if isinstance(source, bytes) else source


def _open(path: ImageSource, name: str) -> ImageFile.ImageFile:
    """`Image.open` with every failure mapped to an `ImageError` naming the file."""
    try:
        return Image.open(_stream(path))
    except FileNotFoundError:
        raise ImageError(f"cannot read '{name}': no such file") from None
    except IsADirectoryError:
        raise ImageError(
            f"cannot read '{name}': it is a directory, not an image file"
        ) from None
    except PermissionError:
        raise ImageError(f"cannot read '{name}': permission denied") from None
    except UnidentifiedImageError:
        if _is_empty(path):
            raise ImageError(f"cannot read '{name}': the file is empty") from None
        raise ImageError(
            f"cannot read '{name}': not an image Pillow can open"
        ) from None
    except Image.DecompressionBombError as e:
        # Only plugins that check sizes beyond the header get here.
        raise LimitError(f"'{name}' is too large to decode safely: {e}") from None
    except _DECODE_ERRORS as e:
        detail = e.strerror if isinstance(e, OSError) and e.strerror else e
        raise ImageError(f"cannot read '{name}': {detail}") from None


def _is_empty(source: ImageSource) -> bool:
    if isinstance(source, bytes):
        return not source
    try:
        return os.path.getsize(source) == 0
    except OSError:
        return False


def _check_size(size: tuple[int, int], name: str, max_pixels: int) -> None:
    width, height = size
    if width < 1 or height < 1:
        raise ImageError(f"cannot read '{name}': it has no pixels ({width}x{height})")
    pixels = width * height
    if pixels > max_pixels:
        raise LimitError(
            f"'{name}' has {width}x{height} = {pixels / 1e6:.1f} MP, above the limit "
            f"of {max_pixels / 1e6:.1f} MP (use --max-pixels)"
        )


def _warn_if_multiframe(im: Image.Image, name: str) -> None:
    # `is_animated` stops at the second frame; `n_frames` may walk the whole file.
    if not getattr(im, "is_animated", False):
        return
    try:
        frames = im.n_frames
        im.seek(0)
    except Image.DecompressionBombError as e:
        raise LimitError(f"'{name}' is too large to decode safely: {e}") from None
    except _DECODE_ERRORS as e:
        raise ImageError(
            f"cannot read '{name}': its frames are corrupt or truncated ({e})"
        ) from None
    _LOG.warning("'%s' has %d frames; only the first one is coded", name, frames)


def _tile_rawmode(im: Image.Image) -> str | None:
    """The raw sample layout of the file's (single) tile, if Pillow exposes it."""
    tile = getattr(im, "tile", None)
    if not tile or len(tile) != 1:
        return None
    args = tile[0][3]
    if isinstance(args, tuple) and args:
        args = args[0]
    return args if isinstance(args, str) else None


def _decode(im: ImageFile.ImageFile, path: ImageSource, name: str) -> Image.Image:
    """Decode the current frame; 16-bit colour PNGs come back as 8-bit images."""
    rawmode = _tile_rawmode(im)
    try:
        im.load()
    except Image.DecompressionBombError as e:
        raise LimitError(f"'{name}' is too large to decode safely: {e}") from None
    except _DECODE_ERRORS as e:
        raise ImageError(
            f"cannot read '{name}': its image data is corrupt or truncated ({e})"
        ) from None
    key = im.info.get("transparency")
    scale = _LOW_DEPTH_GRAY_SCALE.get(rawmode or "")
    # A key above 255 // scale is already in the 0..255 scale (were Pillow fixed).
    if im.format == "PNG" and scale and isinstance(key, int) and key <= 255 // scale:
        im.info["transparency"] = key * scale
    if im.format == "PNG" and rawmode in _PNG16_RAWMODES:
        _LOG.warning(
            "'%s' has 16-bit samples; precision reduced to 8 bits per sample", name
        )
        return _png16_to_8bit(im, path, rawmode)
    if (
        rawmode is not None
        and _WIDE_RAWMODE.search(rawmode)
        and im.mode in ("RGB", "RGBA")
    ):
        # Other formats (TIFF, PPM) with 16-bit colour: Pillow keeps the high byte.
        _LOG.warning(
            "'%s' has 16-bit samples; precision reduced to 8 bits per sample", name
        )
    return im


def _png16_to_8bit(
    im: ImageFile.ImageFile, path: ImageSource, rawmode: str
) -> Image.Image:
    """Rebuild a 16-bit colour PNG at 8 bits with ``round(v / 257)`` per sample.

    Pillow keeps only the high byte (``v >> 8``, which differs from 8-bit
    quantisation of the same image); the low bytes are recovered by decoding the
    file a second time with a raw mode of the same bit layout that unpacks them.
    This relies on Pillow's tile machinery, so any failure falls back to the high
    bytes Pillow already decoded.
    """
    hi = np.asarray(im)
    has_alpha = rawmode != "RGB;16B"
    channels = 1 if rawmode == "LA;16B" else 3
    try:
        if rawmode == "LA;16B":
            # 32 bits per pixel as "RGBA" gives gray-hi, gray-lo, alpha-hi, alpha-lo.
            raw = _decode_again(path, "RGBA", im.size).astype(np.uint16)
            wide = np.stack([raw[..., 0], raw[..., 2]], axis=-1) << 8
            wide |= np.stack([raw[..., 1], raw[..., 3]], axis=-1)
        else:
            lo = _decode_again(path, rawmode.replace(";16B", ";16L"), im.size)
            if lo.shape != hi.shape:
                raise ValueError(f"low bytes decoded as {lo.shape}, not {hi.shape}")
            wide = (hi.astype(np.uint16) << 8) | lo
        key = im.info.get("transparency")
    # Best effort over Pillow internals (tile layout, raw modes), see above.
    except (*_DECODE_ERRORS, TypeError, AttributeError, KeyError) as e:
        _LOG.debug("exact 16-bit decode failed (%r); keeping Pillow's high bytes", e)
        if rawmode == "LA;16B":
            hi = hi[..., [0, 3]]
        wide = hi.astype(np.uint16) * 257
        key = im.info.get("transparency")
        if isinstance(key, tuple):
            key = tuple((int(k) >> 8) * 257 for k in key)
    narrow = ((wide.astype(np.uint32) + 128) // 257).astype(np.uint8)
    color, alpha = narrow[..., :channels], narrow[..., channels:]
    if not has_alpha and isinstance(key, tuple) and len(key) == 3:
        # tRNS colour key of a 48-bit PNG, compared at full precision.
        hit = np.all(wide == np.asarray(key, dtype=np.uint16), axis=-1)
        alpha = np.where(hit, 0, 255).astype(np.uint8)[..., None]
        has_alpha = True
    if channels == 1:
        mode = "LA"
        out = Image.merge(
            "LA", [Image.fromarray(color[..., 0]), Image.fromarray(alpha[..., 0])]
        )
    else:
        mode = "RGBA" if has_alpha else "RGB"
        pixels = np.concatenate([color, alpha], axis=-1) if has_alpha else color
        out = Image.fromarray(np.ascontiguousarray(pixels))
    assert out.mode == mode
    # Keep EXIF/XMP for the orientation; the key is applied and must not be again.
    out.info = {k: v for k, v in im.info.items() if k != "transparency"}
    return out


def _decode_again(path: ImageSource, rawmode: str, size: tuple[int, int]) -> U8Array:
    with Image.open(_stream(path)) as again:
        if again.size != size or len(again.tile) != 1:
            raise ValueError("the file changed between two reads")
        decoder, extents, offset, _ = again.tile[0]
        again.tile = [(decoder, extents, offset, rawmode)]  # type: ignore[list-item]
        again.load()
        return np.asarray(again)


def _srgb() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


# Colours that tell an sRGB-equivalent profile (any sRGB variant) from another: a
# 6x6x6 grid of the RGB cube.
_PROBE: Final = np.stack(
    np.meshgrid(*[np.linspace(0, 255, 6, dtype=np.uint8)] * 3, indexing="ij"), -1
).reshape(1, -1, 3)


def _to_srgb(img: Image.Image, name: str) -> Image.Image:
    """Colour-convert an RGB(A) image with an embedded non-sRGB ICC profile to sRGB.

    The codec, its training photographs and every viewer of a decoded PNG without a
    profile assume sRGB: a Display P3 or Adobe RGB photo coded as its raw values
    would decode with dull or shifted colours. Profiles that map every probe colour
    to within 1 of itself count as sRGB and are left alone (no rounding noise).
    An unreadable profile is ignored with a warning. Other modes are unchanged.
    """
    icc = img.info.get("icc_profile")
    if not icc or img.mode not in ("RGB", "RGBA"):
        return img
    try:
        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if src.profile.xcolor_space.strip() != "RGB":
            raise ValueError(f"a {src.profile.xcolor_space.strip()} profile")
        srgb = _srgb()
        to_srgb = ImageCms.buildTransform(src, srgb, "RGB", "RGB")
        mapped = ImageCms.applyTransform(Image.fromarray(_PROBE), to_srgb)
        assert mapped is not None
        diff = np.abs(np.asarray(mapped, dtype=np.int16) - _PROBE).max()
        if diff <= 1:
            return img
        if img.mode != "RGB":
            to_srgb = ImageCms.buildTransform(src, srgb, img.mode, img.mode)
        out = ImageCms.applyTransform(img, to_srgb)
        assert out is not None
        description = ImageCms.getProfileDescription(src).strip() or "unnamed"
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError) as e:
        _LOG.warning(
            "'%s' has an unusable colour profile (%s); its colours are taken as sRGB",
            name,
            e,
        )
        return img
    _LOG.warning(
        "'%s' has the colour profile '%s': converted to sRGB, the codec's colour space",
        name,
        description,
    )
    out.info = {k: v for k, v in img.info.items() if k != "icc_profile"}
    return out


def _apply_orientation(img: Image.Image, name: str) -> Image.Image:
    """Apply the EXIF orientation; always returns an image detached from the file."""
    try:
        return ImageOps.exif_transpose(img)
    except (*_DECODE_ERRORS, KeyError, TypeError) as e:
        _LOG.warning("'%s' has unreadable EXIF data (%s); orientation ignored", name, e)
        return img.copy()


# --------------------------------------------------------------------------------------
# Planes


@dataclass(frozen=True, eq=False)
class Planes:
    """What the codec codes for one image.

    Attributes:
        rgb: (H, W, 3) uint8; for grayscale modes the gray value in all 3 channels.
        mode: how to rebuild the image: L and LA keep one channel, LA and RGBA add
            `alpha`.
        alpha: (H, W) uint8 for LA and RGBA, None for L and RGB.
    """

    rgb: U8Array
    mode: ColorMode
    alpha: U8Array | None = None

    def __post_init__(self) -> None:
        rgb, alpha = self.rgb, self.alpha
        if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8:
            raise TypeError("Planes.rgb must be a uint8 numpy array")
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.shape[0] < 1 or rgb.shape[1] < 1:
            raise ValueError(f"Planes.rgb must have shape (H, W, 3), got {rgb.shape}")
        mode = ColorMode(self.mode)
        object.__setattr__(self, "mode", mode)
        has_alpha = mode in (ColorMode.LA, ColorMode.RGBA)
        if not has_alpha:
            if alpha is not None:
                raise ValueError(f"mode {mode.name} has no alpha plane")
            return
        if alpha is None:
            raise ValueError(f"mode {mode.name} needs an alpha plane")
        if not isinstance(alpha, np.ndarray) or alpha.dtype != np.uint8:
            raise TypeError("Planes.alpha must be a uint8 numpy array")
        if alpha.shape != rgb.shape[:2]:
            raise ValueError(
                f"Planes.alpha has shape {alpha.shape}, expected {rgb.shape[:2]}"
            )

    @property
    def height(self) -> int:
        """Image height in pixels."""
        return int(self.rgb.shape[0])

    @property
    def width(self) -> int:
        """Image width in pixels."""
        return int(self.rgb.shape[1])


_WIDE_GRAY_MODES: Final = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")


def to_planes(img: Image.Image) -> Planes:
    """Map a Pillow image onto 8-bit RGB, a `ColorMode` and an optional alpha plane.

    Mode mapping:

    - ``1``, ``L`` -> L; ``LA``, ``La`` (un-premultiplied) -> LA.
    - ``RGB`` -> RGB; ``RGBA``, ``RGBa`` (un-premultiplied), ``PA`` -> RGBA.
    - ``P`` -> RGBA if it has transparency, else RGB.
    - ``I;16*`` -> L with ``round(v / 257)``; ``I`` is taken as 16-bit too (values
      clipped to 0..65535); ``F`` is in 0..255 like Pillow's ``F``->``L``
      conversion, unless all samples lie in [0, 1], which is taken as normalised
      float data. These log a warning that precision was reduced to 8 bits.
    - Anything else (``CMYK``, ``YCbCr``, ``LAB``, ``HSV``, ``RGBX``, ...) -> RGB
      through Pillow's conversion (no colour management: only RGB(A) profiles are
      applied, by `load_image`).

    A colour-key transparency (``info["transparency"]`` of ``1``/``L``/``I;16``/
    ``RGB`` images, e.g. a PNG tRNS chunk) becomes an alpha plane. An alpha plane is
    kept even if it is fully opaque.

    Args:
        img: a loaded image, e.g. from `load_image`.

    Returns:
        The planes; the arrays are fresh copies owned by the result.

    Raises:
        ImageError: the mode cannot be converted, or float samples are not finite.
    """
    mode = img.mode
    key = img.info.get("transparency")
    if mode in _WIDE_GRAY_MODES:
        raw = np.asarray(img)
        gray = _wide_gray_to_8bit(raw, mode)
        return _gray_planes(gray, _key_alpha(raw, key, mode))
    if mode in ("1", "L"):
        gray = np.array(img.convert("L") if mode == "1" else img)
        return _gray_planes(gray, _key_alpha(gray, key, mode))
    if mode in ("LA", "La"):
        la = np.array(img.convert("LA") if mode == "La" else img)
        return _gray_planes(la[..., 0], la[..., 1])
    if mode == "RGB":
        rgb = np.array(img)
        alpha = _key_alpha(rgb, key, mode)
        return Planes(rgb, ColorMode.RGB if alpha is None else ColorMode.RGBA, alpha)
    if mode == "P":
        has_alpha = key is not None or (
            img.palette is not None and img.palette.mode == "RGBA"
        )
        return to_planes(img.convert("RGBA" if has_alpha else "RGB"))
    if mode in ("RGBA", "RGBa", "PA"):
        rgba = np.array(img.convert("RGBA") if mode != "RGBA" else img)
        return Planes(
            np.ascontiguousarray(rgba[..., :3]),
            ColorMode.RGBA,
            np.ascontiguousarray(rgba[..., 3]),
        )
    try:
        rgb = np.array(img.convert("RGB"))
    except ValueError as e:
        raise ImageError(
            f"cannot convert an image of mode {mode} to RGB ({e})"
        ) from None
    return Planes(rgb, ColorMode.RGB)


def _gray_planes(gray: U8Array, alpha: U8Array | None) -> Planes:
    rgb = np.repeat(gray[..., None], 3, axis=2)
    if alpha is None:
        return Planes(rgb, ColorMode.L)
    return Planes(rgb, ColorMode.LA, np.ascontiguousarray(alpha))


def _wide_gray_to_8bit(raw: np.ndarray, mode: str) -> U8Array:
    """16-bit, 32-bit integer or float gray samples -> 8 bits, with a warning."""
    if mode == "F":
        values = np.nan_to_num(raw.astype(np.float64), nan=0.0)
        if not np.isfinite(raw).all():
            _LOG.warning("float image has NaN or infinite samples; they are clipped")
        if values.size and values.min() >= 0.0 and values.max() <= 1.0:
            values = values * 255.0
        out = np.rint(np.clip(values, 0.0, 255.0)).astype(np.uint8)
        _LOG.warning(
            "image has 32-bit float samples (mode F); precision reduced to 8 bits "
            "per sample"
        )
        return out
    wide = raw.astype(np.int64)
    if mode == "I" and wide.size and (wide.min() < 0 or wide.max() > 65535):
        _LOG.warning("32-bit image has samples outside 0..65535; they are clipped")
    wide = np.clip(wide, 0, 65535)
    bits = 16 if mode.startswith("I;16") else 32
    _LOG.warning(
        "image has %d-bit samples (mode %s); precision reduced to 8 bits per sample",
        bits,
        mode,
    )
    # round(v / 257) without ties: v / 257 never has a fractional part of 1/2.
    return ((wide + 128) // 257).astype(np.uint8)


def _key_alpha(values: np.ndarray, key: object, mode: str) -> U8Array | None:
    """Alpha plane of a colour-key transparency, or None when there is none."""
    if key is None:
        return None
    if mode == "RGB":
        if not (isinstance(key, tuple) and len(key) == 3):
            _LOG.warning("ignoring malformed RGB transparency key %r", key)
            return None
        hit = np.all(values == np.asarray(key, dtype=np.int64), axis=-1)
    else:
        if not isinstance(key, int):
            _LOG.warning("ignoring malformed %s transparency key %r", mode, key)
            return None
        hit = values == key
    return np.where(hit, 0, 255).astype(np.uint8)


def from_planes(planes: Planes) -> Image.Image:
    """Rebuild a Pillow image (mode L, LA, RGB or RGBA) from decoded planes.

    For L and LA the gray value is the rounded mean of the three channels (a lossy
    decode returns three slightly different channels); an unchanged grayscale
    `Planes` therefore round-trips bit-exactly.

    Args:
        planes: the decoded planes.

    Returns:
        A new image whose mode is ``planes.mode.name``.
    """
    rgb = planes.rgb
    if planes.mode in (ColorMode.L, ColorMode.LA):
        total = rgb.astype(np.uint16).sum(axis=2)
        # sum / 3 has fractional part 0, 1/3 or 2/3: no ties to break.
        gray = ((total + 1) // 3).astype(np.uint8)
        if planes.mode == ColorMode.L:
            return Image.fromarray(gray)
        assert planes.alpha is not None
        return Image.merge(
            "LA",
            [
                Image.fromarray(gray),
                Image.fromarray(np.ascontiguousarray(planes.alpha)),
            ],
        )
    if planes.mode == ColorMode.RGB:
        return Image.fromarray(np.ascontiguousarray(rgb))
    assert planes.alpha is not None
    return Image.fromarray(np.dstack([rgb, planes.alpha]))


# --------------------------------------------------------------------------------------
# Tensors


def pad_to_multiple(
    x: torch.Tensor, multiple: int
) -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad (B, C, H, W) on the bottom and right to multiples of ``multiple``.

    Replicate padding: unlike reflect padding it works for any pad amount, e.g. a
    1x1 image padded to 64x64, and adds no edges for the codec to spend bits on.

    Args:
        x: (B, C, H, W) float tensor.
        multiple: the size granularity the model needs (e.g. 64).

    Returns:
        The padded tensor (``x`` itself if no padding is needed) and the original
        (H, W) for `crop`.

    Raises:
        ValueError: ``x`` is not 4-D, or ``multiple`` is not positive.
    """
    if x.dim() != 4:
        raise ValueError(f"expected a (B, C, H, W) tensor, got shape {tuple(x.shape)}")
    if multiple < 1:
        raise ValueError(f"multiple must be positive, got {multiple}")
    height, width = int(x.shape[-2]), int(x.shape[-1])
    pad_h, pad_w = -height % multiple, -width % multiple
    if pad_h or pad_w:
        x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
    return x, (height, width)


def crop(x: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    """Undo `pad_to_multiple`: keep the top-left ``hw`` = (H, W) of ``x``.

    Args:
        x: (..., H', W') tensor with H' >= H and W' >= W.
        hw: the size returned by `pad_to_multiple`.

    Returns:
        A view of ``x`` of size (..., H, W).

    Raises:
        ValueError: ``hw`` is larger than ``x`` or not positive.
    """
    height, width = hw
    if not (0 < height <= x.shape[-2] and 0 < width <= x.shape[-1]):
        raise ValueError(f"cannot crop {tuple(x.shape[-2:])} to {height}x{width}")
    return x[..., :height, :width]


def to_tensor(rgb: U8Array) -> torch.Tensor:
    """(H, W, 3) uint8 -> (1, 3, H, W) float32 in [0, 1].

    Raises:
        ValueError: ``rgb`` is not an (H, W, 3) uint8 array.
    """
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(
            f"expected an (H, W, 3) uint8 array, got {rgb.dtype} {rgb.shape}"
        )
    # Reorder the uint8 planes first: one float32 copy of the image instead of two
    # (the conversion kept the channel-last strides, `contiguous` copied again). The
    # planes are always a fresh, writable array, so a read-only input (np.asarray of a
    # Pillow image) costs no extra copy and no torch warning.
    planes = np.array(rgb.transpose(2, 0, 1), order="C")
    return torch.from_numpy(planes).unsqueeze(0).to(torch.float32).div_(255.0)


def to_uint8(x: torch.Tensor) -> U8Array:
    """(1, 3, H, W) or (3, H, W) float in [0, 1] -> (H, W, 3) uint8.

    Values are clamped to [0, 1] and ``round(x * 255)`` (torch rounds exact halves to
    even, which float model outputs practically never hit). NaN becomes 0 so that a
    broken output still gives the same bytes on every device.

    Raises:
        ValueError: ``x`` is not a single 3-channel image.
    """
    if x.dim() == 4:
        if x.shape[0] != 1:
            raise ValueError(f"expected a batch of one image, got {x.shape[0]}")
        x = x[0]
    if x.dim() != 3 or x.shape[0] != 3:
        raise ValueError(f"expected a (1, 3, H, W) tensor, got shape {tuple(x.shape)}")
    # One float copy, then in place: a 24 MP image is 288 MB per float32 copy.
    x = torch.nan_to_num(x.detach().float(), nan=0.0)
    q = x.clamp_(0.0, 1.0).mul_(255.0).round_().to(torch.uint8)
    del x
    return q.permute(1, 2, 0).contiguous().cpu().numpy()
