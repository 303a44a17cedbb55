"""Checkerboard split of a latent slice into anchors and non-anchors.

He et al., "Checkerboard Context Model for Efficient Learned Image Compression", CVPR
2021. Anchors (``(row + col) % 2 == 0``) are coded first from the hyperprior and channel
context; non-anchors are then also conditioned on the decoded anchors around them
through a spatial convolution over the anchor-only map. A plain convolution over a map
whose non-anchor positions are zero is exactly the checkerboard-masked convolution of
the paper, restricted to the outputs at non-anchor positions, so no weight mask is
needed.
"""

from __future__ import annotations

import torch

from s2lic.codec.layers.stacked import StackedConv2d

__all__ = ["anchor_mask", "gather", "scatter", "SpatialContext"]


def anchor_mask(
    height: int, width: int, device: torch.device | None = None
) -> torch.Tensor:
    """(1, 1, H, W) bool, True at anchor positions."""
    r = torch.arange(height, device=device)[:, None]
    c = torch.arange(width, device=device)[None, :]
    return ((r + c) % 2 == 0)[None, None]


def gather(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Values of x (B, C, H, W) where `mask` (1, 1, H, W) is True, in C order."""
    return x[mask.expand_as(x)]


def scatter(
    values: torch.Tensor, mask: torch.Tensor, like: torch.Tensor
) -> torch.Tensor:
    """Inverse of `gather`: shaped like `like`, `values` at the mask, 0 elsewhere."""
    out = torch.zeros_like(like)
    out[mask.expand_as(like)] = values.to(like.dtype)
    return out


class SpatialContext(StackedConv2d):
    """Context of non-anchors from the decoded anchors of their slice (one per slice).

    Input: anchors_hat (B, s, C, H, W) with zeros at non-anchor positions.

    Args:
        members: channel slices.
        channels: slice channels.
        out_channels: context channels.
        kernel_size: odd spatial extent (5 in He et al.).
    """

    def __init__(
        self, members: int, channels: int, out_channels: int, kernel_size: int = 5
    ) -> None:
        super().__init__(members, channels, out_channels, kernel_size)
