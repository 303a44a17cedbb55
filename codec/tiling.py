"""Tiled evaluation of the analysis and synthesis transforms, in bounded memory.

The transforms' activations grow with the image (~1 KB per pixel for `s2lic-s`), so a
24-megapixel photo would need ~24 GB at once. `tiled` runs a transform on overlapping
tiles instead and keeps the central part of each output, so memory is bounded by the
tile and time grows linearly with pixels::

    x (B, C, H, W) ─> tile + overlap ─> fn ─> keep the core ─> out (B, C', sH, sW)

Tiles start and end on multiples of ``align`` (the model's padding, 64 px = 4 latent
pixels), so that every stride phase, Swin window and shifted window of a tile lies on
the grid the whole-image pass uses. Outputs can still differ near tile borders, where
the transforms see further than the overlap (each shifted-window block widens the
receptive field by a window): with 128 px of overlap `s2lic-s` matched the whole-image
pass to float rounding, with 64 px by ~70 dB (docs/benchmarks.md). An input that fits
in one core tile runs through ``fn`` unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import NamedTuple

import torch

__all__ = ["Span", "Tiling", "largest_tile", "spans", "tiled"]


@dataclass(frozen=True)
class Tiling:
    """Tile size of a transform, in image pixels.

    Attributes:
        core: side of the part of each tile that is kept (a multiple of the model's
            padding); larger tiles cost more memory, smaller ones more overlap.
        overlap: extra context on each side of the core (a multiple of the padding).
    """

    core: int = 1024
    overlap: int = 128


class Span(NamedTuple):
    """One tile along one axis: the kept ``[start, stop)`` inside the computed
    ``[outer_start, outer_stop)``, in input units."""

    start: int
    stop: int
    outer_start: int
    outer_stop: int


def spans(length: int, tile: int, overlap: int, align: int) -> list[Span]:
    """Split ``[0, length)`` into ``ceil(length / tile)`` cores of nearly equal size.

    Equal cores (rather than full tiles and a thin remainder) keep every tile's cost
    and border effects alike.

    Args:
        length: axis size, a multiple of ``align``.
        tile: largest core size.
        overlap: context added on each side (clipped at the ends of the axis).
        align: granularity of every boundary.

    Raises:
        ValueError: a size is not a positive multiple of ``align``.
    """
    for name, v in (("length", length), ("tile", tile), ("overlap", overlap)):
        if v < (0 if name == "overlap" else 1) or v % align:
            raise ValueError(f"{name} {v} is not a positive multiple of {align}")
    n = -(-length // tile)
    return [_span(i, n, length, overlap, align) for i in range(n)]


def _span(i: int, n: int, length: int, overlap: int, align: int) -> Span:
    """Tile i of n: the first ``units % n`` cores are one `align` longer."""
    base, extra = divmod(length // align, n)
    start = (i * base + min(i, extra)) * align
    stop = start + (base + (i < extra)) * align
    return Span(start, stop, max(0, start - overlap), min(length, stop + overlap))


def largest_tile(length: int, tile: int, overlap: int, align: int) -> int:
    """Upper bound of the longest ``outer_stop - outer_start`` of `spans`.

    O(1) for any length (memory estimates of untrusted headers); exact unless an
    edge tile's missing outer overlap makes every tile shorter than the bound.
    """
    n = -(-length // tile)
    core = -(-(length // align) // n) * align
    return min(length, core + (2 * overlap if n > 1 else 0))


def _scaled(v: int, scale: Fraction) -> int:
    s = v * scale
    if s.denominator != 1:
        raise ValueError(f"{v} * {scale} is not an integer")
    return int(s)


def tiled(
    fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    tile: int,
    overlap: int,
    scale: Fraction | int,
    align: int = 1,
) -> torch.Tensor:
    """``fn(x)`` computed on overlapping tiles of x, stitched from their cores.

    Args:
        fn: a translation-equivariant map (B, C, h, w) -> (B, C', h * scale, w * scale).
        x: (B, C, H, W), H and W multiples of ``align``.
        tile: largest core side, in units of x.
        overlap: context on each side, in units of x.
        scale: output / input resolution (1/16 for g_a, 16 for g_s).
        align: tile boundaries fall on multiples of this (in units of x).

    Returns:
        (B, C', H * scale, W * scale); exactly ``fn(x)`` when x fits in one tile.
    """
    scale = Fraction(scale)
    H, W = x.shape[-2:]
    rows, cols = spans(H, tile, overlap, align), spans(W, tile, overlap, align)
    if len(rows) == 1 and len(cols) == 1:
        return fn(x)
    out: torch.Tensor | None = None
    for r in rows:
        for c in cols:
            window = x[..., r.outer_start : r.outer_stop, c.outer_start : c.outer_stop]
            part = fn(window.contiguous())
            if out is None:
                # Allocated after the first tile: only then are C' and dtype known.
                size = (_scaled(H, scale), _scaled(W, scale))
                out = part.new_empty(*part.shape[:-2], *size)
            top, left = _scaled(r.start, scale), _scaled(c.start, scale)
            bottom, right = _scaled(r.stop, scale), _scaled(c.stop, scale)
            dy = _scaled(r.start - r.outer_start, scale)
            dx = _scaled(c.start - c.outer_start, scale)
            out[..., top:bottom, left:right] = part[
                ..., dy : dy + bottom - top, dx : dx + right - left
            ]
            del part  # free the tile's output before the next tile runs
    assert out is not None
    return out
