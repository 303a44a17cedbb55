"""Hyper-analysis and hyper-synthesis transforms: ELIC's, not S2LIC's.

Ballé et al., "Variational image compression with a scale hyperprior", ICLR 2018;
layout and widths as in He et al., "ELIC", CVPR 2022 (5x5 strided convolutions and
transposed convolutions). The S2LIC paper draws 3x3 convolutions with sub-pixel
up-sampling instead (h_a: N, N, N with stride 2, N, N with stride 2; h_s: M up, M,
1.5M up, 1.5M, 2M); docs/model.md, "Deviations from the paper".
"""

from __future__ import annotations

from torch import nn

from s2lic.codec.layers.conv import conv, deconv

__all__ = ["HyperAnalysis", "HyperSynthesis"]


class HyperAnalysis(nn.Sequential):
    """y (B, M, H, W) -> z (B, Z, H/4, W/4)."""

    def __init__(self, latent: int, hidden: int, z_channels: int) -> None:
        super().__init__(
            conv(latent, hidden, 3),
            nn.GELU(),
            conv(hidden, hidden, 5, stride=2),
            nn.GELU(),
            conv(hidden, z_channels, 5, stride=2),
        )


class HyperSynthesis(nn.Sequential):
    """z_hat (B, Z, h, w) -> hyper parameters (B, out, 4h, 4w)."""

    def __init__(self, z_channels: int, hidden: int, out: int) -> None:
        super().__init__(
            deconv(z_channels, hidden, 5, stride=2),
            nn.GELU(),
            deconv(hidden, hidden * 3 // 2, 5, stride=2),
            nn.GELU(),
            conv(hidden * 3 // 2, out, 3),
        )
