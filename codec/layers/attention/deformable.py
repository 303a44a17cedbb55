"""Deformable attention to a learned set of sampled keys (the mechanism of S2LIC's AG).

Xia et al., "Vision Transformer with Deformable Attention", CVPR 2022. Every position
attends to a small set of keys sampled at learned locations: an offset network moves a
fixed grid of reference points (so the keys follow the content), features are read
there with bilinear `grid_sample`, and multi-head attention over these keys, biased by
a log-spaced continuous position bias of the query-key displacement (Swin-V2), gives a
global context at a cost linear in the number of positions.

    x ─> q ─> pool to grid ─> offsets ─> points ─> grid_sample(x) ─> k, v
           └──────────────────── attention(q, k, v) + bias(q - points) ─> proj ─> out

The projection is a 1x1 convolution, or k x k (``proj_kernel``; S2LIC's AG: 5x5).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..position_bias import LogSpacedPositionBias
from ..stacked import StackedConv2d

__all__ = ["DeformableAttention"]

_QUERY_CHUNK = 16384  # queries per attention call: bounds the bias MLP's activations


def _centers(n: int, device: torch.device) -> torch.Tensor:
    """Centres of n equal cells of [-1, 1] (grid_sample's align_corners=False)."""
    return (torch.arange(n, device=device, dtype=torch.float32) + 0.5) * (2.0 / n) - 1.0


class DeformableAttention(nn.Module):
    """Multi-head attention from every position to `grid`^2 deformably sampled keys.

    Runs on ``(B, C, H, W)``, or with ``members`` S on ``(B, s, C, H, W)`` with one
    network per member (stacked weights; inputs narrower than `in_channels` are read as
    zero-padded, see `s2lic.codec.layers.stacked`).

    Args:
        in_channels: C (the widest member's).
        out_channels: output channels (default C).
        dim: attention width (default C).
        head_dim: channels per head.
        grid: reference points per side (keys = grid^2).
        offset_range: largest offset, in grid cells.
        cpb_hidden: hidden width of the position bias MLP.
        members: stacked networks.
        residual: return ``x + out`` (needs out_channels == C).
        proj_kernel: kernel of the output projection (odd).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int | None = None,
        dim: int | None = None,
        head_dim: int = 32,
        grid: int = 8,
        offset_range: float = 2.0,
        cpb_hidden: int = 64,
        members: int = 1,
        residual: bool = False,
        proj_kernel: int = 1,
    ) -> None:
        super().__init__()
        S, out_channels, dim = members, out_channels or in_channels, dim or in_channels
        if residual and out_channels != in_channels:
            raise ValueError("a residual deformable attention needs out == in channels")
        self.heads = max(dim // head_dim, 1)
        if dim % self.heads:
            raise ValueError(f"dim {dim} is not divisible into {self.heads} heads")
        self.grid, self.offset_range, self.residual = grid, offset_range, residual
        self.q = StackedConv2d(S, in_channels, dim, 1)
        self.offset_dw = StackedConv2d(S, dim, dim, 3, groups=dim)
        self.offset_pw = StackedConv2d(S, dim, 2, 1)
        # Start from the regular grid: offsets begin at zero.
        nn.init.zeros_(self.offset_pw.weight)
        nn.init.zeros_(self.offset_pw.bias)  # type: ignore[arg-type]
        self.k = StackedConv2d(S, in_channels, dim, 1)
        self.v = StackedConv2d(S, in_channels, dim, 1)
        self.bias = LogSpacedPositionBias(self.heads, cpb_hidden, members=S)
        self.proj = StackedConv2d(S, dim, out_channels, proj_kernel)

    def sample_points(self, q: torch.Tensor, index: int | None = None) -> torch.Tensor:
        """Points (B, s, g, g, 2) as (x, y) in [-1, 1] from queries (B, s, D, H, W)."""
        B, s, D, H, W = q.shape
        g = self.grid
        c = _centers(g, q.device)
        ref = torch.stack(torch.meshgrid(c, c, indexing="xy"), dim=-1)  # (g, g, 2)
        pooled = F.adaptive_avg_pool2d(q.reshape(B * s, D, H, W), g).view(B, s, D, g, g)
        off = torch.tanh(self.offset_pw(F.gelu(self.offset_dw(pooled, index)), index))
        off = off.permute(0, 1, 3, 4, 2) * (self.offset_range * 2.0 / g)
        # nan_to_num: grid_sample's CPU backward crashes on NaN coordinates (a diverged
        # training step must give a NaN loss, not a segfault).
        return torch.nan_to_num(ref + off, nan=0.0).clamp(-1.0, 1.0)

    def forward(self, x: torch.Tensor, index: int | None = None) -> torch.Tensor:
        """x: (B, C, H, W) or (B, s, C, H, W) -> (..., out_channels, H, W)."""
        if x.dim() == 4:
            return self(x.unsqueeze(1), index).squeeze(1)
        B, s, C, H, W = x.shape
        h = self.heads
        q = self.q(x, index)
        points = self.sample_points(q, index)  # (B, s, g, g, 2)
        sampled = F.grid_sample(
            x.reshape(B * s, C, H, W),
            points.flatten(0, 1),
            mode="bilinear",
            padding_mode="border",
            align_corners=False,
        ).view(B, s, C, self.grid, self.grid)

        def heads(t: torch.Tensor) -> torch.Tensor:  # (B, s, D, ...) -> (B, s, h, N, d)
            return t.flatten(3).unflatten(2, (h, -1)).transpose(-1, -2)

        k, v, q = heads(self.k(sampled, index)), heads(self.v(sampled, index)), heads(q)
        qy, qx = torch.meshgrid(
            _centers(H, x.device), _centers(W, x.device), indexing="ij"
        )
        q_pos = torch.stack([qx, qy], dim=-1).view(1, 1, -1, 1, 2)
        k_pos = points.view(B, s, 1, -1, 2)
        out = []
        for c in range(0, H * W, _QUERY_CHUNK):
            # Displacements span [-2, 2] in grid_sample units; halve into [-1, 1].
            bias = self.bias((q_pos[:, :, c : c + _QUERY_CHUNK] - k_pos) * 0.5, index)
            out.append(
                F.scaled_dot_product_attention(
                    q[:, :, :, c : c + _QUERY_CHUNK],
                    k,
                    v,
                    attn_mask=bias.permute(0, 1, 4, 2, 3),
                )
            )
        o = torch.cat(out, dim=3).transpose(-1, -2).reshape(B, s, -1, H, W)
        o = self.proj(o, index)
        return x + o if self.residual else o
