"""Layers holding one set of weights per channel slice, run for all slices in one call.

The entropy model has a small network per channel slice. Training evaluates all of them
at once (the inputs of every slice are known), decoding one at a time (slice i needs the
decoded slices < i). A stacked layer stores the S members' weights in one tensor and
runs on ``(B, s, C, H, W)`` inputs: with ``index=None`` all S members (s = S) in one
grouped convolution, with ``index=i`` member i alone (s = 1).

Inputs whose width grows with the slice (the decoded slices so far) are zero-padded to
the widest member when stacked; ``index=i`` uses the first C input channels of member
i's weights instead, which gives the same result without the padding.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "StackedBatchNorm2d",
    "StackedConv2d",
    "StackedLinear",
    "StackedSequential",
    "run_one",
]


class StackedConv2d(nn.Module):
    """S independent 'same' convolutions.

    Args:
        members: S.
        in_channels: input channels of each member (the widest, if inputs grow).
        out_channels: output channels of each member.
        kernel_size: odd kernel size.
        groups: 1, or ``in_channels`` for a depth-wise convolution.
        bias: learn a bias.
    """

    def __init__(
        self,
        members: int,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 1,
        groups: int = 1,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.members, self.groups, self.padding = members, groups, kernel_size // 2
        k = kernel_size
        shape = (members, out_channels, in_channels // groups, k, k)
        self.weight = nn.Parameter(torch.empty(shape))
        self.bias = nn.Parameter(torch.zeros(members, out_channels)) if bias else None
        fan_in = in_channels // groups * k * k
        # nn.Conv2d's default initialisation, per member.
        nn.init.uniform_(self.weight, -1 / math.sqrt(fan_in), 1 / math.sqrt(fan_in))
        if self.bias is not None:
            nn.init.uniform_(self.bias, -1 / math.sqrt(fan_in), 1 / math.sqrt(fan_in))

    def forward(self, x: torch.Tensor, index: int | None = None) -> torch.Tensor:
        """x: (B, s, C, H, W) -> (B, s, out, H, W); see the module docstring."""
        B, s, C, H, W = x.shape
        w = self.weight if index is None else self.weight[index : index + 1]
        b = (
            self.bias
            if index is None or self.bias is None
            else self.bias[index : index + 1]
        )
        if self.groups == 1:
            w = w[:, :, :C]
        out = F.conv2d(
            x.reshape(B, s * C, H, W),
            w.reshape(-1, *w.shape[2:]),
            None if b is None else b.reshape(-1),
            padding=self.padding,
            groups=s * self.groups,
        )
        return out.view(B, s, -1, H, W)


class StackedLinear(nn.Module):
    """S independent linear maps over the last dimension of (B, s, ..., in)."""

    def __init__(
        self, members: int, in_features: int, out_features: int, bias: bool = True
    ) -> None:
        super().__init__()
        bound = 1 / math.sqrt(in_features)
        self.weight = nn.Parameter(
            torch.empty(members, out_features, in_features).uniform_(-bound, bound)
        )
        self.bias = (
            nn.Parameter(torch.empty(members, out_features).uniform_(-bound, bound))
            if bias
            else None
        )

    def forward(self, x: torch.Tensor, index: int | None = None) -> torch.Tensor:
        w = self.weight if index is None else self.weight[index : index + 1]
        s = w.shape[0]
        flat = x.reshape(x.shape[0], s, -1, x.shape[-1])
        out = torch.einsum("bspi,soi->bspo", flat, w)
        if self.bias is not None:
            b = self.bias if index is None else self.bias[index : index + 1]
            out = out + b[None, :, None, :]
        return out.reshape(*x.shape[:-1], -1)


class StackedBatchNorm2d(nn.BatchNorm2d):
    """S independent BatchNorm2d layers over (B, s, C, H, W).

    One `nn.BatchNorm2d` of ``S * C`` features holds every member's affine parameters
    and running statistics, so that EMA, checkpoints and ``eval()`` treat it as any
    BatchNorm. ``index=i`` normalises with (and, in training, updates) member i's part.
    A training batch with one value per channel (batch 1 after a global pooling) is
    normalised with the running statistics, which it leaves unchanged: batch statistics
    of one value are undefined.
    """

    def __init__(self, members: int, channels: int) -> None:
        super().__init__(members * channels)

    def forward(  # type: ignore[override]
        self, x: torch.Tensor, index: int | None = None
    ) -> torch.Tensor:
        B, s, C, H, W = x.shape
        part = slice(None) if index is None else slice(index * C, (index + 1) * C)

        def sel(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t[part]

        batch_stats = self.training and B * H * W > 1
        if batch_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
        out = F.batch_norm(
            x.reshape(B, s * C, H, W),
            sel(self.running_mean),
            sel(self.running_var),
            sel(self.weight),
            sel(self.bias),
            batch_stats,
            self.momentum if self.momentum is not None else 0.1,
            self.eps,
        )
        return out.view(B, s, C, H, W)


class StackedSequential(nn.ModuleList):
    """Runs its layers in order, passing `index` to the stacked ones."""

    def forward(self, x: torch.Tensor, index: int | None = None) -> torch.Tensor:
        for layer in self:
            if isinstance(layer, _STACKED):
                x = layer(x, index)
            else:
                x = layer(x)
        return x


_STACKED = (StackedConv2d, StackedLinear, StackedBatchNorm2d, StackedSequential)


def run_one(module: nn.Module, x: torch.Tensor, index: int) -> torch.Tensor:
    """Member `index` of a stacked module on a plain (B, C, H, W) tensor."""
    return module(x.unsqueeze(1), index).squeeze(1)
