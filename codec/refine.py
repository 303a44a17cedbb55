"""Encoder-side latent refinement: smaller or better files for the same decoder.

g_a is one network for every image and every quality, so its latent is an amortised
guess; the best latent for one image at one quality is usually elsewhere, and most so
at high qualities (measured in docs/refine.md). Refinement treats the latent y as free
variables and takes a few Adam steps on this image's rate-distortion loss
``λ(q)·255²·MSE + bpp`` through the frozen networks, with the entropy model's training
proxies standing in for rounding and coding (Campos et al., "Content adaptive
optimization for neural image compression", CVPRW 2019; Yang et al., "Improving
inference for neural image compression", NeurIPS 2020).

The proxies are not the coder, so every `CHECK_EVERY` steps the candidate is coded for
real; the latent with the lowest real cost wins, and the unrefined latent takes part,
so refinement never returns a worse latent than g_a's by that measure. Only the encoder
changes: the files are ordinary `.s2lic` files that decode anywhere.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from s2lic.codec.models.base import RDOutput
from s2lic.codec.models.s2lic import S2LIC
from s2lic.codec.training.objective import RateDistortion

__all__ = [
    "LR",
    "CHECK_EVERY",
    "MAX_PIXELS",
    "Refined",
    "default_lr",
    "refine_latent",
    "rd_cost",
]

log = logging.getLogger(__name__)

LR = (0.01, 0.03)
"""Peak Adam step on the latent (before the gain), cosine-decayed to 0 over the steps:
the first up to quality 0.8, rising geometrically to the second at quality 1. Larger
steps lose at lower qualities, where the proxies are further from the coder; measured
on Kodak crops (docs/refine.md)."""
CHECK_EVERY = 5
"""Steps between two real codings of the candidate."""
MAX_PIXELS = 4_000_000
"""Largest image refined: the gradient pass holds every activation of g_s at once,
about 3.7 GiB per megapixel for s2lic-s on the CPU (docs/refine.md)."""

# (latent) -> (MSE of the decoded 8-bit image in [0, 1] units, bits per pixel)
Measure = Callable[[torch.Tensor], tuple[float, float]]


@dataclass(frozen=True)
class Refined:
    """Result of `refine_latent`.

    Attributes:
        y: the chosen latent.
        cost: its real rate-distortion cost (`rd_cost`).
        start_cost: the cost of the input latent.
        step: the step that produced `y` (0: the input latent won).
    """

    y: torch.Tensor
    cost: float
    start_cost: float
    step: int


def rd_cost(lmbda: float, mse: float, bpp: float) -> float:
    """The training loss of one image, ``λ·255²·MSE + bpp``, from real measurements."""
    return lmbda * 255.0**2 * mse + bpp


def default_lr(quality: float) -> float:
    """The peak step `LR` of a quality."""
    low, high = LR
    return low * (high / low) ** max(0.0, (quality - 0.8) / 0.2)


def refine_latent(
    model: S2LIC,
    x: torch.Tensor,
    y: torch.Tensor,
    quality: float,
    steps: int,
    measure: Measure,
    *,
    size: tuple[int, int] | None = None,
    objective: RateDistortion | None = None,
    lr: float | None = None,
    check_every: int = CHECK_EVERY,
    seed: int = 0,
) -> Refined:
    """Refine g_a's latent y of image x for coding at `quality`.

    Args:
        model: the codec network (its weights are not changed).
        x: (1, 3, H, W) the padded image in [0, 1].
        y: (1, M, H/16, W/16) its analysis output.
        quality: the coding quality in [0, 1].
        steps: Adam steps (0 returns y after measuring it).
        measure: real MSE and bpp of a latent coded at `quality`.
        size: (h, w) of the image inside the padding (default: all of x).
        objective: λ of `quality` (default: the training default, `RateDistortion()`).
        lr: peak Adam step (default `default_lr`).
        check_every: steps between real measurements (the last step is always
            measured).
        seed: seed of the proxies' noise, so that encoding is repeatable.

    Returns:
        `Refined` with the latent of lowest real cost.
    """
    if steps < 0:
        raise ValueError(f"refinement steps must be >= 0, got {steps}")
    objective = objective or RateDistortion()
    lr = default_lr(quality) if lr is None else lr
    lmbda = float(objective.lambda_of(torch.tensor(quality)))
    h, w = size or tuple(x.shape[-2:])
    target = x[..., :h, :w]
    q = torch.tensor([quality], device=x.device)

    def cost(candidate: torch.Tensor) -> float:
        return rd_cost(lmbda, *measure(candidate))

    best = Refined(y, start := cost(y), start, 0)
    if not steps:
        return best
    var = y.detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([var], lr=lr)
    # Repeatable noise without disturbing the caller's random state.
    devices = []
    if x.device.type == "cuda":
        devices = [x.device.index or torch.cuda.current_device()]
    with torch.random.fork_rng(devices=devices), torch.enable_grad():
        torch.manual_seed(seed)
        for step in range(1, steps + 1):
            out = model.forward_latent(var, q, proxy=True)
            crop = RDOutput(out.x_hat[..., :h, :w], out.likelihoods, out.y_hat)
            loss = objective(crop, target, q)["loss"]
            (var.grad,) = torch.autograd.grad(loss, var)
            for group in opt.param_groups:
                group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * (step - 1) / steps))
            opt.step()
            if step % check_every and step != steps:
                continue
            candidate = var.detach().clone()
            c = cost(candidate)
            log.debug("refine step %d: proxy %.4f, real %.4f", step, loss.item(), c)
            if c < best.cost:
                best = Refined(candidate, c, start, step)
    return best
