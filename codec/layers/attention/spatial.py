"""Spatial and hybrid attention: re-weight positions (and channels) of a feature map.

Every block maps ``(B, C, H, W)`` to the same shape. The papers' BatchNorm layers are
left out or replaced by GroupNorm (these blocks also serve models trained with batch 1),
except in `SpatialMap`, the S2LIC paper's S_Map. `SpatialGate` and `SpatialMap` also
take ``members`` (stacked weight sets, see
`s2lic.codec.layers.stacked`) because the entropy model's AC context uses it.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..stacked import StackedConv2d, StackedSequential
from .channel import ChannelGate, interaction_layers

__all__ = [
    "SpatialGate",
    "SpatialMap",
    "CBAM",
    "TripletAttention",
    "CoordinateAttention",
    "EfficientLocalAttention",
    "LargeKernelAttention",
]


def channel_pool(x: torch.Tensor, dim: int) -> torch.Tensor:
    """CBAM's pooling across `dim`: its max and mean, concatenated along `dim`."""
    return torch.cat(
        [x.amax(dim=dim, keepdim=True), x.mean(dim=dim, keepdim=True)], dim=dim
    )


class SpatialGate(StackedSequential):
    """Per-position gate in (0, 1) from a k x k convolution to one channel.

    With ``pooled`` the convolution sees the channel-wise max and mean (the spatial half
    of CBAM, Woo et al., ECCV 2018); without it, all C channels (the spatial map of the
    S2LIC AC context).

    Args:
        channels: C.
        kernel_size: odd k.
        pooled: pool the channels first.
        members: stacked weight sets (1 for a plain module).
    """

    def __init__(
        self,
        channels: int,
        kernel_size: int = 7,
        pooled: bool = True,
        members: int = 1,
    ) -> None:
        super().__init__(
            [StackedConv2d(members, 2 if pooled else channels, 1, kernel_size)]
        )
        self.pooled = pooled

    def forward(self, x: torch.Tensor, index: int | None = None) -> torch.Tensor:
        """x: (B, C, H, W) or (B, s, C, H, W) -> gate of shape (..., 1, H, W)."""
        if x.dim() == 4:
            return self(x.unsqueeze(1), index).squeeze(1)
        inp = channel_pool(x, dim=2) if self.pooled else x
        return torch.sigmoid(super().forward(inp, index))


class SpatialMap(StackedSequential):
    """Per-position gate in (0, 1): Conv-BN-GELU-Conv-Sigmoid to one channel.

    The spatial interaction of MixFormer (Chen et al., CVPR 2022), which S2LIC draws as
    its S_Map (`assets/ACGC.png`): one branch decides where the other one counts. The
    convolutions are 1x1 (MixFormer's; the S2LIC figure gives no size). Unlike the
    other blocks of this module it keeps the papers' BatchNorm, which at inference is
    a fixed affine map of the running statistics.

    Args:
        channels: C of the input.
        reduction: hidden width is ``max(C // reduction, min_hidden)`` (MixFormer: 16).
        min_hidden: smallest hidden width.
        members: stacked weight sets (1 for a plain module).
    """

    def __init__(
        self,
        channels: int,
        reduction: int = 16,
        min_hidden: int = 4,
        members: int = 1,
    ) -> None:
        hidden = max(channels // reduction, min_hidden)
        super().__init__(interaction_layers(members, channels, hidden, 1))

    def forward(self, x: torch.Tensor, index: int | None = None) -> torch.Tensor:
        """x: (B, C, H, W) or (B, s, C, H, W) -> gate of shape (..., 1, H, W)."""
        if x.dim() == 4:
            return self(x.unsqueeze(1), index).squeeze(1)
        return torch.sigmoid(super().forward(x, index))


class CBAM(nn.Module):
    """Convolutional block attention: a channel gate, then a spatial gate.

    Woo et al., "CBAM: Convolutional Block Attention Module", ECCV 2018.
    """

    def __init__(
        self, channels: int, reduction: int = 16, kernel_size: int = 7
    ) -> None:
        super().__init__()
        self.channel = ChannelGate(channels, reduction, max_pool=True)
        self.spatial = SpatialGate(channels, kernel_size, pooled=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x * self.channel(x)
        return x * self.spatial(x)


class TripletAttention(nn.Module):
    """Three rotated branches gate the (C, W), (H, C) and (H, W) planes; averaged.

    Misra et al., "Rotate to Attend: Convolutional Triplet Attention Module", WACV 2021.
    Each branch rotates the tensor so that another dimension plays the channel role,
    pools it away (max and mean), gates the remaining plane with a k x k convolution
    and rotates back.
    """

    # Permutations of (B, C, H, W) that bring H, W or C into the channel position;
    # each is its own inverse.
    _ROTATIONS = ((0, 2, 1, 3), (0, 3, 2, 1), (0, 1, 2, 3))

    def __init__(self, channels: int | None = None, kernel_size: int = 7) -> None:
        super().__init__()
        self.gates = nn.ModuleList(
            nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2)
            for _ in self._ROTATIONS
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.zeros_like(x)
        for perm, conv in zip(self._ROTATIONS, self.gates, strict=True):
            r = x.permute(perm)
            out = out + (r * torch.sigmoid(conv(channel_pool(r, dim=1)))).permute(perm)
        return out / len(self._ROTATIONS)


class CoordinateAttention(nn.Module):
    """Gates along H and along W from direction-aware pooled features.

    Hou et al., "Coordinate Attention for Efficient Mobile Network Design", CVPR 2021:
    pool each row and each column, a shared 1x1 bottleneck over both, then one gate
    per direction; ``x * a_h * a_w``.
    """

    def __init__(self, channels: int, reduction: int = 32, min_hidden: int = 8) -> None:
        super().__init__()
        hidden = max(channels // reduction, min_hidden)
        self.squeeze = nn.Sequential(
            nn.Conv2d(channels, hidden, 1), nn.GroupNorm(1, hidden), nn.Hardswish()
        )
        self.gate_h = nn.Conv2d(hidden, channels, 1)
        self.gate_w = nn.Conv2d(hidden, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        H = x.shape[-2]
        rows = x.mean(dim=-1, keepdim=True)  # (B, C, H, 1)
        cols = x.mean(dim=-2, keepdim=True).transpose(-1, -2)  # (B, C, W, 1)
        y = self.squeeze(torch.cat([rows, cols], dim=2))
        a_h = torch.sigmoid(self.gate_h(y[:, :, :H]))
        a_w = torch.sigmoid(self.gate_w(y[:, :, H:])).transpose(-1, -2)
        return x * a_h * a_w


class EfficientLocalAttention(nn.Module):
    """ELA: coordinate attention with depth-wise 1-D convolutions and GroupNorm.

    Xu and Wan, "ELA: Efficient Local Attention for Deep Convolutional Neural
    Networks", arXiv 2403.01123 (2024). One shared 1-D convolution + GroupNorm +
    sigmoid turns the row and column averages into the two directional gates.
    """

    def __init__(self, channels: int, kernel_size: int = 7, groups: int = 16) -> None:
        super().__init__()
        self.conv = nn.Conv1d(
            channels,
            channels,
            kernel_size,
            padding=kernel_size // 2,
            groups=channels,
            bias=False,
        )
        self.norm = nn.GroupNorm(math.gcd(groups, channels), channels)

    def _gate(self, v: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.norm(self.conv(v)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a_h = self._gate(x.mean(dim=-1)).unsqueeze(-1)  # (B, C, H, 1)
        a_w = self._gate(x.mean(dim=-2)).unsqueeze(-2)  # (B, C, 1, W)
        return x * a_h * a_w


class LargeKernelAttention(nn.Module):
    """LKA: a large receptive field from depth-wise + dilated depth-wise + 1x1 convs.

    Guo et al., "Visual Attention Network", CVM 2023 (arXiv 2202.09741): a 21x21
    attention map decomposed into 5x5 depth-wise, 7x7 depth-wise with dilation 3, and
    a 1x1 convolution; ``x * attn``.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.local = nn.Conv2d(channels, channels, 5, padding=2, groups=channels)
        self.dilated = nn.Conv2d(
            channels, channels, 7, padding=9, dilation=3, groups=channels
        )
        self.pointwise = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.pointwise(self.dilated(self.local(x)))
