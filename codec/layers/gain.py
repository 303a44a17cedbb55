"""Quality-controlled channel gains: one model for a continuous range of rates.

Cui et al., "Asymmetric Gained Deep Image Compression With Continuous Rate Adaptation",
CVPR 2021: K learned gain vectors scale the latent before quantisation and K inverse
gains undo it before synthesis; between two levels the vectors are interpolated
geometrically, which gives a continuous rate knob. Here ``quality`` in [0, 1] maps to
the position ``quality * (K - 1)`` on the levels (0 = lowest rate).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["QualityGain"]


class QualityGain(nn.Module):
    """Gain and inverse-gain vectors of `levels` quality levels over `channels`.

    Args:
        levels: number of learned levels K (>= 2).
        channels: latent channels.
        low, high: initial gains of the lowest and highest level (log-spaced between).
    """

    def __init__(
        self, levels: int, channels: int, low: float = 0.5, high: float = 4.0
    ) -> None:
        super().__init__()
        if levels < 2:
            raise ValueError("QualityGain needs at least 2 levels")
        init = torch.linspace(
            torch.log(torch.tensor(low)), torch.log(torch.tensor(high)), levels
        )
        # Gains are stored as logs so that geometric interpolation is linear and gains
        # stay positive.
        self.log_gain = nn.Parameter(init[:, None].repeat(1, channels))
        self.log_inverse = nn.Parameter(-init[:, None].repeat(1, channels))

    @property
    def levels(self) -> int:
        return self.log_gain.shape[0]

    def _interpolate(self, table: torch.Tensor, quality: torch.Tensor) -> torch.Tensor:
        pos = quality.clamp(0.0, 1.0) * (self.levels - 1)
        lo = pos.floor().long().clamp(max=self.levels - 2)
        frac = (pos - lo).unsqueeze(-1)
        log_g = table[lo] * (1 - frac) + table[lo + 1] * frac  # (B, C)
        return log_g.exp()[:, :, None, None]

    def forward(
        self, y: torch.Tensor, quality: torch.Tensor, inverse: bool = False
    ) -> torch.Tensor:
        """Scale y (B, C, H, W) by the gain (or inverse gain) of `quality` (B,)."""
        table = self.log_inverse if inverse else self.log_gain
        return y * self._interpolate(table, quality.to(y.dtype))
