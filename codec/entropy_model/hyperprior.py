"""Hyper-analysis and hyper-synthesis: S2LIC's, and ELIC's of the first design.

Ballé et al., "Variational image compression with a scale hyperprior", ICLR 2018. The
S2LIC paper (`assets/arch.png`) draws 3x3 convolutions throughout, with sub-pixel
up-sampling in h_s: h_a N, N, N stride 2, N, N stride 2; h_s M up, M, 1.5M up, 1.5M, 2M.
The figure shows no activations; GELU between the layers is CompressAI's choice for
these transforms. `HyperAnalysis` / `HyperSynthesis` are those; their width N is
`hidden` and the last h_a layer gives `z_channels`, the h_s widths follow M (half of
`out`).

`ElicHyperAnalysis` / `ElicHyperSynthesis` are the first design (weights ``b8ec76ff``
of ``s2lic-s``): He et al., "ELIC", CVPR 2022, with 5x5 strided convolutions and
transposed convolutions; docs/model.md, "Deviations from the paper".
"""

from __future__ import annotations

from torch import nn

from s2lic.codec.layers.conv import conv, deconv, subpel_conv

__all__ = [
    "HyperAnalysis",
    "HyperSynthesis",
    "ElicHyperAnalysis",
    "ElicHyperSynthesis",
    "hyperprior",
]


class HyperAnalysis(nn.Sequential):
    """The paper's h_a: y (B, M, H, W) -> z (B, Z, H/4, W/4)."""

    def __init__(self, latent: int, hidden: int, z_channels: int) -> None:
        super().__init__(
            conv(latent, hidden, 3),
            nn.GELU(),
            conv(hidden, hidden, 3),
            nn.GELU(),
            conv(hidden, hidden, 3, stride=2),
            nn.GELU(),
            conv(hidden, hidden, 3),
            nn.GELU(),
            conv(hidden, z_channels, 3, stride=2),
        )


class HyperSynthesis(nn.Sequential):
    """The paper's h_s: z_hat (B, Z, h, w) -> hyper parameters (B, out, 4h, 4w)."""

    def __init__(self, z_channels: int, out: int) -> None:
        m = out // 2
        super().__init__(
            subpel_conv(z_channels, m, 2),
            nn.GELU(),
            conv(m, m, 3),
            nn.GELU(),
            subpel_conv(m, m * 3 // 2, 2),
            nn.GELU(),
            conv(m * 3 // 2, m * 3 // 2, 3),
            nn.GELU(),
            conv(m * 3 // 2, out, 3),
        )


class ElicHyperAnalysis(nn.Sequential):
    """ELIC's h_a (the first design): y (B, M, H, W) -> z (B, Z, H/4, W/4)."""

    def __init__(self, latent: int, hidden: int, z_channels: int) -> None:
        super().__init__(
            conv(latent, hidden, 3),
            nn.GELU(),
            conv(hidden, hidden, 5, stride=2),
            nn.GELU(),
            conv(hidden, z_channels, 5, stride=2),
        )


class ElicHyperSynthesis(nn.Sequential):
    """ELIC's h_s (the first design): z_hat (B, Z, h, w) -> (B, out, 4h, 4w)."""

    def __init__(self, z_channels: int, hidden: int, out: int) -> None:
        super().__init__(
            deconv(z_channels, hidden, 5, stride=2),
            nn.GELU(),
            deconv(hidden, hidden * 3 // 2, 5, stride=2),
            nn.GELU(),
            conv(hidden * 3 // 2, out, 3),
        )


def hyperprior(
    design: str, latent: int, hidden: int, z_channels: int, out: int
) -> tuple[nn.Module, nn.Module]:
    """(h_a, h_s) of `design`: "paper" or "elic"."""
    if design == "paper":
        return HyperAnalysis(latent, hidden, z_channels), HyperSynthesis(
            z_channels, out
        )
    if design == "elic":
        return (
            ElicHyperAnalysis(latent, hidden, z_channels),
            ElicHyperSynthesis(z_channels, hidden, out),
        )
    raise ValueError(f"unknown hyperprior {design!r}: choose paper or elic")
