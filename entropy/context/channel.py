"""Adaptive channel-wise context (the AC module of S2LIC).

Wang et al., "S2LIC: Learned Image Compression with the SwinV2 Block, Adaptive
Channel-wise and Global-inter Attention Context", arXiv 2403.14471. The already decoded
channel slices pass through a convolution branch and a depth-wise branch; each branch is
gated by a map computed from the other one — a spatial map from the convolution branch
and a channel map (squeeze-excitation, Hu et al., CVPR 2018) from the depth-wise one -
so the context adapts both where and which channels it draws on.

    prev ─┬─> conv3x3 ─ GELU ──── a ──┬──────────────> a * channel(b) ─┐
          │                         spatial(a)                        (+) ─> 1x1 ─> ctx
          └─> 1x1 ─ dw5x5 ─ GELU ─ b ──┴─ channel(b) ─> b * spatial(a) ┘
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["AdaptiveChannelContext"]


class AdaptiveChannelContext(nn.Module):
    """Cross-gated convolution / depth-wise context over decoded slices.

    Args:
        in_channels: channels of the decoded slices so far.
        out_channels: context channels.
        hidden: width of both branches (default: `in_channels`).
        reduction: squeeze ratio of the channel gate.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        hidden: int | None = None,
        reduction: int = 4,
    ) -> None:
        super().__init__()
        hidden = hidden or in_channels
        self.conv_branch = nn.Sequential(
            nn.Conv2d(in_channels, hidden, 3, padding=1), nn.GELU()
        )
        self.dw_branch = nn.Sequential(
            nn.Conv2d(in_channels, hidden, 1),
            nn.Conv2d(hidden, hidden, 5, padding=2, groups=hidden),
            nn.GELU(),
        )
        self.spatial_gate = nn.Sequential(
            nn.Conv2d(hidden, 1, 3, padding=1), nn.Sigmoid()
        )
        squeezed = max(hidden // reduction, 4)
        self.channel_gate = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(hidden, squeezed, 1),
            nn.GELU(),
            nn.Conv2d(squeezed, hidden, 1),
            nn.Sigmoid(),
        )
        self.out = nn.Conv2d(hidden, out_channels, 1)

    def forward(self, prev: torch.Tensor) -> torch.Tensor:
        """prev: (B, in_channels, H, W) -> (B, out_channels, H, W)."""
        a = self.conv_branch(prev)
        b = self.dw_branch(prev)
        return self.out(a * self.channel_gate(b) + b * self.spatial_gate(a))
