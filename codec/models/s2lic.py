"""S2LIC: Swin-V2 transforms, dense enhancement and the ACGC entropy model.

Wang et al., "S2LIC: Learned Image Compression with the SwinV2 Block, Adaptive
Channel-wise and Global-inter Attention Context", arXiv 2403.14471, extended with
quality-controlled gains (Cui et al., CVPR 2021) so that one model covers a continuous
range of rates::

    x ─> g_a ─> y ─> *gain(q) ─> ACGC entropy model ─> y_hat ─> *inv_gain(q) ─> g_s
                                     (z, y streams)
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from fractions import Fraction

import torch
from torch import nn

from s2lic.codec.entropy_model.acgc import ACGCConfig, ACGCEntropyModel
from s2lic.codec.layers.enhancement import EnhancementConfig
from s2lic.codec.layers.gain import QualityGain
from s2lic.codec.models.base import Encoded, RDOutput
from s2lic.codec.tiling import Tiling, tiled
from s2lic.codec.transforms.analysis import AnalysisTransform
from s2lic.codec.transforms.stages import TransformConfig
from s2lic.codec.transforms.synthesis import StageHook, SynthesisTransform
from s2lic.entropy.coders.base import EntropyCoder

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
    #: Latent stride of g_a / g_s.
    stride = 16
    #: Tiles of `analyze` / `synthesize` (coding only; training runs whole crops).
    tiling = Tiling()

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

    def _tiling(self, tiling: Tiling | None) -> Tiling:
        t = tiling or self.tiling
        m = self.pad_multiple
        if t.core < m or t.core % m or t.overlap < 0 or t.overlap % m:
            raise ValueError(f"tile sizes must be multiples of {m} pixels, got {t}")
        return t

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
        return self.forward_latent(self.g_a(x), quality)

    def forward_latent(
        self,
        y: torch.Tensor,
        quality: float | torch.Tensor = 1.0,
        proxy: bool | None = None,
        hook: StageHook | None = None,
    ) -> RDOutput:
        """`forward` from an analysis output y (B, M, H/16, W/16) instead of an image.

        Args:
            y: latent (before the gain).
            quality: scalar or (B,) in [0, 1].
            proxy: the entropy model's training proxies (default: in training mode);
                encoder-side refinement differentiates through them in eval mode.
            hook: a per-image update of g_s's stages (`SynthesisTransform`).
        """
        q = self._quality(quality, y.shape[0], y.device)
        y_hat, likelihoods = self.entropy(self.gain(y, q), proxy)
        x_hat = self.g_s(self.gain(y_hat, q, inverse=True), hook)
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
        return self.compress_latent(self.analyze(x), quality, coder)

    @torch.no_grad()
    def analyze(self, x: torch.Tensor, tiling: Tiling | None = None) -> torch.Tensor:
        """g_a on tiles: x (B, 3, H, W), sides multiples of 64 -> y (B, M, H/16, W/16).

        Exactly ``g_a(x)`` when the image fits in one tile (`tiling`, default
        `self.tiling`).
        """
        self._check(x)
        t = self._tiling(tiling)
        return tiled(
            self.g_a, x, t.core, t.overlap, Fraction(1, self.stride), self.pad_multiple
        )

    @torch.no_grad()
    def synthesize(
        self,
        y_hat: torch.Tensor,
        quality: float,
        tiling: Tiling | None = None,
        hook: StageHook | None = None,
    ) -> torch.Tensor:
        """x_hat (B, 3, 16h, 16w) from a dequantised (gained) latent (B, M, h, w).

        g_s runs on tiles of `tiling` (default `self.tiling`, in image pixels); a latent
        that fits in one tile gives exactly ``g_s`` of the whole. `hook` updates g_s's
        stages per image (`SynthesisTransform`); it must act per position or channel,
        as tiles see only part of the image.
        """
        q = self._quality(quality, y_hat.shape[0], y_hat.device)
        t, s = self._tiling(tiling), self.stride
        return tiled(
            functools.partial(self.g_s, hook=hook),
            self.gain(y_hat, q, inverse=True),
            t.core // s,
            t.overlap // s,
            s,
            self.pad_multiple // s,
        )

    @torch.no_grad()
    def decode_latent(
        self, streams: tuple[bytes, ...], shape: tuple[int, int], coder: EntropyCoder
    ) -> tuple[torch.Tensor, list[object]]:
        """Entropy-decode the streams of an image of padded size `shape`.

        Separate from `decompress` so that a caller can verify the symbols (cheap)
        before it pays for the synthesis.

        Returns:
            y_hat (1, M, H/16, W/16) and the decoded symbols in coding order.
        """
        device = next(self.parameters()).device
        z_shape = (shape[0] // self.pad_multiple, shape[1] // self.pad_multiple)
        coded = self.entropy.decompress(
            (streams[0], streams[1]), z_shape, coder, device
        )
        return coded.y_hat, list(coded.symbols)

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
        y_hat, symbols = self.decode_latent(streams, shape, coder)
        return self.synthesize(y_hat, quality), symbols
