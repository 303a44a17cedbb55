"""Deformable global-inter attention context (the AG module of S2LIC).

Wang et al., arXiv 2403.14471, after the deformable attention of Xia et al., "Vision
Transformer with Deformable Attention", CVPR 2022. Every position of the current slice
attends to a small set of keys sampled from the decoded slices at learned locations: an
offset network moves a fixed grid of reference points (so the keys follow the content),
features are read there with bilinear `grid_sample`, and multi-head attention over these
keys, biased by a log-spaced continuous position bias of the query-key displacement,
gives a global context at a cost linear in the number of positions.

    prev ─> q ─> pool to grid ─> offsets ─> points ─> grid_sample(prev) ─> k, v
              └──────────────────── attention(q, k, v) + bias(q - points) ─> 1x1 ─> ctx

One module holds the AG networks of all slices (stacked weights, see
`s2lic.codec.layers.stacked`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from s2lic.codec.layers.position_bias import LogSpacedPositionBias
from s2lic.codec.layers.stacked import StackedConv2d

__all__ = ["GlobalInterContext"]

_QUERY_CHUNK = 16384  # queries per attention call: bounds the bias MLP's activations


def _centers(n: int, device: torch.device) -> torch.Tensor:
    """Centres of n equal cells of [-1, 1] (grid_sample's align_corners=False)."""
    return (torch.arange(n, device=device, dtype=torch.float32) + 0.5) * (2.0 / n) - 1.0


class GlobalInterContext(nn.Module):
    """Deformable multi-head attention from every position to `grid`^2 sampled keys.

    Args:
        members: number of slices with a context (stacked networks).
        in_channels: channels of the decoded slices (the widest member's).
        out_channels: context channels.
        dim: attention width.
        head_dim: channels per head.
        grid: reference points per side (keys = grid^2).
        offset_range: largest offset, in grid cells.
        cpb_hidden: hidden width of the position bias MLP.
    """

    def __init__(
        self,
        members: int,
        in_channels: int,
        out_channels: int,
        dim: int,
        head_dim: int = 32,
        grid: int = 8,
        offset_range: float = 2.0,
        cpb_hidden: int = 64,
    ) -> None:
        super().__init__()
        S = members
        self.heads = max(dim // head_dim, 1)
        if dim % self.heads:
            raise ValueError(f"dim {dim} is not divisible into {self.heads} heads")
        self.grid = grid
        self.offset_range = offset_range
        self.q = StackedConv2d(S, in_channels, dim, 1)
        self.offset_dw = StackedConv2d(S, dim, dim, 3, groups=dim)
        self.offset_pw = StackedConv2d(S, dim, 2, 1)
        # Start from the regular grid: offsets begin at zero.
        nn.init.zeros_(self.offset_pw.weight)
        nn.init.zeros_(self.offset_pw.bias)  # type: ignore[arg-type]
        self.k = StackedConv2d(S, in_channels, dim, 1)
        self.v = StackedConv2d(S, in_channels, dim, 1)
        self.bias = LogSpacedPositionBias(self.heads, cpb_hidden, members=S)
        self.proj = StackedConv2d(S, dim, out_channels, 1)

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

    def forward(self, prev: torch.Tensor, index: int | None = None) -> torch.Tensor:
        """prev: (B, s, C, H, W) -> (B, s, out_channels, H, W)."""
        B, s, C, H, W = prev.shape
        h = self.heads
        q = self.q(prev, index)
        points = self.sample_points(q, index)  # (B, s, g, g, 2)
        sampled = F.grid_sample(
            prev.reshape(B * s, C, H, W),
            points.flatten(0, 1),
            mode="bilinear",
            padding_mode="border",
            align_corners=False,
        ).view(B, s, C, self.grid, self.grid)

        def heads(t: torch.Tensor) -> torch.Tensor:  # (B, s, D, ...) -> (B, s, h, N, d)
            return t.flatten(3).unflatten(2, (h, -1)).transpose(-1, -2)

        k, v, q = heads(self.k(sampled, index)), heads(self.v(sampled, index)), heads(q)
        qy, qx = torch.meshgrid(
            _centers(H, prev.device), _centers(W, prev.device), indexing="ij"
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
        return self.proj(o, index)
