"""Adaptive channel-wise context (AC) of S2LIC, and the first design our weights use.

Wang et al., "S2LIC: Learned Image Compression with the SwinV2 Block, Adaptive
Channel-wise and Global-inter Attention Context", arXiv 2403.14471, `assets/ACGC.png`.
The already decoded channel slices pass through a convolution branch (the paper's
"channel-wise attention": conv3x3-GELU-conv3x3-GELU) and a depth-wise branch; a spatial
map computed from the depth-wise branch gates the convolution branch, and a channel map
computed from the convolution branch gates the depth-wise branch (MixFormer's
bi-directional interaction, Chen et al., CVPR 2022). The maps are the library blocks
`SpatialMap` and `ChannelMap` (s2lic.codec.layers.attention)::

    prev ─┬─> conv3x3 ─ GELU ─ conv3x3 ─ GELU ─> a ──> a * S_Map(b) ─┐
          │                                                        (+) ─> 1x1 ─> ctx
          └─> 1x1 ─ dw5x5 ─ GELU ──────────────> b ──> b * C_Map(a) ─┘

Where the paper is silent: the depth-wise branch starts with a 1x1 convolution (the
decoded slices are narrower or wider than the branches) and uses a 5x5 kernel, and a
1x1 projection after the sum gives the context width.

`AdaptiveChannelContextV1` is the design the first shipped weights of ``s2lic-s``
(``b8ec76ff``) were trained with and still decode with: one conv3x3 in the convolution
branch, and the gates the other way round (a spatial map from the convolution branch, a
squeeze-excitation channel map from the depth-wise one); docs/model.md.

One module holds the AC networks of all slices (stacked weights, see
`s2lic.codec.layers.stacked`).
"""

from __future__ import annotations

import torch
from torch import nn

from s2lic.codec.layers.attention import (
    ChannelGate,
    ChannelMap,
    SpatialGate,
    SpatialMap,
)
from s2lic.codec.layers.stacked import StackedConv2d, StackedSequential

__all__ = ["AdaptiveChannelContext", "AdaptiveChannelContextV1", "depthwise_branch"]


def depthwise_branch(members: int, in_channels: int, hidden: int) -> StackedSequential:
    """1x1 to the branch width, then a depth-wise 5x5 and GELU (stacked)."""
    return StackedSequential(
        [
            StackedConv2d(members, in_channels, hidden, 1),
            StackedConv2d(members, hidden, hidden, 5, groups=hidden),
            nn.GELU(),
        ]
    )


class AdaptiveChannelContext(nn.Module):
    """The paper's AC: conv / depth-wise branches, each gated by a map of the other.

    Args:
        members: number of slices with a context (stacked networks).
        in_channels: channels of the decoded slices (the widest member's).
        out_channels: context channels.
        hidden: width of both branches.
    """

    def __init__(
        self, members: int, in_channels: int, out_channels: int, hidden: int
    ) -> None:
        super().__init__()
        S = members
        self.conv_branch = StackedSequential(
            [
                StackedConv2d(S, in_channels, hidden, 3),
                nn.GELU(),
                StackedConv2d(S, hidden, hidden, 3),
                nn.GELU(),
            ]
        )
        self.dw_branch = depthwise_branch(S, in_channels, hidden)
        self.spatial_map = SpatialMap(hidden, members=S)
        self.channel_map = ChannelMap(hidden, members=S)
        self.out = StackedConv2d(S, hidden, out_channels, 1)

    def forward(self, prev: torch.Tensor, index: int | None = None) -> torch.Tensor:
        """prev: (B, s, C, H, W) -> (B, s, out_channels, H, W)."""
        a = self.conv_branch(prev, index)
        b = self.dw_branch(prev, index)
        mixed = a * self.spatial_map(b, index) + b * self.channel_map(a, index)
        return self.out(mixed, index)


class AdaptiveChannelContextV1(nn.Module):
    """The first design (weights ``b8ec76ff``): one conv3x3, gates crossed the other
    way, squeeze-excitation channel gate and a single-convolution spatial gate.

    Args:
        members, in_channels, out_channels, hidden: as `AdaptiveChannelContext`.
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
        self.dw_branch = depthwise_branch(S, in_channels, hidden)
        self.spatial_gate = SpatialGate(hidden, 3, pooled=False, members=S)
        self.channel_gate = ChannelGate(hidden, reduction, nn.GELU, members=S)
        self.out = StackedConv2d(S, hidden, out_channels, 1)

    def forward(self, prev: torch.Tensor, index: int | None = None) -> torch.Tensor:
        """prev: (B, s, C, H, W) -> (B, s, out_channels, H, W)."""
        a = self.conv_branch(prev, index)
        b = self.dw_branch(prev, index)
        channel = self.channel_gate(b, index)
        return self.out(a * channel + b * self.spatial_gate(a, index), index)
