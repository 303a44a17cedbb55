"""S2LIC: Swin-V2 transforms, dense enhancement and the ACGC entropy model.

Wang et al., "S2LIC: Learned Image Compression with the SwinV2 Block, Adaptive
Channel-wise and Global-inter Attention Context", arXiv 2403.14471, extended with
quality-controlled gains (Cui et al., CVPR 2021) so that one model covers a continuous
range of rates::

    x ─> g_a ─> y ─> *gain(q) ─> ACGC entropy model ─> y_hat ─> *inv_gain(q) ─> g_s
                                     (z, y streams)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from s2lic.codec.layers.enhancement import EnhancementConfig
from s2lic.codec.layers.gain import QualityGain
from s2lic.codec.models.base import Encoded, RDOutput
from s2lic.codec.transforms.analysis import AnalysisTransform
from s2lic.codec.transforms.stages import TransformConfig
from s2lic.codec.transforms.synthesis import SynthesisTransform
from s2lic.entropy.coders.base import EntropyCoder
from s2lic.entropy.models.acgc import ACGCConfig, ACGCEntropyModel

__all__ = ["S2LICConfig", "S2LIC"]


@dataclass(frozen=True)
class S2LICConfig:
    """Everything that defines an S2LIC network.

    Attributes:
        analysis: Swin stages of g_a (strides 2, 4, 8).
        synthesis: Swin stages of g_s (strides 8, 4, 2).
        enhancement: dense enhancement module (input of g_a, output of g_s).
        entropy: ACGC entropy model (its `latent_channels` is M for the transforms).
        quality_levels: learned gain vectors K (quality interpolates between them).
        attention: attention backend of the Swin blocks (None = default).
    """

    analysis: TransformConfig = field(default_factory=TransformConfig)
    synthesis: TransformConfig = field(
        default_factory=lambda: TransformConfig(depths=(3, 2, 1), heads=(16, 8, 4))
    )
    enhancement: EnhancementConfig = field(default_factory=EnhancementConfig)
    entropy: ACGCConfig = field(default_factory=ACGCConfig)
    quality_levels: int = 8
    attention: str | None = None


class S2LIC(nn.Module):
    """The S2LIC codec network (see the module docstring).

    Args:
        cfg: network configuration.
    """

    #: Input sides must be multiples of this (stride 16 of g_a times 4 of h_a).
    pad_multiple = 64

    def __init__(self, cfg: S2LICConfig) -> None:
        super().__init__()
        self.cfg = cfg
        M = cfg.entropy.latent_channels
        self.g_a = AnalysisTransform(cfg.analysis, M, cfg.enhancement, cfg.attention)
        self.g_s = SynthesisTransform(cfg.synthesis, M, cfg.enhancement, cfg.attention)
        self.gain = QualityGain(cfg.quality_levels, M)
        self.entropy = ACGCEntropyModel(cfg.entropy)

    def _check(self, x: torch.Tensor) -> None:
        H, W = x.shape[-2:]
        if H % self.pad_multiple or W % self.pad_multiple:
            raise ValueError(
                f"input {H}x{W} is not padded to a multiple of {self.pad_multiple}"
            )

    @staticmethod
    def _quality(
        q: float | torch.Tensor, batch: int, device: torch.device
    ) -> torch.Tensor:
        q = torch.as_tensor(q, dtype=torch.float32, device=device)
        return q.expand(batch) if q.ndim == 0 else q

    def forward(self, x: torch.Tensor, quality: float | torch.Tensor = 1.0) -> RDOutput:
        """Training / evaluation pass.

        Args:
            x: (B, 3, H, W) in [0, 1], H and W multiples of 64.
            quality: scalar or (B,) in [0, 1].

        Returns:
            `RDOutput` with x_hat (B, 3, H, W) and likelihoods of y and z.
        """
        self._check(x)
        q = self._quality(quality, x.shape[0], x.device)
        y = self.gain(self.g_a(x), q)
        y_hat, likelihoods = self.entropy(y)
        x_hat = self.g_s(self.gain(y_hat, q, inverse=True))
        return RDOutput(x_hat, likelihoods, y_hat)

    @torch.no_grad()
    def compress_latent(
        self, y: torch.Tensor, quality: float, coder: EntropyCoder
    ) -> Encoded:
        """Code an analysis output y (1, M, H/16, W/16) at `quality`.

        Separate from `compress` so that a rate search runs g_a once.
        """
        q = self._quality(quality, 1, y.device)
        coded = self.entropy.compress(self.gain(y, q), coder)
        H, W = y.shape[-2] * 16, y.shape[-1] * 16
        return Encoded(
            coded.streams,
            (H, W),
            quality,
            tuple(coded.symbols),
            coded.y_hat,
            coded.margin,
        )

    @torch.no_grad()
    def compress(self, x: torch.Tensor, quality: float, coder: EntropyCoder) -> Encoded:
        """Entropy-code an image x (1, 3, H, W) in [0, 1], H and W multiples of 64."""
        self._check(x)
        return self.compress_latent(self.g_a(x), quality, coder)

    @torch.no_grad()
    def synthesize(self, y_hat: torch.Tensor, quality: float) -> torch.Tensor:
        """x_hat from a dequantised (gained) latent."""
        q = self._quality(quality, y_hat.shape[0], y_hat.device)
        return self.g_s(self.gain(y_hat, q, inverse=True))

    @torch.no_grad()
    def decompress(
        self,
        streams: tuple[bytes, ...],
        shape: tuple[int, int],
        quality: float,
        coder: EntropyCoder,
    ) -> tuple[torch.Tensor, list[object]]:
        """Decode streams of an image of padded size `shape`.

        Returns:
            x_hat (1, 3, H, W) (not clamped) and the decoded symbols in coding order.
        """
        device = next(self.parameters()).device
        z_shape = (shape[0] // self.pad_multiple, shape[1] // self.pad_multiple)
        coded = self.entropy.decompress(
            (streams[0], streams[1]), z_shape, coder, device
        )
        return self.synthesize(coded.y_hat, quality), list(coded.symbols)
