"""Dense enhancement module at the input of the analysis and output of the synthesis.

S2LIC (Wang et al., arXiv 2403.14471) borrows the enhancement module of Xie et al.,
"Enhanced Invertible Encoding for Learned Image Compression", ACM MM 2021: residual
dense blocks (Zhang et al., "Residual Dense Network for Image Super-Resolution", CVPR
2018) around the image. Two designs (`EnhancementConfig.design`):

- ``"paper"``, `PaperEnhancement`: the reference ``EnhModule(64)``, a dense block 3->64
  of five 3x3 convolutions with LeakyReLU(0.2), then 1x1 / 3x3 / 1x1 convolutions, then
  a dense block 64->3, with output ``x + 0.2 f`` (~314 k parameters per direction; its
  last convolutions start at zero, so the module starts as the identity)::

      x ─┬─> DenseBlock(3->C) ─> 1x1 ─> 3x3 ─> 1x1 ─> DenseBlock(C->3) ─> *0.2 ─(+)─>
         └────────────────────────────────────────────────────────────────────┘

- ``"compact"``, `EnhancementModule`: a smaller module in that spirit, the first
  design's (weights ``b8ec76ff`` of s2lic-s): blocks of GELU dense layers between a head
  and a zero-initialised tail, which can run at half resolution (pixel unshuffle) and
  with depth-wise separable convolutions, because full-resolution dense convolutions
  dominate the codec's CPU time. An attention block from `s2lic.codec.layers.attention`
  can refine each dense block's output (``attention``; the paper has none)::

      x ─┬─> unshuffle ─> conv ─> DenseBlock x n ─> conv ─> shuffle ─(+)─> out
         └─────────────────────────────────────────────────────────┘
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .attention import get_attention

__all__ = [
    "EnhancementConfig",
    "DenseLayer",
    "DenseBlock",
    "EnhancementModule",
    "PaperEnhancement",
    "build_enhancement",
]


@dataclass(frozen=True)
class EnhancementConfig:
    """Size of the enhancement module.

    Attributes:
        channels: feature width inside the module (0 disables the module).
        growth: channels added by each dense layer.
        layers: dense layers per block (the paper's blocks: 4, then an output conv).
        blocks: residual dense blocks ("compact" only).
        unshuffle: 1 = full resolution, 2 = half resolution through pixel unshuffle
            ("compact" only).
        depthwise: depth-wise separable 3x3 convolutions in the dense layers
            ("compact" only).
        attention: `get_attention` name of the block applied to each dense block's
            fused output before its residual ("none" in the paper; "compact" only).
        design: "paper" (`PaperEnhancement`) or "compact" (`EnhancementModule`, the
            first design's).
    """

    channels: int = 64
    growth: int = 32
    layers: int = 4
    blocks: int = 1
    unshuffle: int = 1
    depthwise: bool = False
    attention: str = "none"
    # The default of a field added after weights shipped keeps those weights' module.
    design: str = "compact"

    def __post_init__(self) -> None:
        if self.design not in ("paper", "compact"):
            raise ValueError(f"unknown enhancement {self.design!r}: paper or compact")
        if self.design == "paper" and (
            self.blocks != 1
            or self.unshuffle != 1
            or self.depthwise
            or self.attention != "none"
        ):
            raise ValueError(
                "the paper's enhancement has one block at full resolution, "
                "plain convolutions and no attention"
            )


class DenseLayer(nn.Module):
    """3x3 convolution + GELU whose output is concatenated to its input."""

    def __init__(self, in_ch: int, growth: int, depthwise: bool = False) -> None:
        super().__init__()
        if depthwise:
            self.conv: nn.Module = nn.Sequential(
                nn.Conv2d(in_ch, in_ch, 3, padding=1, groups=in_ch),
                nn.Conv2d(in_ch, growth, 1),
            )
        else:
            self.conv = nn.Conv2d(in_ch, growth, 3, padding=1)
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.act(self.conv(x))], dim=1)


class DenseBlock(nn.Module):
    """Residual dense block: dense layers, 1x1 fusion, attention, local residual."""

    def __init__(
        self,
        channels: int,
        growth: int,
        layers: int,
        depthwise: bool = False,
        attention: str = "none",
    ) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            *(
                DenseLayer(channels + i * growth, growth, depthwise)
                for i in range(layers)
            )
        )
        self.fusion = nn.Conv2d(channels + layers * growth, channels, 1)
        self.attention = get_attention(attention, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.attention(self.fusion(self.layers(x)))


class EnhancementModule(nn.Module):
    """Residual image-domain enhancement; starts as the identity (zero last conv).

    Args:
        cfg: module size.
        image_channels: channels of the image (3).
    """

    def __init__(self, cfg: EnhancementConfig, image_channels: int = 3) -> None:
        super().__init__()
        r = cfg.unshuffle
        io = image_channels * r * r
        self.unshuffle = nn.PixelUnshuffle(r) if r > 1 else nn.Identity()
        self.shuffle = nn.PixelShuffle(r) if r > 1 else nn.Identity()
        self.head = nn.Conv2d(io, cfg.channels, 3, padding=1)
        self.body = nn.Sequential(
            *(
                DenseBlock(
                    cfg.channels, cfg.growth, cfg.layers, cfg.depthwise, cfg.attention
                )
                for _ in range(cfg.blocks)
            )
        )
        self.tail = nn.Conv2d(cfg.channels, io, 3, padding=1)
        nn.init.zeros_(self.tail.weight)
        nn.init.zeros_(self.tail.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, 3, H, W) with H, W divisible by `unshuffle` -> same shape."""
        return x + self.shuffle(self.tail(self.body(self.head(self.unshuffle(x)))))


class _LeakyDenseBlock(nn.Module):
    """Xie et al.'s dense block: `layers` 3x3 convs + LeakyReLU(0.2) that each see all
    earlier outputs, then a 3x3 output conv (zero-initialised)."""

    def __init__(self, in_ch: int, out_ch: int, growth: int, layers: int) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv2d(in_ch + i * growth, growth, 3, padding=1) for i in range(layers)
        )
        self.out = nn.Conv2d(in_ch + layers * growth, out_ch, 3, padding=1)
        self.act = nn.LeakyReLU(0.2)
        for c in self.convs:  # the reference's Xavier initialisation scaled by 0.1
            nn.init.xavier_normal_(c.weight, gain=0.1)
            nn.init.zeros_(c.bias)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [x]
        for c in self.convs:
            feats.append(self.act(c(torch.cat(feats, dim=1))))
        return self.out(torch.cat(feats, dim=1))


class PaperEnhancement(nn.Module):
    """The paper's enhancement block (Xie et al.'s ``EnhBlock``): ``x + 0.2 f(x)``.

    Args:
        cfg: `channels` (the reference: 64), `growth` (32) and `layers` (4).
        image_channels: channels of the image (3).
    """

    def __init__(self, cfg: EnhancementConfig, image_channels: int = 3) -> None:
        super().__init__()
        C = cfg.channels
        self.body = nn.Sequential(
            _LeakyDenseBlock(image_channels, C, cfg.growth, cfg.layers),
            nn.Conv2d(C, C, 1),
            nn.Conv2d(C, C, 3, padding=1),
            nn.Conv2d(C, C, 1),
            _LeakyDenseBlock(C, image_channels, cfg.growth, cfg.layers),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, 3, H, W) -> same shape."""
        return x + 0.2 * self.body(x)


def build_enhancement(cfg: EnhancementConfig) -> nn.Module:
    """The enhancement module of `cfg` (the identity when ``channels == 0``)."""
    if not cfg.channels:
        return nn.Identity()
    return PaperEnhancement(cfg) if cfg.design == "paper" else EnhancementModule(cfg)
