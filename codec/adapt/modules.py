"""The decoder-side tools of an adapted file: a FiLM update of g_s and a post-filter.

Both start as the identity (all parameters zero), so an encoder can fit them from
there and a file that leaves one out decodes as if it were zero.

- `FiLM`: per-channel scale and bias on the outputs of g_s's Swin stages,
  ``out · (1 + s) + b`` (Perez et al., "FiLM", AAAI 2018; as a per-instance update of a
  shared decoder: van Rozendaal et al., ICLR 2021, and Lv et al., ACM MM 2023, who send
  low-rank updates instead). Per-channel terms commute with tiling, so a tiled
  synthesis stays exact.
- `PostFilter`: a residual filter on the decoded image, ``x + L(x) + B(GELU(A(x)))``
  with L a linear 3x3 colour filter (as VVC's adaptive loop filter) and A, B 3x3
  convolutions through a few hidden channels. It runs on row bands, so its memory is
  bounded whatever the image size.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["FiLM", "PostFilter"]

_BAND_ROWS = 256  # rows per band of the post-filter (plus a 2-row halo each side)


class FiLM(nn.Module):
    """Scale and bias per channel of chosen g_s stages.

    Args:
        dims: channels of each g_s stage, in processing order.
        stages: indexes of the stages it modulates.
    """

    def __init__(self, dims: Sequence[int], stages: Sequence[int]) -> None:
        super().__init__()
        if not stages or any(not 0 <= i < len(dims) for i in stages):
            raise ValueError(f"stages must index {len(dims)} stages, got {stages}")
        self.stages = tuple(sorted(set(stages)))
        self.scale = nn.ParameterList(
            nn.Parameter(torch.zeros(1, dims[i], 1, 1)) for i in self.stages
        )
        self.bias = nn.ParameterList(
            nn.Parameter(torch.zeros(1, dims[i], 1, 1)) for i in self.stages
        )

    def ordered(self) -> Iterator[torch.Tensor]:
        """The parameters in the file's order: per stage, scale then bias."""
        for s, b in zip(self.scale, self.bias, strict=True):
            yield s
            yield b

    def forward(self, stage: int, x: torch.Tensor) -> torch.Tensor:
        """Stage `stage`'s output x, modulated if this FiLM covers that stage."""
        if stage not in self.stages:
            return x
        k = self.stages.index(stage)
        return x * (1 + self.scale[k]) + self.bias[k]


class PostFilter(nn.Module):
    """Residual filter on the decoded image (3 channels in [0, 1]).

    Args:
        hidden: channels of the non-linear branch.
    """

    halo = 2
    """Pixels each output depends on beyond its own, per side (two 3x3 convs)."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.linear = nn.Conv2d(3, 3, 3, padding=1)
        self.a = nn.Conv2d(3, hidden, 3, padding=1)
        self.b = nn.Conv2d(hidden, 3, 3, padding=1)
        for p in self.parameters():
            nn.init.zeros_(p)

    def ordered(self) -> Iterator[torch.Tensor]:
        """The parameters in the file's order."""
        for conv in (self.linear, self.a, self.b):
            yield conv.weight
            yield conv.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The filtered image, computed whole (training and small images)."""
        return x + self.linear(x) + self.b(F.gelu(self.a(x)))

    @torch.no_grad()
    def apply_banded(self, x: torch.Tensor, rows: int = _BAND_ROWS) -> torch.Tensor:
        """`forward` on bands of `rows` rows: the same result, bounded memory.

        Each band is computed with a halo of real neighbours and the image's own
        zero padding only at the image's borders, so the output equals the whole
        pass (to float rounding)."""
        h = x.shape[-2]
        if h <= rows:
            return self(x)
        out = torch.empty_like(x)
        for top in range(0, h, rows):
            lo, hi = max(top - self.halo, 0), min(top + rows + self.halo, h)
            band = self(x[..., lo:hi, :])
            out[..., top : min(top + rows, h), :] = band[
                ..., top - lo : top - lo + min(rows, h - top), :
            ]
        return out
