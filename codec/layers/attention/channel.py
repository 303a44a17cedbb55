"""Channel attention: re-weight the channels of a feature map.

Every block maps ``(B, C, H, W)`` to the same shape. The gating blocks used inside the
stacked entropy model (`ChannelGate`, `SqueezeExcitation`) also take ``members`` and run
on ``(B, s, C, H, W)`` with one set of weights per member, like
`s2lic.codec.layers.stacked.StackedConv2d`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from ..stacked import StackedBatchNorm2d, StackedConv2d, StackedSequential

__all__ = [
    "ChannelGate",
    "ChannelMap",
    "interaction_layers",
    "SqueezeExcitation",
    "EfficientChannelAttention",
    "eca_kernel_size",
    "FrequencyChannelAttention",
    "dct_filters",
    "FCA_TOP16",
    "GatedChannelTransform",
    "SimAM",
]


class ChannelGate(StackedSequential):
    """Per-channel gate in (0, 1): pooled channels -> bottleneck MLP -> sigmoid.

    The excitation of squeeze-and-excitation (Hu et al., "Squeeze-and-Excitation
    Networks", CVPR 2018); with ``max_pool`` the channel half of CBAM (Woo et al., ECCV
    2018), which sums the MLP of average- and max-pooled features before the sigmoid.

    Args:
        channels: C.
        reduction: bottleneck width is ``max(C // reduction, min_hidden)``.
        act: activation of the bottleneck.
        max_pool: add the max-pooled branch (CBAM).
        min_hidden: smallest bottleneck width.
        members: stacked weight sets (1 for a plain module).
    """

    def __init__(
        self,
        channels: int,
        reduction: int = 16,
        act: Callable[[], nn.Module] = nn.ReLU,
        max_pool: bool = False,
        min_hidden: int = 4,
        members: int = 1,
    ) -> None:
        hidden = max(channels // reduction, min_hidden)
        super().__init__(
            [
                StackedConv2d(members, channels, hidden, 1),
                act(),
                StackedConv2d(members, hidden, channels, 1),
            ]
        )
        self.max_pool = max_pool

    def forward(self, x: torch.Tensor, index: int | None = None) -> torch.Tensor:
        """x: (B, C, H, W) or (B, s, C, H, W) -> gate of shape (..., C, 1, 1)."""
        if x.dim() == 4:
            return self(x.unsqueeze(1), index).squeeze(1)
        logits = super().forward(x.mean(dim=(-2, -1), keepdim=True), index)
        if self.max_pool:
            logits = logits + super().forward(x.amax(dim=(-2, -1), keepdim=True), index)
        return torch.sigmoid(logits)


class ChannelMap(StackedSequential):
    """Per-channel gate in (0, 1): AvgPool-Conv-BN-GELU-Conv-Sigmoid.

    The channel interaction of MixFormer (Chen et al., "MixFormer: Mixing Features
    across Windows and Dimensions", CVPR 2022), which S2LIC draws as its C_Map
    (`assets/ACGC.png`): the global average of one branch gates the channels of the
    other. The convolutions are 1x1 (MixFormer's; the S2LIC figure gives no size).

    Args:
        channels: C of the input and of the gate.
        reduction: hidden width is ``max(C // reduction, min_hidden)`` (MixFormer: 8).
        min_hidden: smallest hidden width.
        members: stacked weight sets (1 for a plain module).
    """

    def __init__(
        self,
        channels: int,
        reduction: int = 8,
        min_hidden: int = 4,
        members: int = 1,
    ) -> None:
        hidden = max(channels // reduction, min_hidden)
        super().__init__(interaction_layers(members, channels, hidden, channels))

    def forward(self, x: torch.Tensor, index: int | None = None) -> torch.Tensor:
        """x: (B, C, H, W) or (B, s, C, H, W) -> gate of shape (..., C, 1, 1)."""
        if x.dim() == 4:
            return self(x.unsqueeze(1), index).squeeze(1)
        return torch.sigmoid(super().forward(x.mean(dim=(-2, -1), keepdim=True), index))


def interaction_layers(
    members: int, channels: int, hidden: int, out: int
) -> list[nn.Module]:
    """Conv1x1-BN-GELU-Conv1x1 (stacked): the body of MixFormer's interaction maps."""
    return [
        StackedConv2d(members, channels, hidden, 1),
        StackedBatchNorm2d(members, hidden),
        nn.GELU(),
        StackedConv2d(members, hidden, out, 1),
    ]


class SqueezeExcitation(nn.Module):
    """SE: ``x * ChannelGate(x)`` (Hu et al., CVPR 2018); arguments as `ChannelGate`."""

    def __init__(
        self,
        channels: int,
        reduction: int = 16,
        act: Callable[[], nn.Module] = nn.ReLU,
        members: int = 1,
    ) -> None:
        super().__init__()
        self.gate = ChannelGate(channels, reduction, act, members=members)

    def forward(self, x: torch.Tensor, index: int | None = None) -> torch.Tensor:
        return x * self.gate(x, index)


def eca_kernel_size(channels: int, gamma: int = 2, b: int = 1) -> int:
    """ECA's adaptive kernel: ``|(log2 C + b) / gamma|`` rounded down to an odd size."""
    t = int(abs((math.log2(channels) + b) / gamma))
    return t if t % 2 else t + 1


class EfficientChannelAttention(nn.Module):
    """ECA: a 1-D convolution across the pooled channels, no bottleneck.

    Wang et al., "ECA-Net: Efficient Channel Attention for Deep Convolutional Neural
    Networks", CVPR 2020. The kernel size grows with log2(C) (`eca_kernel_size`).
    """

    def __init__(
        self, channels: int, kernel_size: int | None = None, gamma: int = 2, b: int = 1
    ) -> None:
        super().__init__()
        k = kernel_size or eca_kernel_size(channels, gamma, b)
        self.conv = nn.Conv1d(1, 1, k, padding=k // 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x.mean(dim=(-2, -1)).unsqueeze(1))  # (B, 1, C)
        return x * torch.sigmoid(y).transpose(1, 2).unsqueeze(-1)


# FcaNet's "top16" frequencies of a 7x7 DCT (u, v), from its ablation on ImageNet.
FCA_TOP16: tuple[tuple[int, int], ...] = (
    (0, 0), (0, 1), (6, 0), (0, 5), (0, 2), (1, 0), (1, 2), (4, 0),
    (5, 0), (1, 6), (3, 0), (0, 4), (0, 6), (0, 3), (3, 5), (2, 2),
)  # fmt: skip


def dct_filters(
    channels: int, size: int, frequencies: tuple[tuple[int, int], ...]
) -> torch.Tensor:
    """(C, size, size) 2-D DCT-II bases; channel group g uses ``frequencies[g]``.

    The bases are scaled so that frequency (0, 0) is the spatial mean: with only that
    frequency, FcaNet's pooling is SE's global average pooling.
    """
    if channels % len(frequencies):
        raise ValueError(
            f"{channels} channels do not split into {len(frequencies)} frequency groups"
        )
    pos = torch.arange(size, dtype=torch.float64) + 0.5
    out = torch.empty(channels, size, size, dtype=torch.float64)
    group = channels // len(frequencies)
    for g, (u, v) in enumerate(frequencies):
        basis = torch.outer(
            torch.cos(math.pi * u * pos / size), torch.cos(math.pi * v * pos / size)
        )
        out[g * group : (g + 1) * group] = basis / size**2
    return out.float()


class FrequencyChannelAttention(nn.Module):
    """FcaNet: SE whose squeeze pools each channel group with a different DCT basis.

    Qin et al., "FcaNet: Frequency Channel Attention Networks", ICCV 2021. The feature
    map is average-pooled to ``dct_size``^2 first (as in the paper's code) so that the
    block works at any resolution.

    Args:
        channels: C, divisible by the number of frequencies.
        reduction: SE bottleneck ratio.
        dct_size: side of the DCT grid.
        frequencies: (u, v) per channel group; default the paper's top 16 (or the first
            ones that divide C).
    """

    def __init__(
        self,
        channels: int,
        reduction: int = 16,
        dct_size: int = 7,
        frequencies: tuple[tuple[int, int], ...] | None = None,
    ) -> None:
        super().__init__()
        if frequencies is None:
            n = math.gcd(channels, len(FCA_TOP16))
            frequencies = FCA_TOP16[:n]
        self.dct_size = dct_size
        self.register_buffer(
            "filters", dct_filters(channels, dct_size, frequencies), persistent=False
        )
        hidden = max(channels // reduction, 4)
        self.fc = nn.Sequential(
            nn.Linear(channels, hidden), nn.ReLU(), nn.Linear(hidden, channels)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = nn.functional.adaptive_avg_pool2d(x, self.dct_size)
        squeezed = (pooled * self.filters).sum(dim=(-2, -1))  # (B, C)
        return x * torch.sigmoid(self.fc(squeezed))[..., None, None]


class GatedChannelTransform(nn.Module):
    """GCT: gates from the L2 norm of each channel, normalised across channels.

    Yang et al., "Gated Channel Transformation for Visual Recognition", CVPR 2020:
    ``x * (1 + tanh(gamma * s / ||s||_rms + beta))`` with ``s = alpha * ||x_c||_2``.
    It starts as the identity (gamma = beta = 0).
    """

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(1, channels, 1, 1))
        self.gamma = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.beta = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        l2 = (x.pow(2).sum(dim=(-2, -1), keepdim=True) + self.eps).sqrt()
        embedding = self.alpha * l2
        norm = (embedding.pow(2).mean(dim=1, keepdim=True) + self.eps).rsqrt()
        return x * (1.0 + torch.tanh(embedding * norm * self.gamma + self.beta))


class SimAM(nn.Module):
    """SimAM: parameter-free 3-D attention from an energy function per neuron.

    Yang et al., "SimAM: A Simple, Parameter-Free Attention Module for Convolutional
    Neural Networks", ICML 2021. Neurons that differ most from their channel's mean
    get the largest weight: ``x * sigmoid(d / (4 (var + lambda)) + 0.5)``.

    Args:
        channels: unused (the block has no parameters); accepted for the factory.
        lam: the energy's regulariser lambda.
    """

    def __init__(self, channels: int | None = None, lam: float = 1e-4) -> None:
        super().__init__()
        self.lam = lam

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = max(x.shape[-2] * x.shape[-1] - 1, 1)  # 1x1 maps: no neighbours, d = 0
        d = (x - x.mean(dim=(-2, -1), keepdim=True)).pow(2)
        energy = d / (4.0 * (d.sum(dim=(-2, -1), keepdim=True) / n + self.lam)) + 0.5
        return x * torch.sigmoid(energy)
