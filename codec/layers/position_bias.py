"""Continuous relative position bias over log-spaced coordinates (Swin-V2).

Liu et al., "Swin Transformer V2: Scaling Up Capacity and Resolution", CVPR 2022,
section 3.3. A small MLP maps a relative displacement to one logit bias per head; the
displacement is log-spaced first so that the bias extrapolates to larger windows and to
the arbitrary (fractional) displacements of deformable attention.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .stacked import StackedLinear, StackedSequential

__all__ = ["LogSpacedPositionBias", "log_spaced", "window_relative_table"]


def log_spaced(rel: torch.Tensor, span: float = 8.0) -> torch.Tensor:
    """Map displacements in [-1, 1] to ``sign(x) log2(1 + span |x|) / log2(span)``."""
    rel = rel * span
    return torch.sign(rel) * torch.log2(rel.abs() + 1.0) / math.log2(span)


def window_relative_table(window_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Relative coordinates of a square window and the index of each token pair.

    Returns:
        table: ((2w-1)^2, 2) displacements normalised by (w - 1) into [-1, 1].
        index: (w^2, w^2) long, row of `table` for each (query, key) pair.
    """
    w = window_size
    r = torch.arange(-(w - 1), w, dtype=torch.float32) / max(w - 1, 1)
    table = torch.stack(torch.meshgrid(r, r, indexing="ij"), dim=-1).reshape(-1, 2)
    coords = torch.stack(
        torch.meshgrid(torch.arange(w), torch.arange(w), indexing="ij")
    ).flatten(1)  # (2, w^2)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (w - 1)
    index = rel[..., 0] * (2 * w - 1) + rel[..., 1]
    return table, index


class LogSpacedPositionBias(nn.Module):
    """MLP from a 2-D displacement to a bounded per-head bias ``16 * sigmoid(mlp(.))``.

    Args:
        num_heads: number of attention heads (output features).
        hidden: width of the MLP's hidden layer (512 in Swin-V2).
        span: log-spacing span (8 in Swin-V2).
        members: if set, one MLP per channel slice (stacked, see `StackedLinear`).
    """

    def __init__(
        self,
        num_heads: int,
        hidden: int = 512,
        span: float = 8.0,
        members: int | None = None,
    ) -> None:
        super().__init__()
        self.span = span
        if members is None:
            self.mlp: nn.Module = nn.Sequential(
                nn.Linear(2, hidden),
                nn.ReLU(inplace=True),
                nn.Linear(hidden, num_heads, bias=False),
            )
        else:
            self.mlp = StackedSequential(
                [
                    StackedLinear(members, 2, hidden),
                    nn.ReLU(inplace=True),
                    StackedLinear(members, hidden, num_heads, bias=False),
                ]
            )

    def forward(self, rel: torch.Tensor, index: int | None = None) -> torch.Tensor:
        """Bias for displacements `rel` (..., 2) in [-1, 1]; returns (..., heads).

        With `members`, `rel` is (B, s, ..., 2) and `index` selects as in
        `StackedLinear`.
        """
        x = log_spaced(rel, self.span)
        out = self.mlp(x) if isinstance(self.mlp, nn.Sequential) else self.mlp(x, index)
        return 16.0 * torch.sigmoid(out)
