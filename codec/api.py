"""The public API: images to `.s2lic` bytes and back; the CLI and the web call it.

encode(image) : planes ─> pad ─> g_a ─> [effort: refinement, adaptation]
                ─> [rate search] ─> entropy coding ─> container
decode(bytes) : container ─> checks ─> entropy decoding ─> g_s [+ FiLM] ─> crop
                ─> [post-filter] ─> image
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch
from PIL import Image

from s2lic.codec.adapt.fit import adapt, reconstruct
from s2lic.codec.adapt.levels import EFFORTS, MAX_EFFORT, Effort
from s2lic.codec.adapt.section import unpack_section
from s2lic.codec.alpha import decode_alpha, encode_alpha
from s2lic.codec.describe import describe
from s2lic.codec.image import (
    Planes,
    from_planes,
    pad_to_multiple,
    to_planes,
    to_tensor,
    to_uint8,
)
from s2lic.codec.memory import decode_memory_bytes, physical_memory_bytes
from s2lic.codec.refine import StepCallback
from s2lic.codec.registry import DEFAULT_MODEL, DEFAULT_QUALITY, ModelSpec, spec_from_id
from s2lic.codec.releases import default_release, read_manifest
from s2lic.codec.zoo import LoadedModel, load_model
from s2lic.entropy.bitstream import (
    Container,
    Header,
    Limits,
    code_to_quality,
    pack,
    quality_to_code,
    read_header,
    symbol_checksum,
    unpack,
)
from s2lic.entropy.coders import DEFAULT_CODER, coder_from_id, get_coder
from s2lic.entropy.errors import ChecksumError, FormatError, LimitError, S2LICError

__all__ = [
    "DEFAULT_QUALITY",
    "MAX_EFFORT",
    "EncodeResult",
    "DecodeResult",
    "WeightsMismatchError",
    "get_codec",
    "encode",
    "decode",
    "describe",
]

log = logging.getLogger(__name__)

_BPP_SEARCH_STEPS = 12
_BPP_TOLERANCE = 0.01  # stop once the size is within 1 % below the target
SAFE_MARGIN = 1e-9
"""Closest rounding call (`Encoded.margin`) an encoder accepts without a retry.

The coding path's float64 parameters differ across devices by ~1e-13 (relative), so a
decision closer than this to its boundary could flip on another machine; the encoder
then codes at an adjacent quality code (a 1/65535 step, invisible in rate and
distortion) whose decisions are all farther away (expected for ~1 % of Kodak-sized
files; none of 18 measured needed it, docs/reliability.md)."""
_NUDGES = (1, -1, 2, -2)


class WeightsMismatchError(S2LICError):
    """The file was encoded with other weights than the ones given to decode it."""


@dataclass(frozen=True)
class EncodeResult:
    """An encoded image.

    Attributes:
        data: the complete `.s2lic` file.
        header: its header.
        bpp: bits per pixel of the whole file (header included).
        seconds: wall time of the encoding (rate search included, model loading
            excluded).
    """

    data: bytes
    header: Header
    bpp: float
    seconds: float

    @property
    def quality(self) -> float:
        return code_to_quality(self.header.quality)


@dataclass(frozen=True)
class DecodeResult:
    """A decoded image: `image` in the file's colour mode, `header`, wall `seconds`."""

    image: Image.Image
    header: Header
    seconds: float


def get_codec(
    model: str = DEFAULT_MODEL,
    device: str = "cpu",
    weights: str | None = None,
    weights_id: bytes | None = None,
) -> LoadedModel:
    """The loaded model (cached: loading costs far more than coding a small image).

    `weights_id` picks released weights by id (see `load_model`); without it and
    without `weights`, the default ones, cached under their id so that encoding and
    decoding in one process share them."""
    if weights is None and weights_id is None:
        release = default_release(read_manifest(), model)
        weights_id = bytes.fromhex(release.id) if release else None
    return _cached_codec(model, device, weights, weights_id)


@functools.lru_cache(maxsize=4)
def _cached_codec(
    model: str, device: str, weights: str | None, weights_id: bytes | None
) -> LoadedModel:
    loaded = load_model(model, device, weights, weights_id)
    if not loaded.trained:
        log.warning("model %s has no trained weights: using %s", model, loaded.source)
    return loaded


def _bpp(data: bytes, planes: Planes) -> float:
    h, w = planes.rgb.shape[:2]
    return 8.0 * len(data) / (h * w)


def encode(
    image: Image.Image | Planes,
    *,
    quality: float | None = None,
    bpp: float | None = None,
    model: str = DEFAULT_MODEL,
    coder: str = DEFAULT_CODER,
    device: str = "cpu",
    weights: str | None = None,
    effort: int = 0,
    refine: int | None = None,
    on_refine_step: StepCallback | None = None,
) -> EncodeResult:
    """Compress an image to `.s2lic` bytes.

    Args:
        image: a PIL image (any mode `to_planes` accepts) or prepared planes.
        quality: in [0, 1] (higher = more bits); default `DEFAULT_QUALITY`.
        bpp: target bits per pixel instead of quality: the largest quality whose file
            fits is found by bisection on the real encoded size.
        model: registry name.
        coder: entropy coder name.
        device: torch device of the networks.
        weights: a weights file instead of the manifest's.
        effort: encoder effort level, 0 (plain) to `MAX_EFFORT`
            (`s2lic.codec.adapt.levels.EFFORTS`): latent refinement, then per-image
            tools of the decoder carried in the file (a version-2 container), each
            kept only if it lowers the file's real rate-distortion cost. With `bpp`,
            the level runs at the quality found for the target and the quality is
            then searched again with its result.
        refine: steps of latent refinement instead of the level's (an expert
            knob; with effort 0 it refines the latent only, and the file stays an
            ordinary version-1 file).
        on_refine_step: progress of the refinement, called with (step, steps).

    Returns:
        `EncodeResult`.
    """
    recipe = _recipe(quality, bpp, effort, refine)
    loaded = get_codec(model, device, weights)
    backend = get_coder(coder)
    start = time.perf_counter()  # after loading: report coding time, not set-up
    planes = image if isinstance(image, Planes) else to_planes(image)
    h, w = planes.rgb.shape[:2]
    net = loaded.model
    x, _ = pad_to_multiple(to_tensor(planes.rgb).to(device), net.pad_multiple)
    alpha = (encode_alpha(planes.alpha),) if planes.alpha is not None else ()
    with torch.inference_mode():
        y = net.analyze(x)

        def at(code: int, y: torch.Tensor = y, section: bytes | None = None) -> bytes:
            enc = net.compress_latent(y, code_to_quality(code), backend)
            asked = code
            for step in _NUDGES:
                if enc.margin >= SAFE_MARGIN:
                    break
                log.debug("margin %.1e at quality code %d: retrying", enc.margin, code)
                near = min(max(asked + step, 0), 65535)
                alt = net.compress_latent(y, code_to_quality(near), backend)
                if alt.margin > enc.margin:
                    code, enc = near, alt
            header = Header(
                model_id=loaded.spec.model_id,
                weights_id=loaded.weights_id,
                coder_id=backend.coder_id,
                width=w,
                height=h,
                mode=planes.mode,
                quality=code,
                symbol_crc=symbol_checksum(*enc.symbols),
            )
            return pack(Container(header, (*enc.streams, *alpha), section))

        def run_effort(code: int) -> tuple[torch.Tensor, bytes | None]:
            if not recipe.refine and not recipe.adapts:
                return y, None
            done = adapt(
                net, x, y, planes, code_to_quality(code), recipe, backend,
                on_step=on_refine_step,
            )  # fmt: skip
            return done.y, done.section

        if bpp is None:
            code = quality_to_code(DEFAULT_QUALITY if quality is None else quality)
            data = at(code, *run_effort(code))
        else:
            data = _search_bpp(at, bpp, planes)
            if recipe.refine or recipe.adapts:
                y, section = run_effort(read_header(data).quality)
                data = _search_bpp(
                    functools.partial(at, y=y, section=section), bpp, planes
                )
    header = unpack(data, Limits(max_pixels=max(h * w, 1))).header
    return EncodeResult(data, header, _bpp(data, planes), time.perf_counter() - start)


def _recipe(
    quality: float | None, bpp: float | None, effort: int, refine: int | None
) -> Effort:
    """The effort level `encode` runs, after checking its arguments."""
    if quality is not None and bpp is not None:
        raise ValueError("give quality or bpp, not both")
    if bpp is not None and not bpp > 0:
        raise ValueError(f"target bpp must be positive, got {bpp}")
    if refine is not None and refine < 0:
        raise ValueError(f"refinement steps must be >= 0, got {refine}")
    if not 0 <= effort <= MAX_EFFORT:
        raise ValueError(f"effort must be 0..{MAX_EFFORT}, got {effort}")
    return (
        EFFORTS[effort] if refine is None else replace(EFFORTS[effort], refine=refine)
    )


@torch.inference_mode(False)
def _search_bpp(
    encode_at: Callable[[int], bytes], target: float, planes: Planes
) -> bytes:
    """Largest quality code whose file is at most `target` bpp (bisection)."""
    lo, hi = 0, 65535
    best = encode_at(lo)
    if _bpp(best, planes) > target:
        log.warning(
            "even the lowest quality needs %.4f bpp, above the target %.4f",
            _bpp(best, planes),
            target,
        )
        return best
    top = encode_at(hi)
    if _bpp(top, planes) <= target:
        return top
    for _ in range(_BPP_SEARCH_STEPS):
        mid = (lo + hi) // 2
        data = encode_at(mid)
        rate = _bpp(data, planes)
        if rate <= target:
            lo, best = mid, data
            if rate >= target * (1 - _BPP_TOLERANCE):
                break
        else:
            hi = mid
        if hi - lo <= 1:
            break
    return best


def decode(
    data: bytes,
    *,
    device: str = "cpu",
    weights: str | None = None,
    limits: Limits | None = None,
) -> DecodeResult:
    """Decompress `.s2lic` bytes.

    Raises:
        S2LICError subclasses with a one-line message for every bad input: not an
        .s2lic file, truncated or corrupted data, unknown model or coder, other weights,
        decoded symbols that differ from the encoder's, an image whose decode would
        need more memory than `limits.max_decode_bytes` (checked before the model is
        loaded or any tensor allocated).
    """
    limits = limits or Limits()
    container = unpack(data, limits)
    header = container.header
    spec = spec_from_id(header.model_id)
    backend = coder_from_id(header.coder_id)
    _check_decode_memory(spec, header, limits)
    # Without a weights file, the released weights the header names.
    loaded = get_codec(
        spec.name, device, weights, None if weights else header.weights_id
    )
    start = time.perf_counter()
    if header.weights_id != loaded.weights_id:
        raise WeightsMismatchError(
            f"the file was encoded with other weights of {spec.name} "
            f"(id {header.weights_id.hex()}, these are {loaded.weights_id.hex()})"
        )
    expected = 3 if header.mode.has_alpha else 2
    adaptation = (
        unpack_section(container.adaptation, loaded.spec.config.synthesis.dims)
        if container.adaptation is not None
        else None
    )
    if len(container.streams) != expected:
        # A FormatError like every other malformed file, so callers can tell bad data
        # from other failures by type.
        raise FormatError(
            f"corrupted file: {len(container.streams)} streams, expected {expected}"
        )
    shape = _padded_shape(header, loaded.model.pad_multiple)
    with torch.inference_mode():
        y_hat, symbols = loaded.model.decode_latent(
            container.streams[:2], shape, backend
        )
        # Checked before the synthesis, which costs far more than entropy decoding.
        if symbol_checksum(*symbols) != header.symbol_crc:
            raise ChecksumError(
                "decoded symbols differ from the encoder's: the file was encoded with "
                "different arithmetic (another device type or software version)"
            )
        x_hat = reconstruct(
            loaded.model,
            y_hat,
            code_to_quality(header.quality),
            (header.height, header.width),
            adaptation.to(y_hat.device) if adaptation else None,
        )
    rgb = to_uint8(x_hat)
    alpha = (
        decode_alpha(container.streams[2], header.width, header.height)
        if header.mode.has_alpha
        else None
    )
    image = from_planes(Planes(rgb=rgb, mode=header.mode, alpha=alpha))
    return DecodeResult(image, header, time.perf_counter() - start)


def _padded_shape(header: Header, multiple: int) -> tuple[int, int]:
    """(H, W) of the image padded to the model's multiple, as the encoder coded it."""
    return (
        -(-header.height // multiple) * multiple,
        -(-header.width // multiple) * multiple,
    )


def _check_decode_memory(spec: ModelSpec, header: Header, limits: Limits) -> None:
    """Refuse, before allocating, an image whose decode would not fit in memory.

    Raises:
        LimitError: the estimate exceeds `limits.max_decode_bytes` (by default the
            physical memory).
    """
    budget = limits.max_decode_bytes
    source = ""
    if budget is None:
        budget, source = physical_memory_bytes(), " (this machine's memory)"
        if budget is None:
            return
    # Padding follows the registered model class; every model pads to 64 so far.
    multiple = getattr(spec.factory, "pad_multiple", 64)
    need = decode_memory_bytes(spec.config, *_padded_shape(header, multiple))
    if need > budget:
        gib = 2**30
        raise LimitError(
            f"decoding this {header.width} x {header.height} image with {spec.name} "
            f"needs about {need / gib:.1f} GiB of memory, more than the limit of "
            f"{budget / gib:.1f} GiB{source}"
        )
