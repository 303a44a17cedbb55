"""Dense enhancement module at the input of the analysis and output of the synthesis.

S2LIC (Wang et al., arXiv 2403.14471) borrows the enhancement module of Xie et al.,
"Enhanced Invertible Encoding for Learned Image Compression", ACM MM 2021: residual
dense blocks (Zhang et al., "Residual Dense Network for Image Super-Resolution", CVPR
2018) around the image. This is a smaller module in that spirit, **not the paper's**:
the reference ``EnhModule(64)`` is a dense block 3->64 of five convolutions with
LeakyReLU, then 1x1 / 3x3 / 1x1 convolutions, then a dense block 64->3, with output
``x + 0.2 f`` (~314 k parameters per direction); here one or more blocks of GELU dense
layers between a head and a zero-initialised tail (so it starts as the identity), which
can run at half resolution (pixel unshuffle) and with depth-wise separable convolutions
because full-resolution dense convolutions dominate the codec's CPU time. An attention
block from `s2lic.codec.layers.attention` can refine each dense block's output
(``attention``; the paper has none), so attention ablations need no code change.

    x ─┬─> unshuffle ─> conv ─> DenseBlock x n ─> conv ─> shuffle ─(+)─> out
       └─────────────────────────────────────────────────────────┘
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .attention import get_attention

__all__ = ["EnhancementConfig", "DenseLayer", "DenseBlock", "EnhancementModule"]


@dataclass(frozen=True)
class EnhancementConfig:
    """Size of the enhancement module.

    Attributes:
        channels: feature width inside the module (0 disables the module).
        growth: channels added by each dense layer.
        layers: dense layers per block.
        blocks: residual dense blocks.
        unshuffle: 1 = full resolution, 2 = half resolution through pixel unshuffle.
        depthwise: depth-wise separable 3x3 convolutions in the dense layers.
        attention: `get_attention` name of the block applied to each dense block's
            fused output before its residual ("none" in the paper).
    """

    channels: int = 64
    growth: int = 32
    layers: int = 4
    blocks: int = 1
    unshuffle: int = 1
    depthwise: bool = False
    attention: str = "none"


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
