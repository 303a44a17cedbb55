"""Global-inter context (AG) of S2LIC, and the first design our weights use.

Wang et al., arXiv 2403.14471, `assets/ACGC.png` and `assets/global_slice.png`: every
position of the current slice attends to keys sampled at learned locations of the
already decoded slices (deformable global-inter attention: offsets from a depth-wise
conv, GELU and 1x1; multi-head attention; then a 5x5 convolution), which gives the
entropy model a global context at a cost linear in the number of positions. A
depth-wise branch runs beside it; a channel map computed from the depth-wise branch
gates the attention branch, and a spatial map computed from the attention branch gates
the depth-wise branch (MixFormer's bi-directional interaction)::

    prev ─┬─> deformable attention ─ conv5x5 ─> a ──> a * C_Map(b) ─┐
          │                                                       (+) ─> 1x1 ─> ctx
          └─> 1x1 ─ dw5x5 ─ GELU ────────────> b ──> b * S_Map(a) ─┘

The attention is the library's `DeformableAttention` with a 5x5 projection, the maps
`ChannelMap` and `SpatialMap` (s2lic.codec.layers.attention). Where the paper is silent:
the depth-wise branch is the AC's (1x1, depth-wise 5x5, GELU), and a 1x1 projection
after the sum gives the context width. The paper's figure adds no residual of the input
(which has another width).

`GlobalInterContextV1` is the first design (weights ``b8ec76ff`` of ``s2lic-s``): the
deformable attention alone, with a 1x1 projection; docs/model.md.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from s2lic.codec.entropy_model.context.channel import depthwise_branch
from s2lic.codec.layers.attention import ChannelMap, DeformableAttention, SpatialMap
from s2lic.codec.layers.stacked import StackedConv2d

__all__ = ["GlobalInterContext", "GlobalInterContextV1"]


class GlobalInterContext(nn.Module):
    """The paper's AG over the decoded slices (B, s, C, H, W).

    Args:
        members: number of slices with a context (stacked networks).
        in_channels: channels of the decoded slices (the widest member's).
        out_channels: context channels.
        dim: width of the attention and of the depth-wise branch.
        head_dim, grid, offset_range, cpb_hidden: as `DeformableAttention`.
    """

    def __init__(
        self,
        members: int,
        in_channels: int,
        out_channels: int,
        dim: int,
        head_dim: int = 32,
        grid: int = 8,
        offset_range: float = 2.0,
        cpb_hidden: int = 64,
    ) -> None:
        super().__init__()
        S = members
        self.attention = DeformableAttention(
            in_channels,
            dim,
            dim,
            head_dim,
            grid,
            offset_range,
            cpb_hidden,
            members=S,
            proj_kernel=5,
        )
        self.dw_branch = depthwise_branch(S, in_channels, dim)
        self.channel_map = ChannelMap(dim, members=S)
        self.spatial_map = SpatialMap(dim, members=S)
        self.out = StackedConv2d(S, dim, out_channels, 1)

    def forward(self, prev: torch.Tensor, index: int | None = None) -> torch.Tensor:
        """prev: (B, s, C, H, W) -> (B, s, out_channels, H, W)."""
        a = self.attention(prev, index)
        b = self.dw_branch(prev, index)
        mixed = a * self.channel_map(b, index) + b * self.spatial_map(a, index)
        return self.out(mixed, index)


class GlobalInterContextV1(DeformableAttention):
    """The first design (weights ``b8ec76ff``): the deformable attention branch alone,
    with a 1x1 projection to the context.

    Args: as `GlobalInterContext` (`attention`: its keyword arguments).
    """

    def __init__(
        self,
        members: int,
        in_channels: int,
        out_channels: int,
        dim: int,
        **attention: Any,
    ) -> None:
        super().__init__(in_channels, out_channels, dim, members=members, **attention)
