"""The encoder's side of an effort level: refinement and per-image adaptation.

A level is a recipe (`s2lic.codec.adapt.levels.Effort`): steps of latent refinement
(`s2lic.codec.refine`), optionally fitting a `FiLM` update of g_s jointly with them,
then optionally fitting a `PostFilter` on the decoded image. `adapt` runs a recipe and
returns the latent and the adaptation section to code. Every tool is kept only when it
lowers the real cost ``λ·255²·MSE + bpp`` of the coded file, its own bits included, so
a level never returns a costlier file than the plain encode by that measure. Costs and
gains per level on Kodak are in ``docs/effort.md``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from s2lic.codec.adapt.levels import Effort
from s2lic.codec.adapt.modules import FiLM, PostFilter
from s2lic.codec.adapt.section import (
    Adaptation,
    Tool,
    load,
    pack_section,
    quantize,
)
from s2lic.codec.image import crop, to_uint8
from s2lic.codec.metrics import mse
from s2lic.codec.objective import RateDistortion
from s2lic.codec.refine import Refined, StepCallback, rd_cost, refine_latent

if TYPE_CHECKING:
    from s2lic.codec.image import Planes
    from s2lic.codec.models.s2lic import S2LIC
    from s2lic.entropy.coders.base import EntropyCoder

__all__ = ["Adapted", "adapt", "reconstruct", "refine"]

log = logging.getLogger(__name__)

FILM_EXPONENTS = (5, 6, 7, 8, 9, 10)
"""Quantisation steps 2^-e tried for a FiLM; the cheapest real cost wins."""
FILM_CHECK_EXPONENT = 8
"""The step at which refinement's real-cost checks quantise the FiLM, so that each
checked (latent, FiLM) pair is costed as a file, the FiLM's bits included."""
POSTFILTER_EXPONENTS = (5, 6, 7, 8, 9, 10)
POSTFILTER_LR = 3e-3
POSTFILTER_WINDOW = 768
"""Side of the random window each post-filter step fits on (bounded time and memory
for any image size; a Kodak image is fitted whole)."""


@dataclass(frozen=True)
class Adapted:
    """The result of `adapt`: the latent to code, the section (None: plain file),
    and the real cost of the file before and after."""

    y: torch.Tensor
    section: bytes | None
    cost: float
    start_cost: float


def reconstruct(
    net: S2LIC,
    y_hat: torch.Tensor,
    quality: float,
    size: tuple[int, int],
    adaptation: Adaptation | None = None,
) -> torch.Tensor:
    """The decoded image (1, 3, h, w), float, from a dequantised latent: g_s (with the
    FiLM), crop, post-filter. The decoder and the encoder's measurements share it."""
    film = adaptation.film if adaptation else None
    x_hat = crop(net.synthesize(y_hat, quality, hook=film), size)
    if adaptation and adaptation.postfilter is not None:
        x_hat = adaptation.postfilter.apply_banded(x_hat)
    return x_hat


@torch.inference_mode(False)
def adapt(
    net: S2LIC,
    x: torch.Tensor,
    y: torch.Tensor,
    planes: Planes,
    quality: float,
    effort: Effort,
    backend: EntropyCoder,
    on_step: StepCallback | None = None,
    refine_lr: float | None = None,
) -> Adapted:
    """Run an effort level on the latent y of `planes` (padded: x) at `quality`."""
    fit = _Fit(net, planes, quality, effort, backend, x.device)
    if effort.refine:
        y = refine_latent(
            net, x, y.clone(), quality, effort.refine, fit.measure,
            size=fit.size, lr=refine_lr, on_step=on_step, film=fit.film,
        ).y  # fmt: skip
    with torch.inference_mode():
        enc = net.compress_latent(y, quality, backend)
        bits = 8 * sum(len(s) for s in enc.streams)
        plain = reconstruct(net, enc.y_hat, quality, fit.size)
    start = fit.cost(plain, bits, None)
    best: _Best = (start, [], plain)
    for e in FILM_EXPONENTS if fit.film is not None else ():
        adaptation, section = fit.film_as_coded(e)
        if section is not None:
            with torch.inference_mode():
                x_hat = reconstruct(net, enc.y_hat, quality, fit.size, adaptation)
            c = fit.cost(x_hat, bits, section)
            if c < best[0]:
                best = (c, [quantize(fit.film, e)], x_hat)  # type: ignore[arg-type]
    log.debug("FiLM: cost %.5f -> %.5f", start, best[0])
    if effort.postfilter:
        best = fit.add_postfilter(best, bits)
    c, tools, _ = best
    log.debug("adapted: cost %.5f -> %.5f with %d tools", start, c, len(tools))
    return Adapted(y, pack_section(tools) if tools else None, c, start)


def refine(
    net: S2LIC,
    x: torch.Tensor,
    y: torch.Tensor,
    planes: Planes,
    quality: float,
    steps: int,
    backend: EntropyCoder,
    lr: float | None = None,
) -> Refined:
    """Latent refinement alone, its real cost measured as a file (the unrefined
    latent's cost included: `Refined.start_cost`); for studies of refinement."""
    fit = _Fit(net, planes, quality, Effort(refine=steps), backend, x.device)
    return refine_latent(
        net, x, y.clone(), quality, steps, fit.measure, size=fit.size, lr=lr
    )


_Best = tuple[float, list[Tool], torch.Tensor]
"""(real cost, the tools, the decoded image they give)."""


class _Fit:
    """One image at one quality: its real cost, and the tools as a file carries them."""

    def __init__(
        self,
        net: S2LIC,
        planes: Planes,
        quality: float,
        effort: Effort,
        backend: EntropyCoder,
        device: torch.device,
    ) -> None:
        self.net, self.planes, self.quality = net, planes, quality
        self.effort, self.backend, self.device = effort, backend, device
        self.size: tuple[int, int] = planes.rgb.shape[:2]
        self.lmbda = float(RateDistortion().lambda_of(torch.tensor(quality)))
        dims = net.cfg.synthesis.dims
        self.film = FiLM(dims, effort.film).to(device) if effort.film else None

    def terms(
        self, x_hat: torch.Tensor, stream_bits: int, section: bytes | None
    ) -> tuple[float, float]:
        """(MSE in [0, 1] units, bpp) of a file: its streams, its section (with ~2
        bytes of header for the extra stream) and the 8-bit image x_hat decodes to."""
        h, w = self.size
        bits = stream_bits + (8 * (len(section) + 2) if section else 0)
        return mse(self.planes.rgb, to_uint8(x_hat)) / 255.0**2, bits / (h * w)

    def cost(
        self, x_hat: torch.Tensor, stream_bits: int, section: bytes | None
    ) -> float:
        """Real cost ``λ·255²·MSE + bpp`` of a file (`terms`)."""
        return rd_cost(self.lmbda, *self.terms(x_hat, stream_bits, section))

    def film_as_coded(self, exponent: int) -> tuple[Adaptation, bytes | None]:
        """The FiLM as a file would carry it (none if it rounds to zero)."""
        if self.film is None:
            return Adaptation(), None
        tool = quantize(self.film, exponent)
        if not tool.values.any():
            return Adaptation(), None
        q_film = load(FiLM(self.net.cfg.synthesis.dims, self.effort.film), tool)
        return Adaptation(q_film.to(self.device)), pack_section([tool])

    def measure(self, candidate: torch.Tensor) -> tuple[float, float]:
        """(MSE, bpp) of a latent coded with the FiLM or without it, whichever costs
        less: refinement's checks; the tools are decided after refinement."""
        options = [self.film_as_coded(FILM_CHECK_EXPONENT)]
        if options[0][1] is not None:
            options.append((Adaptation(), None))
        results = []
        with torch.inference_mode():
            enc = self.net.compress_latent(candidate, self.quality, self.backend)
            bits = 8 * sum(len(s) for s in enc.streams)
            for adaptation, section in options:
                x_hat = reconstruct(
                    self.net, enc.y_hat, self.quality, self.size, adaptation
                )
                results.append(self.terms(x_hat, bits, section))
        return min(results, key=lambda t: rd_cost(self.lmbda, *t))

    def add_postfilter(self, best: _Best, bits: int) -> _Best:
        """Fit a post-filter on the best reconstruction so far; keep it if it pays."""
        base_cost, tools, x_hat = best
        target = torch.from_numpy(self.planes.rgb).to(x_hat.device)
        target = target.permute(2, 0, 1)[None].float() / 255.0
        pf = _fit_postfilter(x_hat.detach().clone(), target, self.effort)
        for e in POSTFILTER_EXPONENTS:
            tool = quantize(pf, e)
            q_pf = load(PostFilter(self.effort.hidden), tool).to(x_hat.device)
            with torch.inference_mode():
                out = q_pf.apply_banded(x_hat)
            c = self.cost(out, bits, pack_section([*tools, tool]))
            if c < best[0]:
                best = (c, [*tools, tool], out)
        log.debug("post-filter: cost %.5f -> %.5f", base_cost, best[0])
        return best


@torch.inference_mode(False)
def _fit_postfilter(
    x_hat: torch.Tensor, target: torch.Tensor, effort: Effort
) -> PostFilter:
    """Adam on the MSE of the filtered image, on random windows of large images."""
    pf = PostFilter(effort.hidden).to(x_hat.device)
    opt = torch.optim.Adam(pf.parameters(), lr=POSTFILTER_LR)
    rng = np.random.default_rng(0)
    h, w = x_hat.shape[-2:]
    side = POSTFILTER_WINDOW
    with torch.enable_grad():
        for step in range(effort.postfilter):
            for group in opt.param_groups:
                group["lr"] = (
                    POSTFILTER_LR
                    * 0.5
                    * (1 + math.cos(math.pi * step / effort.postfilter))
                )
            top = int(rng.integers(0, max(h - side, 0) + 1))
            left = int(rng.integers(0, max(w - side, 0) + 1))
            window = (..., slice(top, top + side), slice(left, left + side))
            loss = F.mse_loss(pf(x_hat[window]), target[window])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return pf
