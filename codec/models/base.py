"""The codec contract shared by all models: typed results instead of free-form dicts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch

from s2lic.entropy.coders.base import EntropyCoder

__all__ = ["RDOutput", "Encoded", "ImageCodecModel"]


@dataclass
class RDOutput:
    """Differentiable output for rate-distortion training.

    Attributes:
        x_hat: (B, 3, H, W) reconstruction.
        likelihoods: per latent ("y", "z"), likelihood of each element.
        y_hat: (B, M, H/16, W/16) dequantised latent (before the inverse gain).
    """

    x_hat: torch.Tensor
    likelihoods: dict[str, torch.Tensor]
    y_hat: torch.Tensor


@dataclass(frozen=True)
class Encoded:
    """Entropy-coded image.

    Attributes:
        streams: coded streams (z, y).
        shape: (H, W) of the coded (padded) image.
        quality: the quality the latent was coded at.
        symbols: every coded integer symbol in coding order (for checksums).
        y_hat: the encoder's dequantised latent (the decoder reproduces it exactly).
        margin: the entropy model's closest rounding call (`CodedLatents.margin`).
    """

    streams: tuple[bytes, ...]
    shape: tuple[int, int]
    quality: float
    symbols: tuple[object, ...]
    y_hat: torch.Tensor
    margin: float = 0.5


class ImageCodecModel(Protocol):
    """What the API needs from a model."""

    pad_multiple: int

    def forward(self, x: torch.Tensor, quality: torch.Tensor) -> RDOutput: ...

    def compress(
        self, x: torch.Tensor, quality: float, coder: EntropyCoder
    ) -> Encoded: ...

    def decompress(
        self,
        streams: tuple[bytes, ...],
        shape: tuple[int, int],
        quality: float,
        coder: EntropyCoder,
    ) -> tuple[torch.Tensor, list[object]]: ...

    def decode_latent(
        self, streams: tuple[bytes, ...], shape: tuple[int, int], coder: EntropyCoder
    ) -> tuple[torch.Tensor, list[object]]: ...

    def synthesize(self, y_hat: torch.Tensor, quality: float) -> torch.Tensor: ...
