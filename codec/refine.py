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

With a `FiLM` (`s2lic.codec.adapt`), the same steps also fit a per-channel update of
g_s for this image, jointly with the latent; the file then carries it (effort levels,
``docs/effort.md``). Its parameters' bits are not in the proxy loss; the encoder
quantises them and keeps them only if the real cost, their bits included, is lower.

The gradient pass holds every activation of the networks, ~4 GiB per megapixel, so a
large image is refined on overlapping latent tiles (`TILING`): each tile's loss counts
the pixels and latent positions of its core only, weighted by their share of the image,
and the tiles' gradients are summed. Through g_s the sum is the whole image's gradient
(the overlap makes tiled synthesis match the whole-image pass, `s2lic.codec.tiling`);
the entropy model's hyperprior and global attention see only the tile, so near borders
the means (and y_hat, rounded around them) and thus the proxy gradient differ a little.
The real-cost checks code the whole image; tiled and whole refinement lowered it alike
(docs/refine.md).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from s2lic.codec.adapt.modules import FiLM
from s2lic.codec.models.base import RDOutput
from s2lic.codec.models.s2lic import S2LIC
from s2lic.codec.objective import RateDistortion
from s2lic.codec.tiling import Span, Tiling, spans

__all__ = [
    "LR",
    "CHECK_EVERY",
    "TILING",
    "Refined",
    "default_lr",
    "proxy_gradient",
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
FILM_LR = 0.01
"""Peak Adam step of a jointly fitted `FiLM` (cosine-decayed like the latent's)."""
TILING = Tiling(core=768, overlap=128)
"""Tiles of the gradient pass, in image pixels: at most 1024 px a side with the
overlap (~4 GiB for s2lic-s on the CPU, docs/refine.md); a Kodak image is one tile."""

# (latent) -> (MSE of the decoded 8-bit image in [0, 1] units, bits per pixel)
Measure = Callable[[torch.Tensor], tuple[float, float]]
StepCallback = Callable[[int, int], None]
"""Called with (step, steps) after each refinement step."""


@dataclass(frozen=True)
class Refined:
    """Result of `refine_latent`.

    Attributes:
        y: the chosen latent.
        cost: its real rate-distortion cost (`rd_cost`).
        start_cost: the cost of the input latent.
        step: the step that produced `y` (0: the input latent won).
        film: the `FiLM` parameters checked with `y` (None without a FiLM).
    """

    y: torch.Tensor
    cost: float
    start_cost: float
    step: int
    film: dict[str, torch.Tensor] | None = None


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
    tiling: Tiling = TILING,
    on_step: StepCallback | None = None,
    film: FiLM | None = None,
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
        tiling: tiles of the gradient pass (an image inside one core runs whole).
        on_step: progress callback, (step, steps) after each step.
        film: a g_s update fitted jointly (from its current parameters, at peak step
            `FILM_LR`); `measure` must decode with it. It is left holding the
            parameters of the step returned.

    Returns:
        `Refined` with the latent of lowest real cost.
    """
    if steps < 0:
        raise ValueError(f"refinement steps must be >= 0, got {steps}")
    objective = objective or RateDistortion()
    lr = default_lr(quality) if lr is None else lr
    lmbda = float(objective.lambda_of(torch.tensor(quality)))
    size = size or (x.shape[-2], x.shape[-1])
    q = torch.tensor([quality], device=x.device)

    def cost(candidate: torch.Tensor) -> float:
        return rd_cost(lmbda, *measure(candidate))

    def snapshot() -> dict[str, torch.Tensor] | None:
        return (
            None
            if film is None
            else {k: v.detach().clone() for k, v in film.state_dict().items()}
        )

    best = Refined(y, start := cost(y), start, 0, snapshot())
    if not steps:
        return best
    var = y.detach().clone().requires_grad_(True)
    opt = _optimizer(var, lr, film)
    peaks = [g["lr"] for g in opt.param_groups]
    # Repeatable noise without disturbing the caller's random state.
    devices = []
    if x.device.type == "cuda":
        devices = [x.device.index or torch.cuda.current_device()]
    with torch.random.fork_rng(devices=devices), torch.enable_grad():
        torch.manual_seed(seed)
        for step in range(1, steps + 1):
            loss, var.grad = proxy_gradient(
                model, var, x, size, q, objective, tiling, film
            )
            decay = 0.5 * (1 + math.cos(math.pi * (step - 1) / steps))
            for group, peak in zip(opt.param_groups, peaks, strict=True):
                group["lr"] = peak * decay
            opt.step()
            if not step % check_every or step == steps:
                candidate = var.detach().clone()
                c = cost(candidate)
                log.debug("refine step %d: proxy %.4f, real %.4f", step, loss, c)
                if c < best.cost:
                    best = Refined(candidate, c, start, step, snapshot())
            if on_step is not None:
                on_step(step, steps)
    if film is not None and best.film is not None:
        film.load_state_dict(best.film)
    return best


def _optimizer(var: torch.Tensor, lr: float, film: FiLM | None) -> torch.optim.Adam:
    """Adam on the latent, and on the FiLM at its own step."""
    groups = [{"params": [var], "lr": lr}]
    if film is not None:
        groups.append({"params": list(film.parameters()), "lr": FILM_LR})
    return torch.optim.Adam(groups)


def proxy_gradient(
    model: S2LIC,
    y: torch.Tensor,
    x: torch.Tensor,
    size: tuple[int, int],
    quality: torch.Tensor,
    objective: RateDistortion,
    tiling: Tiling = TILING,
    film: FiLM | None = None,
) -> tuple[float, torch.Tensor]:
    """The proxy loss of latent y for image x and its gradient, tile by tile.

    Args:
        model: the codec network.
        y: (1, M, h, w) the latent.
        x: (1, 3, 16h, 16w) the padded image in [0, 1].
        size: (H, W) of the image inside the padding.
        quality: (1,) the coding quality.
        objective: the loss (`RateDistortion`).
        tiling: tiles of the pass, in image pixels.
        film: a g_s update in the pass; its parameters' gradients are summed over
            the tiles into their ``.grad``.

    Returns:
        (loss, gradient of the loss with respect to y).
    """
    s = model.stride
    align = model.pad_multiple // s
    rows = spans(y.shape[-2], tiling.core // s, tiling.overlap // s, align)
    cols = spans(y.shape[-1], tiling.core // s, tiling.overlap // s, align)
    grad = torch.zeros_like(y)
    extra = list(film.parameters()) if film is not None else []
    for p in extra:
        p.grad = torch.zeros_like(p)
    total = 0.0
    for r in rows:
        for c in cols:
            outer = (
                ...,
                slice(r.outer_start, r.outer_stop),
                slice(c.outer_start, c.outer_stop),
            )
            window = y.detach()[outer].clone().requires_grad_(True)
            loss = _tile_loss(model, window, x, size, quality, objective, r, c, film)
            g, *gs = torch.autograd.grad(loss, [window, *extra])
            grad[outer] += g
            for p, gp in zip(extra, gs, strict=True):
                p.grad += gp
            total += loss.item()
    return total, grad


def _tile_loss(
    model: S2LIC,
    window: torch.Tensor,
    x: torch.Tensor,
    size: tuple[int, int],
    quality: torch.Tensor,
    objective: RateDistortion,
    r: Span,
    c: Span,
    film: FiLM | None = None,
) -> torch.Tensor:
    """The loss of the core of one tile, as its share of the whole image's loss."""
    out = model.forward_latent(window, quality, proxy=True, hook=film)
    s, (h, w) = model.stride, size
    # The core in pixels, inside the image (the padding has no distortion).
    top, bottom = r.start * s, min(r.stop * s, h)
    left, right = c.start * s, min(c.stop * s, w)
    dy, dx = top - r.outer_start * s, left - c.outer_start * s
    x_hat = out.x_hat[..., dy : dy + bottom - top, dx : dx + right - left]
    likelihoods = {}
    for key, lik in out.likelihoods.items():
        # Latent positions of the core at this likelihood's resolution (y or z).
        f = window.shape[-1] // lik.shape[-1]
        likelihoods[key] = lik[
            ...,
            (r.start - r.outer_start) // f : (r.stop - r.outer_start) // f,
            (c.start - c.outer_start) // f : (c.stop - c.outer_start) // f,
        ]
    core = RDOutput(x_hat, likelihoods, out.y_hat)
    target = x[..., top:bottom, left:right]
    share = (bottom - top) * (right - left) / (h * w)
    return objective(core, target, quality)["loss"] * share
