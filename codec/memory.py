"""Decode memory: an upper estimate from the model config, checked before allocating.

A header may declare up to 2**32 - 1 pixels per side, and a small file can validly
declare a large image (a flat image codes to almost nothing), so the pixel limit alone
does not keep a decoder from asking for more memory than the machine has. `api.decode`
compares `decode_memory_bytes` with `Limits.max_decode_bytes` (default: the physical
memory) before it loads the model or allocates any tensor, and refuses with a
`LimitError` instead of being killed for memory.

The estimate counts the float32 activations per output pixel of the synthesis
transform (the largest tensors of a decode): for each Swin stage at stride ``s`` with
``C`` channels, MLP ratio ``r`` and ``h`` heads of ``w x w`` windows,
``(C * (4 + r) + h * w**2) / s**2`` (input, q/k/v, output, MLP hidden; attention
scores), plus the enhancement module's dense features and the output, times a safety
factor for transient copies. Measured peaks (RSS growth of a decode at 512x512 to
1536x1536 on CPU, docs/reliability.md) were 330 B/px for s2lic-tiny and 830-990 B/px
for s2lic-s; the estimate gives 411 and 1410 B/px.

The synthesis runs on tiles (`S2LIC.tiling`, `s2lic.codec.tiling`), so that term counts
the largest tile only. What grows with the whole image: the entropy model's float64
activations per latent position (hyper-synthesis output, concatenated contexts,
hidden layers, decoded slices; times a factor for the slice loop's transient copies,
fitted to a measured 44 KB per position for s2lic-s at 376x252 latents) and the
decoded image's buffers (float32 x_hat and one float32 copy, uint8 planes, the Pillow
image).
"""

from __future__ import annotations

import os

from s2lic.codec.models.s2lic import S2LIC, S2LICConfig
from s2lic.codec.tiling import Tiling, largest_tile

__all__ = ["decode_memory_bytes", "physical_memory_bytes"]

_FLOAT_BYTES = 4
_SAFETY = 1.5  # transient copies (concatenations, padding, residual adds)
_STRIDES = (8, 4, 2)  # synthesis stages, in processing order
_OUTPUT_CHANNELS = 3
_STRIDE = 16  # image pixels per latent pixel
_CODING_BYTES = 8  # the entropy model codes in float64
_ENTROPY_SAFETY = 3.0  # transients of the slice loop (gather/scatter, masks, margins)
# x_hat and one float32 copy (to_uint8), two uint8 planes, the RGBA Pillow image
_IMAGE_BYTES_PER_PIXEL = 2 * 12 + 2 * 3 + 4


def _bytes_per_pixel(cfg: S2LICConfig) -> float:
    """Estimated peak decode bytes per padded output pixel."""
    syn = cfg.synthesis
    floats = 0.0
    for dims, heads, stride in zip(syn.dims, syn.heads, _STRIDES, strict=True):
        per_token = dims * (4 + syn.mlp_ratio) + heads * syn.window_size**2
        floats += per_token / stride**2
    enh = cfg.enhancement
    if enh.channels:
        # Dense blocks concatenate every layer's output; pixel unshuffle moves pixels
        # into channels, so the count per full-resolution pixel does not change.
        floats += enh.channels + enh.layers * enh.growth
    floats += _OUTPUT_CHANNELS
    return floats * _FLOAT_BYTES * _SAFETY


def _entropy_bytes_per_position(cfg: S2LICConfig) -> float:
    """Estimated peak bytes of the entropy decoder per latent position."""
    e = cfg.entropy
    M, sc = e.latent_channels, e.slice_channels
    terms = (
        2 * M,  # h_s output
        2 * M + 5 * sc,  # entropy-parameter input: [hyper, AC, AG, spatial]
        2 * M + sc,  # LRP input: [hyper means, slice, decoded slices]
        2 * M,  # decoded slices (list and concatenation)
        sum(e.ep_hidden) + sum(e.lrp_hidden),
        4 * e.context_width,  # AC branches, AG queries and attention output
    )
    floats = sum(terms)
    return floats * _CODING_BYTES * _ENTROPY_SAFETY


def decode_memory_bytes(
    cfg: S2LICConfig, height: int, width: int, tiling: Tiling = S2LIC.tiling
) -> int:
    """Upper estimate of the memory a decode of a `height` x `width` image needs.

    Args:
        cfg: the model's configuration.
        height: padded image height (a multiple of the model's padding).
        width: padded image width.
        tiling: the synthesis tiles (`S2LIC.tiling`).

    Returns:
        Bytes, rounded up.
    """
    m = S2LIC.pad_multiple
    tile = largest_tile(height, tiling.core, tiling.overlap, m) * largest_tile(
        width, tiling.core, tiling.overlap, m
    )
    need = (
        _bytes_per_pixel(cfg) * tile
        + _IMAGE_BYTES_PER_PIXEL * height * width
        + _entropy_bytes_per_position(cfg) * height * width / _STRIDE**2
    )
    return int(-(-need // 1))


def physical_memory_bytes() -> int | None:
    """Total physical memory of this machine, or None where the OS does not say."""
    try:
        pages = os.sysconf("SC_PHYS_PAGES")
        page = os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None
    return pages * page if pages > 0 and page > 0 else None
