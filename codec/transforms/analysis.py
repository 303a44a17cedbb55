"""Analysis transform g_a: image -> latent y at stride 16."""

from __future__ import annotations

import torch
from torch import nn

from s2lic.codec.layers.conv import conv
from s2lic.codec.layers.enhancement import EnhancementConfig, build_enhancement
from s2lic.codec.transforms.stages import TransformConfig, build_stages

__all__ = ["AnalysisTransform"]


class AnalysisTransform(nn.Module):
    """Enhancement, then (stride-2 conv, Swin-V2 stage) x 3, then a stride-2 conv.

        x (B,3,H,W) ─> enh ─> conv5 s2 ─> stage0 ─> conv3 s2 ─> stage1 ─> conv3 s2
                    ─> stage2 ─> conv3 s2 ─> y (B, M, H/16, W/16)

    Args:
        cfg: Swin stages.
        latent_channels: M.
        enhancement: enhancement module size (channels 0 = none).
        backend: attention backend.
    """

    def __init__(
        self,
        cfg: TransformConfig,
        latent_channels: int,
        enhancement: EnhancementConfig,
        backend: str | None = None,
    ) -> None:
        super().__init__()
        self.enh = build_enhancement(enhancement)
        ins = (3, *cfg.dims[:-1])
        self.down = nn.ModuleList(
            conv(i, o, 5 if n == 0 else 3, stride=2)
            for n, (i, o) in enumerate(zip(ins, cfg.dims, strict=True))
        )
        self.stages = build_stages(cfg, backend)
        self.out = conv(cfg.dims[-1], latent_channels, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.enh(x)
        for down, stage in zip(self.down, self.stages, strict=True):
            x = stage(down(x))
        return self.out(x)
