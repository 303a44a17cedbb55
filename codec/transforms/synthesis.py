"""Synthesis transform g_s: latent y_hat -> image."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from s2lic.codec.layers.conv import deconv, subpel_conv
from s2lic.codec.layers.enhancement import EnhancementConfig, build_enhancement
from s2lic.codec.transforms.stages import TransformConfig, build_stages

__all__ = ["StageHook", "SynthesisTransform"]

StageHook = Callable[[int, torch.Tensor], torch.Tensor]
"""Maps (stage index, that stage's output) to the tensor the next layer gets: a
per-image update such as `s2lic.codec.adapt.FiLM`."""


class SynthesisTransform(nn.Module):
    """(Stride-2 deconv, Swin-V2 stage) x 3, sub-pixel conv to RGB, then enhancement.

        y_hat (B,M,h,w) ─> deconv ─> stage0 ─> deconv ─> stage1 ─> deconv ─> stage2
                        ─> subpel x2 ─> enh ─> x_hat (B, 3, 16h, 16w)

    Args:
        cfg: Swin stages in processing order (stride 8, 4, 2).
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
        ins = (latent_channels, *cfg.dims[:-1])
        self.up = nn.ModuleList(
            deconv(i, o, 3, stride=2) for i, o in zip(ins, cfg.dims, strict=True)
        )
        self.stages = build_stages(cfg, backend)
        self.out = subpel_conv(cfg.dims[-1], 3, 2)
        self.enh = build_enhancement(enhancement)

    def forward(
        self, y_hat: torch.Tensor, hook: StageHook | None = None
    ) -> torch.Tensor:
        x = y_hat
        for i, (up, stage) in enumerate(zip(self.up, self.stages, strict=True)):
            x = stage(up(x))
            if hook is not None:
                x = hook(i, x)
        return self.enh(self.out(x))
