"""ACGC entropy model of S2LIC: hyperprior, channel slices, checkerboard, AC, AG, LRP.

Wang et al., "S2LIC: Learned Image Compression with the SwinV2 Block, Adaptive
Channel-wise and Global-inter Attention Context", arXiv 2403.14471; channel slices and
latent residual prediction after Minnen & Singh, "Channel-wise autoregressive entropy
models", ICIP 2020; checkerboard after He et al., CVPR 2021.

For slice i of y (each slice: ``M / S`` channels)::

    z_hat ─> h_s ─> hyper ──────────────────────────────┐
    y_hat[<i] ─┬─> AC ─> ac ────────────────────────────┤
               └─> AG ─> ag ────────────────────────────┤
                                  anchors: EP_a(hyper, ac, ag) ─> (scale, mean) ─> code
                  anchors_hat + LRP_a ─> spatial ctx ─┐
                              non-anchors: EP_n(hyper, ac, ag, spatial) ─> code
                  y_hat[i] = anchors + non-anchors + LRP_n

Coding runs slice by slice (`_code_slices`): the decoder needs slices < i to predict
slice i. One loop serves evaluation, encoding and decoding; what differs is the
`quantize` step it calls for each half of each slice: rounding with likelihoods
(evaluation), rounding + entropy encoding (encoder) or entropy decoding (decoder).
Values are always quantised around the predicted mean, round(y - mu) + mu.

Cross-device determinism: the encoder and the decoder must derive the same scale indexes
and means from the same decoded symbols, on any device and thread count, or the
arithmetic decoder desynchronises. Float32 networks differ across devices in the last
bits (reduction order, FMA, TF32, transcendental functions), which flips about one
rounding decision in 10^6 between two thread counts of one CPU (about one per Kodak
image; benchmarks/determinism.py), and 0.2-0.5 % of them between an H200 and a CPU. So
the coding path (`compress`, `decompress` and the eval-mode forward) runs the networks
that produce the entropy parameters in float64, where the same differences are ~10^-13
relative, and snaps every value that feeds back into the loop - the means and the LRP
corrections - to a grid of 2^-8 (`MEAN_STEP`): y_hat is then a dyadic number that both
sides compute exactly, errors cannot accumulate from slice to slice, and a decision
differs only if a value lies within ~10^-13 of a rounding boundary
(`CodedLatents.margin` is the encoder's closest call). Training keeps float32/bf16 and
no snapping (2^-8 is far below the rounding noise the networks learn with).

Training instead computes all slices' entropy parameters in one batched pass
(`_train_slices`): every slice's network is a member of a stacked module, and the
context of slice i is built from ``y + u`` (u ~ U(-1/2, 1/2)) of slices < i, which is
known for all slices up front, instead of from their decoded values, which would need
the slices' means one after the other. Rounding errors around the means are uniform-
like, so the context networks see the same kind of input when decoding.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from s2lic.codec.entropy_model.context.channel import (
    AdaptiveChannelContext,
    AdaptiveChannelContextV1,
)
from s2lic.codec.entropy_model.context.checkerboard import (
    SpatialContext,
    anchor_mask,
    gather,
    scatter,
)
from s2lic.codec.entropy_model.context.global_inter import (
    GlobalInterContext,
    GlobalInterContextV1,
)
from s2lic.codec.entropy_model.hyperprior import hyperprior
from s2lic.codec.layers.stacked import StackedConv2d, StackedSequential, run_one
from s2lic.entropy.coders.base import CdfTable, EntropyCoder
from s2lic.entropy.compressai_lite import (
    EntropyBottleneck,
    GaussianConditional,
)
from s2lic.entropy.compressai_lite import (
    quantize_ste as ste_round,
)

__all__ = [
    "ACGCConfig",
    "ACGCEntropyModel",
    "CodedLatents",
    "MEAN_STEP",
    "scale_table",
]

SCALES_MIN, SCALES_MAX, SCALES_LEVELS = 0.11, 256.0, 64
MEAN_STEP = 2.0**-8
"""Grid of the coding path's means and LRP corrections (see the module docstring)."""
CODING_DTYPE = torch.float64

# quantize(slice index, mask (1,1,H,W), scales, means) -> y_hat on the mask, 0 elsewhere
Quantize = Callable[[int, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


_CONTEXTS = {
    "paper": (AdaptiveChannelContext, GlobalInterContext),
    "v1": (AdaptiveChannelContextV1, GlobalInterContextV1),
}


def scale_table() -> torch.Tensor:
    """The 64 log-spaced Gaussian scales of the coding tables (Ballé's defaults)."""
    return torch.exp(
        torch.linspace(math.log(SCALES_MIN), math.log(SCALES_MAX), SCALES_LEVELS)
    )


@dataclass(frozen=True)
class ACGCConfig:
    """Widths of the ACGC entropy model.

    Attributes:
        latent_channels: M, channels of y.
        hyper_channels: hidden width of h_a / h_s.
        z_channels: channels of z.
        num_slices: channel slices S (M divisible by S).
        ep_hidden: hidden widths of the 1x1 entropy-parameter networks (the paper's
            g_ep: 320, 256, 128).
        lrp_hidden: hidden widths of the 3x3 latent-residual-prediction networks.
        context_width: width of the AC branches and of the AG attention (the same
            for every slice so that all slices' networks run in one batched call).
        spatial_kernel: kernel of the checkerboard spatial context.
        ag_head_dim: channels per head of the AG attention.
        ag_grid: AG reference points per side.
        ag_cpb_hidden: hidden width of the AG position bias MLP.
        contexts: design of AC and AG: "paper" (the paper's modules) or "v1" (the
            first design, which the weights ``b8ec76ff`` of s2lic-s use: AC with
            crossed gates, AG without its depth-wise branch; docs/model.md).
        hyperprior: "paper" (3x3 convolutions, sub-pixel up-sampling) or "elic"
            (the first design's, ELIC's 5x5 strided convolutions).
    """

    latent_channels: int = 320
    hyper_channels: int = 192
    z_channels: int = 192
    num_slices: int = 10
    ep_hidden: tuple[int, ...] = (512, 384)
    lrp_hidden: tuple[int, ...] = (224, 128)
    context_width: int = 192
    spatial_kernel: int = 5
    ag_head_dim: int = 32
    ag_grid: int = 8
    ag_cpb_hidden: int = 64
    # Defaults of fields added after weights shipped keep those weights' behaviour.
    contexts: str = "v1"
    hyperprior: str = "elic"

    def __post_init__(self) -> None:
        if self.contexts not in _CONTEXTS:
            raise ValueError(f"unknown contexts {self.contexts!r}: choose paper or v1")

    @property
    def slice_channels(self) -> int:
        return self.latent_channels // self.num_slices


@dataclass
class CodedLatents:
    """Result of `ACGCEntropyModel.compress` / `decompress`.

    Attributes:
        streams: (z stream, y stream).
        y_hat: (B, M, H, W) dequantised latent (identical on both sides).
        symbols: the coded integer symbols in coding order (z first).
        margin: smallest distance of a snapped mean or LRP correction from its
            rounding boundary, in units of the snapping grid (0.5 = farthest), and of
            a scale from a coding-table boundary, relative; decoding on another device
            could differ only if its float64 results moved a value by more.
    """

    streams: tuple[bytes, bytes]
    y_hat: torch.Tensor
    symbols: list[np.ndarray]
    margin: float = 0.5


class _Nets(NamedTuple):
    """The networks that produce the entropy parameters (one dtype)."""

    h_s: nn.Module
    ac: nn.Module
    ag: nn.Module
    spatial: nn.Module
    ep_anchor: nn.Module
    ep_nonanchor: nn.Module
    lrp_anchor: nn.Module
    lrp_nonanchor: nn.Module


def _snap(t: torch.Tensor) -> torch.Tensor:
    """t rounded to the `MEAN_STEP` grid (exact: the step is a power of two)."""
    return torch.round(t / MEAN_STEP) * MEAN_STEP


def _grid_margin(t: torch.Tensor) -> float:
    """Smallest distance of t / MEAN_STEP from a rounding boundary (k + 1/2)."""
    if not t.numel():
        return 0.5
    frac = torch.frac(t / MEAN_STEP).abs()
    return float((frac - 0.5).abs().min())


def _stack(
    members: int, in_ch: int, hidden: tuple[int, ...], out_ch: int, k: int
) -> StackedSequential:
    widths = (in_ch, *hidden)
    layers: list[nn.Module] = []
    for a, b in zip(widths[:-1], widths[1:], strict=True):
        layers += [StackedConv2d(members, a, b, k), nn.GELU()]
    return StackedSequential([*layers, StackedConv2d(members, widths[-1], out_ch, k)])


def _pointwise(
    members: int, in_ch: int, hidden: tuple[int, ...], out_ch: int
) -> StackedSequential:
    """Entropy-parameter networks: 1x1 convolutions."""
    return _stack(members, in_ch, hidden, out_ch, 1)


def _lrp(
    members: int, in_ch: int, hidden: tuple[int, ...], out_ch: int
) -> StackedSequential:
    """Latent residual prediction networks: 3x3 convolutions."""
    return _stack(members, in_ch, hidden, out_ch, 3)


def _table(cdf: torch.Tensor, length: torch.Tensor, offset: torch.Tensor) -> CdfTable:
    return CdfTable(
        cdf=cdf.detach().cpu().numpy().astype(np.int32),
        cdf_length=length.detach().cpu().reshape(-1).numpy().astype(np.int32),
        offset=offset.detach().cpu().reshape(-1).numpy().astype(np.int32),
    )


class ACGCEntropyModel(nn.Module):
    """Entropy model of y with hyperprior z; see the module docstring.

    Args:
        cfg: widths.
    """

    def __init__(self, cfg: ACGCConfig) -> None:
        super().__init__()
        M, S = cfg.latent_channels, cfg.num_slices
        if M % S:
            raise ValueError(f"latent_channels {M} is not divisible by num_slices {S}")
        self.cfg = cfg
        sc = cfg.slice_channels
        hyper_out = 2 * M
        self.h_a, self.h_s = hyperprior(
            cfg.hyperprior, M, cfg.hyper_channels, cfg.z_channels, hyper_out
        )
        self.entropy_bottleneck = EntropyBottleneck(cfg.z_channels)
        self.gaussian_conditional = GaussianConditional(None)

        prev = (S - 1) * sc  # widest input of decoded slices (zero-padded in training)
        width = cfg.context_width
        # Slices 1..S-1 have a channel context; slice 0 gets zeros in its place.
        ac, ag = _CONTEXTS[cfg.contexts]
        self.ac = ac(S - 1, prev, 2 * sc, width)
        self.ag = ag(
            S - 1,
            prev,
            sc,
            width,
            head_dim=cfg.ag_head_dim,
            grid=cfg.ag_grid,
            cpb_hidden=cfg.ag_cpb_hidden,
        )
        self.spatial = SpatialContext(S, sc, 2 * sc, cfg.spatial_kernel)
        ctx = hyper_out + 3 * sc  # [hyper, ac, ag]
        self.ep_anchor = _pointwise(S, ctx, cfg.ep_hidden, 2 * sc)
        self.ep_nonanchor = _pointwise(S, ctx + 2 * sc, cfg.ep_hidden, 2 * sc)
        # LRP input: [hyper means, current slice, decoded slices < i (padded)]
        self.lrp_anchor = _lrp(S, M + sc + prev, cfg.lrp_hidden, sc)
        self.lrp_nonanchor = _lrp(S, M + sc + prev, cfg.lrp_hidden, sc)

    # -- coding tables -------------------------------------------------------------

    def update(self, force: bool = True) -> None:
        """(Re)build the quantised CDF tables of z and y from the current parameters."""
        self.entropy_bottleneck.update(force=force)
        self.gaussian_conditional.update_scale_table(scale_table(), force=force)

    def z_table(self) -> CdfTable:
        eb = self.entropy_bottleneck
        return _table(eb._quantized_cdf, eb._cdf_length, eb._offset)

    def y_table(self) -> CdfTable:
        gc = self.gaussian_conditional
        return _table(gc._quantized_cdf, gc._cdf_length, gc._offset)

    def scale_indexes(self, scales: torch.Tensor) -> torch.Tensor:
        """Coding-table row of each scale (as CompressAI's `build_indexes`)."""
        table = self.gaussian_conditional.scale_table
        scales = scales.clamp_min(float(self.gaussian_conditional.scale_bound))
        return torch.searchsorted(table[:-1].to(scales), scales.contiguous()).int()

    def _indexes(self, scales: torch.Tensor, mask: torch.Tensor) -> np.ndarray:
        return self.scale_indexes(gather(scales, mask)).cpu().numpy()

    def _nets(self) -> _Nets:
        return _Nets(*(getattr(self, name) for name in _Nets._fields))

    def coding_nets(self) -> _Nets:
        """Float64 copies of the parameter networks (cached until a weight changes)."""
        key = tuple((p.data_ptr(), p._version, p.device) for p in self.parameters())
        cached = self.__dict__.get("_coding_cache")
        if cached is None or cached[0] != key:
            # Normal tensors (also when called under inference mode) without grads:
            # the copies serve inference-mode coding and no-grad evaluation alike.
            with torch.inference_mode(False), torch.no_grad():
                nets = _Nets(
                    *(
                        copy.deepcopy(m).to(CODING_DTYPE).eval().requires_grad_(False)
                        for m in self._nets()
                    )
                )
            # A plain attribute, not a submodule: no state-dict keys, no .to().
            self.__dict__["_coding_cache"] = (key, nets)
            return nets
        return cached[1]

    def _scale_margin(self, scales: torch.Tensor) -> float:
        """Smallest relative distance of a scale from a coding-table boundary."""
        table = self.gaussian_conditional.scale_table[:-1].to(scales)
        # Clamped scales sit exactly on the bound on every device: no risk there.
        scales = scales[scales > float(self.gaussian_conditional.scale_bound)]
        if not scales.numel():
            return 0.5
        i = torch.searchsorted(table, scales.contiguous()).clamp(1, len(table) - 1)
        lo, hi = table[i - 1], table[i]
        return float(torch.minimum((scales / lo).log(), (hi / scales).log()).min())

    def aux_loss(self) -> torch.Tensor:
        """Loss fitting the EntropyBottleneck's quantiles (trained in its own step)."""
        return self.entropy_bottleneck.loss()

    def _z_medians(self) -> torch.Tensor:
        return self.entropy_bottleneck.quantiles[:, 0, 1].view(1, -1, 1, 1)

    # -- the slice loop --------------------------------------------------------------

    def _code_slices(
        self,
        hyper: torch.Tensor,
        quantize: Quantize,
        nets: _Nets | None = None,
        margins: list[float] | None = None,
    ) -> torch.Tensor:
        """Run the ACGC context slice by slice; returns y_hat (B, M, H, W).

        Args:
            hyper: h_s output, in the dtype of `nets`.
            quantize: the quantisation step (module docstring).
            nets: the parameter networks; default the module's own (float32, no
                snapping: the plain network, as the training pass computes it);
                `coding_nets()` for the coding path, which also snaps means and LRP
                corrections to `MEAN_STEP`.
            margins: if given, the coding path appends its closest calls to it.
        """
        snap = nets is not None
        nets = nets or self._nets()
        B, _, H, W = hyper.shape
        sc = self.cfg.slice_channels
        hyper_means = hyper.chunk(2, dim=1)[1]
        anchor = anchor_mask(H, W, hyper.device)
        non_anchor = ~anchor

        def params(net: nn.Module, ctx: list[torch.Tensor], i: int, mask: torch.Tensor):
            scales, means = run_one(net, torch.cat(ctx, 1), i).chunk(2, 1)
            if snap and margins is not None:
                margins.append(_grid_margin(gather(means, mask)))
                margins.append(self._scale_margin(gather(scales, mask)))
            return scales, _snap(means) if snap else means

        def correction(net: nn.Module, inputs: list[torch.Tensor], i: int):
            lrp = 0.5 * torch.tanh(run_one(net, torch.cat(inputs, 1), i))
            if snap and margins is not None:
                margins.append(_grid_margin(lrp))
            return _snap(lrp) if snap else lrp

        done: list[torch.Tensor] = []
        for i in range(self.cfg.num_slices):
            if i:
                prev = torch.cat(done, dim=1)
                ac = run_one(nets.ac, prev, i - 1)
                ag = run_one(nets.ag, prev, i - 1)
            else:
                ac = hyper.new_zeros(B, 2 * sc, H, W)
                ag = hyper.new_zeros(B, sc, H, W)
            ctx = [hyper, ac, ag]
            a_hat = quantize(i, anchor, *params(nets.ep_anchor, ctx, i, anchor))
            lrp = correction(nets.lrp_anchor, [hyper_means, a_hat, *done], i)
            a_hat = a_hat + anchor * lrp
            ctx.append(run_one(nets.spatial, a_hat, i))
            y_hat = a_hat + quantize(
                i, non_anchor, *params(nets.ep_nonanchor, ctx, i, non_anchor)
            )
            lrp = correction(nets.lrp_nonanchor, [hyper_means, y_hat, *done], i)
            done.append(y_hat + non_anchor * lrp)
        return torch.cat(done, dim=1)

    def _train_slices(
        self, y: torch.Tensor, hyper: torch.Tensor, context: torch.Tensor, ste: bool
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """All slices at once; slice i's context comes from `context` slices < i.

        Args:
            y: (B, M, H, W) latent.
            hyper: (B, 2M, H, W) hyper-synthesis output.
            context: (B, M, H, W) stand-in for the decoded latent (``y + noise``).
            ste: straight-through rounding (gradients pass); else plain rounding.

        Returns:
            y_hat (straight-through rounding around the means, plus LRP), scales and
            means, each (B, M, H, W).
        """
        B, M, H, W = y.shape
        S, sc = self.cfg.num_slices, self.cfg.slice_channels
        rnd = ste_round if ste else torch.round
        anchor = anchor_mask(H, W, y.device).unsqueeze(1)  # (1, 1, 1, H, W)
        non_anchor = ~anchor
        y5 = y.view(B, S, sc, H, W)
        # Member i sees the first i slices of the context, zeros after them.
        prev = context[:, None, : (S - 1) * sc].expand(B, S, -1, H, W)
        keep = torch.arange((S - 1) * sc, device=y.device) < (
            torch.arange(S, device=y.device)[:, None] * sc
        )
        prev = prev * keep[None, :, :, None, None]
        ac = self.ac(prev[:, 1:])  # members: slices 1..S-1
        ag = self.ag(prev[:, 1:])
        ac = torch.cat([ac.new_zeros(B, 1, *ac.shape[2:]), ac], dim=1)
        ag = torch.cat([ag.new_zeros(B, 1, *ag.shape[2:]), ag], dim=1)
        hyper5 = hyper[:, None].expand(B, S, -1, H, W)
        hyper_means = hyper.chunk(2, dim=1)[1][:, None].expand(B, S, -1, H, W)
        ctx = [hyper5, ac, ag]
        scales_a, means_a = self.ep_anchor(torch.cat(ctx, 2)).chunk(2, 2)
        a_hat = (rnd(y5 - means_a) + means_a) * anchor
        lrp = self.lrp_anchor(torch.cat([hyper_means, a_hat, prev], 2))
        a_hat = a_hat + anchor * (0.5 * torch.tanh(lrp))
        ctx.append(self.spatial(a_hat))
        scales_n, means_n = self.ep_nonanchor(torch.cat(ctx, 2)).chunk(2, 2)
        y_hat = a_hat + (rnd(y5 - means_n) + means_n) * non_anchor
        lrp = self.lrp_nonanchor(torch.cat([hyper_means, y_hat, prev], 2))
        y_hat = y_hat + non_anchor * (0.5 * torch.tanh(lrp))
        scales = torch.where(anchor, scales_a, scales_n)
        means = torch.where(anchor, means_a, means_n)
        return (t.reshape(B, M, H, W) for t in (y_hat, scales, means))  # type: ignore[return-value]

    # -- training / evaluation forward --------------------------------------------

    def forward(
        self, y: torch.Tensor, proxy: bool | None = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Differentiable pass: y (B, M, H, W) with H, W multiples of 4.

        Args:
            y: the gained latent.
            proxy: use the training proxies (default: in training mode). With them all
                slices run in one batched pass (module docstring), the rate uses
                additive uniform noise and y_hat straight-through rounding around the
                means; without them the slices run one by one exactly as when coding.
                Encoder-side refinement (`s2lic.codec.refine`) asks for the proxies of
                a model in eval mode.

        Returns:
            y_hat and the likelihoods ``{"y": (B, M, H, W), "z": (B, Z, H/4, W/4)}``.
        """
        proxy = self.training if proxy is None else proxy
        z = self.h_a(y)
        # Likelihoods in fp32 even under autocast: bf16 rates would be off by percents.
        with torch.autocast(y.device.type, enabled=False):
            _, z_likelihoods = self.entropy_bottleneck(z.float(), training=proxy)
        med = self._z_medians()
        z_hat = (ste_round(z - med) if proxy else torch.round(z - med)) + med
        hyper = self.h_s(z_hat)
        if proxy:
            context = y + torch.empty_like(y).uniform_(-0.5, 0.5)
            y_hat, scales, means = self._train_slices(y, hyper, context, ste=True)
            with torch.autocast(y.device.type, enabled=False):
                _, y_likelihoods = self.gaussian_conditional(
                    y.float(), scales.float(), means.float(), training=True
                )
            return y_hat, {"y": y_likelihoods, "z": z_likelihoods}

        # Eval mode: exactly the coding path (float64 networks, snapped means).
        nets = self.coding_nets()
        hyper = nets.h_s(z_hat.to(CODING_DTYPE))
        y_slices = y.to(CODING_DTYPE).chunk(self.cfg.num_slices, dim=1)
        likelihoods: list[torch.Tensor | None] = [None] * self.cfg.num_slices

        def quantize(
            i: int, mask: torch.Tensor, scales: torch.Tensor, means: torch.Tensor
        ) -> torch.Tensor:
            y_i = y_slices[i]
            _, lik = self.gaussian_conditional(
                y_i.float(), scales.float(), means.float(), training=False
            )
            old = likelihoods[i]
            likelihoods[i] = lik if old is None else torch.where(mask, lik, old)
            return (torch.round(y_i - means) + means) * mask

        y_hat = self._code_slices(hyper, quantize, nets).float()
        y_likelihoods = torch.cat(likelihoods, dim=1)  # type: ignore[arg-type]
        return y_hat, {"y": y_likelihoods, "z": z_likelihoods}

    # -- entropy coding -----------------------------------------------------------

    @torch.no_grad()
    def compress(self, y: torch.Tensor, coder: EntropyCoder) -> CodedLatents:
        """Entropy-code y (1, M, H, W) into a z stream and a y stream."""
        z = self.h_a(y)
        med = self._z_medians()
        z_sym = torch.round(z - med)
        z_idx = torch.arange(z.shape[1], device=z.device).view(1, -1, 1, 1).expand_as(z)
        z_enc = coder.encoder(self.z_table())
        symbols = [z_sym.int().cpu().numpy().ravel()]
        z_enc.encode(symbols[0], z_idx.int().cpu().numpy().ravel())
        nets = self.coding_nets()
        hyper = nets.h_s((z_sym + med).to(CODING_DTYPE))

        y_slices = y.to(CODING_DTYPE).chunk(self.cfg.num_slices, dim=1)
        y_enc = coder.encoder(self.y_table())
        margins: list[float] = []

        def quantize(
            i: int, mask: torch.Tensor, scales: torch.Tensor, means: torch.Tensor
        ) -> torch.Tensor:
            mu = gather(means, mask)
            sym = torch.round(gather(y_slices[i], mask) - mu)
            symbols.append(sym.int().cpu().numpy())
            y_enc.encode(symbols[-1], self._indexes(scales, mask))
            return scatter(sym + mu, mask, means)

        y_hat = self._code_slices(hyper, quantize, nets, margins).float()
        streams = (z_enc.finish(), y_enc.finish())
        return CodedLatents(streams, y_hat, symbols, min(margins, default=0.5))

    @torch.no_grad()
    def decompress(
        self,
        streams: tuple[bytes, bytes],
        z_shape: tuple[int, int],
        coder: EntropyCoder,
        device: torch.device | str = "cpu",
    ) -> CodedLatents:
        """Decode the streams of `compress`; z_shape is (H/4, W/4) of y's (H, W)."""
        C = self.cfg.z_channels
        z_idx = np.repeat(np.arange(C, dtype=np.int32), z_shape[0] * z_shape[1])
        z_dec = coder.decoder(self.z_table(), streams[0])
        symbols = [z_dec.decode(z_idx)]
        z_sym = torch.from_numpy(symbols[0].astype(np.float32)).to(device)
        z_hat = z_sym.view(1, C, *z_shape) + self._z_medians()
        nets = self.coding_nets()
        hyper = nets.h_s(z_hat.to(CODING_DTYPE))
        y_dec = coder.decoder(self.y_table(), streams[1])

        def quantize(
            i: int, mask: torch.Tensor, scales: torch.Tensor, means: torch.Tensor
        ) -> torch.Tensor:
            symbols.append(y_dec.decode(self._indexes(scales, mask)))
            sym = torch.from_numpy(symbols[-1].astype(np.float64)).to(means)
            return scatter(sym + gather(means, mask), mask, means)

        y_hat = self._code_slices(hyper, quantize, nets).float()
        return CodedLatents(tuple(streams), y_hat, symbols)  # type: ignore[arg-type]
