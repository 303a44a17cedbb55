"""Hyper-analysis and hyper-synthesis transforms (ELIC / Cheng et al. layout).

Ballé et al., "Variational image compression with a scale hyperprior", ICLR 2018;
widths as in He et al., "ELIC", CVPR 2022.
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
