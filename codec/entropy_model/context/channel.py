"""Adaptive channel-wise context: after S2LIC's AC, with its gates the other way round.

Wang et al., "S2LIC: Learned Image Compression with the SwinV2 Block, Adaptive
Channel-wise and Global-inter Attention Context", arXiv 2403.14471. The already decoded
channel slices pass through a convolution branch and a depth-wise branch; each branch is
gated by a map computed from the other one - here a spatial map from the convolution
branch and a channel map (squeeze-excitation, Hu et al., CVPR 2018) from the depth-wise
one - so the context adapts both where and which channels it draws on. The gates are the
library blocks `SpatialGate` and `ChannelGate` (s2lic.codec.layers.attention).

Where this differs from the paper's AC (docs/model.md, "Deviations from the paper"):
the paper computes the spatial map from the depth-wise branch and the channel map from
the convolution branch (the reverse of this wiring); its convolution branch is
conv3x3-GELU-conv3x3-GELU, not one conv3x3; and its maps are AvgPool-Conv-BN-GELU-
Conv-Sigmoid (channel) and Conv-BN-GELU-Conv-Sigmoid (spatial), not SE's excitation and
a single convolution.

    prev ─┬─> conv3x3 ─ GELU ──── a ──┬──────────────> a * channel(b) ─┐
          │                         spatial(a)                        (+) ─> 1x1 ─> ctx
          └─> 1x1 ─ dw5x5 ─ GELU ─ b ──┴─ channel(b) ─> b * spatial(a) ┘

One module holds the AC networks of all slices (stacked weights, see
`s2lic.codec.layers.stacked`).
"""

from __future__ import annotations

import torch
from torch import nn

from s2lic.codec.layers.attention import ChannelGate, SpatialGate
from s2lic.codec.layers.stacked import StackedConv2d, StackedSequential

__all__ = ["AdaptiveChannelContext"]


class AdaptiveChannelContext(nn.Module):
    """Cross-gated convolution / depth-wise context over decoded slices.

    Args:
        members: number of slices with a context (stacked networks).
        in_channels: channels of the decoded slices (the widest member's).
        out_channels: context channels.
        hidden: width of both branches.
        reduction: squeeze ratio of the channel gate.
    """

    def __init__(
        self,
        members: int,
        in_channels: int,
        out_channels: int,
        hidden: int,
        reduction: int = 4,
    ) -> None:
        super().__init__()
        S = members
        self.conv_branch = StackedSequential(
            [StackedConv2d(S, in_channels, hidden, 3), nn.GELU()]
        )
        self.dw_branch = StackedSequential(
            [
                StackedConv2d(S, in_channels, hidden, 1),
                StackedConv2d(S, hidden, hidden, 5, groups=hidden),
                nn.GELU(),
            ]
        )
        self.spatial_gate = SpatialGate(hidden, 3, pooled=False, members=S)
        self.channel_gate = ChannelGate(hidden, reduction, nn.GELU, members=S)
        self.out = StackedConv2d(S, hidden, out_channels, 1)

    def forward(self, prev: torch.Tensor, index: int | None = None) -> torch.Tensor:
        """prev: (B, s, C, H, W) -> (B, s, out_channels, H, W)."""
        a = self.conv_branch(prev, index)
        b = self.dw_branch(prev, index)
        channel = self.channel_gate(b, index)
        return self.out(a * channel + b * self.spatial_gate(a, index), index)
