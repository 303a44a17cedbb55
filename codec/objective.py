"""The rate-distortion objective of the one variable-rate model.

Each sample draws its own λ, log-uniform over ``[lambda_min, lambda_max]``; the model's
quality knob is the position of λ on that log scale, so ``quality = 0`` is trained for
the lowest rate and ``quality = 1`` for the highest and everything between is trained
too (Cui et al., CVPR 2021, train a continuum of rates the same way).

    loss = mean_i( λ_i · D_i + bpp_i ),   D_i = 255² · MSE_i  or  1 - MS-SSIM_i
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from s2lic.codec.models.base import RDOutput

__all__ = ["RateDistortion", "LAMBDAS"]

# λ ranges covering about 0.1-1.5 bpp on Kodak for a well-trained model (CompressAI's
# MSE qualities 1..8 use 0.0018..0.18; its MS-SSIM ones 2.4..60).
LAMBDAS = {"mse": (0.0018, 0.18), "ms-ssim": (2.4, 60.0)}


@dataclass(frozen=True)
class RateDistortion:
    """λ sampling and the loss.

    Attributes:
        metric: ``"mse"`` or ``"ms-ssim"``.
        lambda_min, lambda_max: λ of quality 0 and quality 1 (0 = metric's default).
        quality_tilt: t in [-1, 1]; qualities are drawn with density 1 + t·(2q − 1),
            so t > 0 trains the high rates more often (0: uniform).
    """

    metric: str = "mse"
    lambda_min: float = 0.0
    lambda_max: float = 0.0
    quality_tilt: float = 0.0

    def __post_init__(self) -> None:
        if self.metric not in LAMBDAS:
            raise ValueError(
                f"metric must be one of {sorted(LAMBDAS)}, not {self.metric!r}"
            )
        lo, hi = self.lambdas
        if not 0 < lo < hi:
            raise ValueError(f"need 0 < lambda_min < lambda_max, got {lo}, {hi}")
        if not -1 <= self.quality_tilt <= 1:
            raise ValueError(
                f"quality_tilt must be in [-1, 1], got {self.quality_tilt}"
            )

    @property
    def lambdas(self) -> tuple[float, float]:
        lo, hi = LAMBDAS[self.metric]
        return (self.lambda_min or lo, self.lambda_max or hi)

    def lambda_of(self, quality: torch.Tensor) -> torch.Tensor:
        """λ for qualities in [0, 1] (geometric interpolation)."""
        lo, hi = self.lambdas
        return lo * torch.exp(quality * math.log(hi / lo))

    def sample_quality(self, batch: int, device: torch.device | str) -> torch.Tensor:
        """Qualities in [0, 1], one per sample: uniform (log-uniform λ) unless tilted.

        The tilted density 1 + t·(2q − 1) is a mixture: with probability |t| a
        draw from the density 2q (2(1 − q) for t < 0), else a uniform one.
        """
        q = torch.rand(batch, device=device)
        t = self.quality_tilt
        if t:
            ramp = torch.rand(batch, device=device).sqrt()
            ramp = ramp if t > 0 else 1 - ramp
            q = torch.where(torch.rand(batch, device=device) < abs(t), ramp, q)
        return q

    def __call__(
        self, out: RDOutput, x: torch.Tensor, quality: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """Loss and its parts (per-batch means; ``bpp`` from the likelihoods).

        Args:
            out: the model's training output for x.
            x: (B, 3, H, W) in [0, 1].
            quality: (B,) the qualities the model was run at.
        """
        B, _, H, W = x.shape
        bits = sum(
            -torch.log2(lik.float()).flatten(1).sum(1)
            for lik in out.likelihoods.values()
        )
        bpp = bits / (H * W)
        x_hat = out.x_hat.float()
        mse = ((x_hat - x) ** 2).flatten(1).mean(1)
        if self.metric == "mse":
            dist = 255.0**2 * mse
        else:
            from pytorch_msssim import ms_ssim

            dist = 1.0 - ms_ssim(
                x_hat.clamp(0, 1), x, data_range=1.0, size_average=False
            )
        loss = (self.lambda_of(quality) * dist + bpp).mean()
        psnr = 10 * torch.log10(1.0 / mse.clamp_min(1e-10))
        return {"loss": loss, "bpp": bpp.mean(), "mse": mse.mean(), "psnr": psnr.mean()}
