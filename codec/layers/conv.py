"""Convolution helpers shared by the transforms and the entropy model."""

from __future__ import annotations

from torch import nn

__all__ = ["conv", "deconv", "subpel_conv"]


def conv(in_ch: int, out_ch: int, kernel_size: int = 3, stride: int = 1) -> nn.Conv2d:
    """'Same' convolution; with `stride` s it maps H to ceil(H / s)."""
    return nn.Conv2d(in_ch, out_ch, kernel_size, stride, padding=kernel_size // 2)


def deconv(
    in_ch: int, out_ch: int, kernel_size: int = 3, stride: int = 2
) -> nn.ConvTranspose2d:
    """Transposed convolution that maps H to exactly H * stride."""
    return nn.ConvTranspose2d(
        in_ch,
        out_ch,
        kernel_size,
        stride,
        padding=kernel_size // 2,
        output_padding=stride - 1,
    )


def subpel_conv(in_ch: int, out_ch: int, scale: int = 2) -> nn.Sequential:
    """3x3 convolution followed by pixel shuffle (sub-pixel upsampling by `scale`)."""
    return nn.Sequential(conv(in_ch, out_ch * scale**2, 3), nn.PixelShuffle(scale))
