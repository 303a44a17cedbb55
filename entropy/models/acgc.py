"""ACGC entropy model of S2LIC: hyperprior, channel slices, checkerboard, AC, AG, LRP.

Wang et al., "S2LIC: Learned Image Compression with the SwinV2 Block, Adaptive
Channel-wise and Global-inter Attention Context", arXiv 2403.14471; channel slices and
latent residual prediction after Minnen & Singh, "Channel-wise autoregressive entropy
models", ICIP 2020; checkerboard after He et al., CVPR 2021.

For slice i of y (each slice: ``M / S`` channels)::

    z_hat ─> h_s ─> hyper ──────────────────────────────┐
    y_hat[<i] ─┬─> AC ─> ac ────────────────────────────┤
               └─> AG ─> ag ────────────────────────────┤
                                  anchors: EP_a(ac, ag, hyper) ─> (scale, mean) ─> code
                  anchors_hat + LRP_a ─> spatial ctx ─┐
                              non-anchors: EP_n(ac, ag, hyper, spatial) ─> code
                  y_hat[i] = anchors + non-anchors + LRP_n

One loop (`_code_slices`) serves training, encoding and decoding; what differs is the
`quantize` step it calls for each half of each slice: straight-through rounding with
likelihoods (training), rounding + entropy encoding (encoder) or entropy decoding
(decoder). Values are always quantised around the predicted mean, round(y - mu) + mu.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from compressai.entropy_models import EntropyBottleneck, GaussianConditional
from compressai.ops import quantize_ste as ste_round
from torch import nn

from s2lic.codec.layers.conv import conv
from s2lic.entropy.coders.base import CdfTable, EntropyCoder
from s2lic.entropy.context.channel import AdaptiveChannelContext
from s2lic.entropy.context.checkerboard import SpatialContext, anchor_mask
from s2lic.entropy.context.global_inter import GlobalInterContext
from s2lic.entropy.models.hyperprior import HyperAnalysis, HyperSynthesis

__all__ = ["ACGCConfig", "ACGCEntropyModel", "CodedLatents", "scale_table"]

SCALES_MIN, SCALES_MAX, SCALES_LEVELS = 0.11, 256.0, 64

# quantize(slice index, mask (1,1,H,W), scales, means) -> y_hat on the mask, 0 elsewhere
Quantize = Callable[[int, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


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
        ep_hidden: hidden widths of the 1x1 entropy-parameter networks.
        lrp_hidden: hidden widths of the 3x3 latent-residual-prediction networks.
        context_max: cap on the widths of the AC / AG modules (0 = no cap).
        spatial_kernel: kernel of the checkerboard spatial context.
        ag_head_dim: channels per head of the AG attention.
        ag_grid: AG reference points per side.
        ag_cpb_hidden: hidden width of the AG position bias MLP.
    """

    latent_channels: int = 320
    hyper_channels: int = 192
    z_channels: int = 192
    num_slices: int = 10
    ep_hidden: tuple[int, int] = (512, 384)
    lrp_hidden: tuple[int, int] = (224, 128)
    context_max: int = 0
    spatial_kernel: int = 5
    ag_head_dim: int = 32
    ag_grid: int = 8
    ag_cpb_hidden: int = 64

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
    """

    streams: tuple[bytes, bytes]
    y_hat: torch.Tensor
    symbols: list[np.ndarray]


def _pointwise(in_ch: int, hidden: tuple[int, int], out_ch: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_ch, hidden[0], 1),
        nn.GELU(),
        nn.Conv2d(hidden[0], hidden[1], 1),
        nn.GELU(),
        nn.Conv2d(hidden[1], out_ch, 1),
    )


def _lrp(in_ch: int, hidden: tuple[int, int], out_ch: int) -> nn.Sequential:
    return nn.Sequential(
        conv(in_ch, hidden[0], 3),
        nn.GELU(),
        conv(hidden[0], hidden[1], 3),
        nn.GELU(),
        conv(hidden[1], out_ch, 3),
    )


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
        self.h_a = HyperAnalysis(M, cfg.hyper_channels, cfg.z_channels)
        self.h_s = HyperSynthesis(cfg.z_channels, cfg.hyper_channels, hyper_out)
        self.entropy_bottleneck = EntropyBottleneck(cfg.z_channels)
        self.gaussian_conditional = GaussianConditional(None)

        def width(i: int) -> int:
            w = i * sc if not cfg.context_max else min(i * sc, cfg.context_max)
            return max(cfg.ag_head_dim, w // cfg.ag_head_dim * cfg.ag_head_dim)

        # Slice 0 has no previous slices: no AC / AG (Identity keeps indices aligned).
        self.ac = nn.ModuleList(
            AdaptiveChannelContext(i * sc, 2 * sc, width(i)) if i else nn.Identity()
            for i in range(S)
        )
        self.ag = nn.ModuleList(
            GlobalInterContext(
                i * sc,
                sc,
                width(i),
                cfg.ag_head_dim,
                cfg.ag_grid,
                cpb_hidden=cfg.ag_cpb_hidden,
            )
            if i
            else nn.Identity()
            for i in range(S)
        )
        self.spatial = nn.ModuleList(
            SpatialContext(sc, 2 * sc, cfg.spatial_kernel) for _ in range(S)
        )
        ctx = [hyper_out + (3 * sc if i else 0) for i in range(S)]
        self.ep_anchor = nn.ModuleList(
            _pointwise(c, cfg.ep_hidden, 2 * sc) for c in ctx
        )
        self.ep_nonanchor = nn.ModuleList(
            _pointwise(c + 2 * sc, cfg.ep_hidden, 2 * sc) for c in ctx
        )
        self.lrp_anchor = nn.ModuleList(
            _lrp(M + (i + 1) * sc, cfg.lrp_hidden, sc) for i in range(S)
        )
        self.lrp_nonanchor = nn.ModuleList(
            _lrp(M + (i + 1) * sc, cfg.lrp_hidden, sc) for i in range(S)
        )

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

    def aux_loss(self) -> torch.Tensor:
        """Loss fitting the EntropyBottleneck's quantiles (trained in its own step)."""
        return self.entropy_bottleneck.loss()

    def _z_medians(self) -> torch.Tensor:
        return self.entropy_bottleneck.quantiles[:, 0, 1].view(1, -1, 1, 1)

    # -- the slice loop --------------------------------------------------------------

    def _code_slices(self, hyper: torch.Tensor, quantize: Quantize) -> torch.Tensor:
        """Run the ACGC context over all slices; returns y_hat (B, M, H, W)."""
        B, _, H, W = hyper.shape
        hyper_means = hyper.chunk(2, dim=1)[1]
        anchor = anchor_mask(H, W, hyper.device)
        non_anchor = ~anchor
        done: list[torch.Tensor] = []
        for i in range(self.cfg.num_slices):
            ctx = [hyper]
            if i:
                prev = torch.cat(done, dim=1)
                ctx = [self.ac[i](prev), self.ag[i](prev), hyper]
            scales, means = self.ep_anchor[i](torch.cat(ctx, dim=1)).chunk(2, dim=1)
            a_hat = quantize(i, anchor, scales, means)
            lrp = self.lrp_anchor[i](torch.cat([hyper_means, *done, a_hat], dim=1))
            a_hat = a_hat + anchor * (0.5 * torch.tanh(lrp))
            ctx.append(self.spatial[i](a_hat))
            scales, means = self.ep_nonanchor[i](torch.cat(ctx, dim=1)).chunk(2, dim=1)
            y_hat = a_hat + quantize(i, non_anchor, scales, means)
            lrp = self.lrp_nonanchor[i](torch.cat([hyper_means, *done, y_hat], dim=1))
            done.append(y_hat + non_anchor * (0.5 * torch.tanh(lrp)))
        return torch.cat(done, dim=1)

    # -- training / evaluation forward --------------------------------------------

    def forward(self, y: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Differentiable pass: y (B, M, H, W) with H, W multiples of 4.

        Returns:
            y_hat and the likelihoods ``{"y": (B, M, H, W), "z": (B, Z, H/4, W/4)}``.
            In training mode the rate uses additive uniform noise and y_hat uses
            straight-through rounding around the means; in eval mode both use rounding.
        """
        z = self.h_a(y)
        _, z_likelihoods = self.entropy_bottleneck(z)
        med = self._z_medians()
        z_hat = (ste_round(z - med) if self.training else torch.round(z - med)) + med
        hyper = self.h_s(z_hat)
        y_slices = y.chunk(self.cfg.num_slices, dim=1)
        likelihoods: list[torch.Tensor | None] = [None] * self.cfg.num_slices
        rnd = ste_round if self.training else torch.round

        def quantize(
            i: int, mask: torch.Tensor, scales: torch.Tensor, means: torch.Tensor
        ) -> torch.Tensor:
            y_i = y_slices[i]
            _, lik = self.gaussian_conditional(y_i, scales, means)
            old = likelihoods[i]
            likelihoods[i] = lik if old is None else torch.where(mask, lik, old)
            return (rnd(y_i - means) + means) * mask

        y_hat = self._code_slices(hyper, quantize)
        return y_hat, {"y": torch.cat(likelihoods, dim=1), "z": z_likelihoods}  # type: ignore[arg-type]

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
        hyper = self.h_s(z_sym + med)

        y_slices = y.chunk(self.cfg.num_slices, dim=1)
        y_enc = coder.encoder(self.y_table())

        def quantize(
            i: int, mask: torch.Tensor, scales: torch.Tensor, means: torch.Tensor
        ) -> torch.Tensor:
            m = mask.expand_as(means)
            mu = means[m]
            sym = torch.round(y_slices[i][m] - mu)
            symbols.append(sym.int().cpu().numpy())
            y_enc.encode(symbols[-1], self.scale_indexes(scales[m]).cpu().numpy())
            out = torch.zeros_like(means)
            out[m] = sym + mu
            return out

        y_hat = self._code_slices(hyper, quantize)
        return CodedLatents((z_enc.finish(), y_enc.finish()), y_hat, symbols)

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
        hyper = self.h_s(z_hat)
        y_dec = coder.decoder(self.y_table(), streams[1])

        def quantize(
            i: int, mask: torch.Tensor, scales: torch.Tensor, means: torch.Tensor
        ) -> torch.Tensor:
            m = mask.expand_as(means)
            symbols.append(y_dec.decode(self.scale_indexes(scales[m]).cpu().numpy()))
            out = torch.zeros_like(means)
            out[m] = (
                torch.from_numpy(symbols[-1].astype(np.float32)).to(means) + means[m]
            )
            return out

        y_hat = self._code_slices(hyper, quantize)
        return CodedLatents(tuple(streams), y_hat, symbols)  # type: ignore[arg-type]
