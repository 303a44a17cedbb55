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
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from s2lic.codec.layers.position_bias import LogSpacedPositionBias

__all__ = ["GlobalInterContext"]

_QUERY_CHUNK = 16384  # queries per attention call: bounds the bias MLP's activations


def _centers(n: int, device: torch.device) -> torch.Tensor:
    """Centres of n equal cells of [-1, 1] (grid_sample's align_corners=False)."""
    return (torch.arange(n, device=device, dtype=torch.float32) + 0.5) * (2.0 / n) - 1.0


class GlobalInterContext(nn.Module):
    """Deformable multi-head attention from every position to `grid`^2 sampled keys.

    Args:
        in_channels: channels of the decoded slices.
        out_channels: context channels.
        dim: attention width (default `in_channels`).
        head_dim: channels per head.
        grid: reference points per side (keys = grid^2).
        offset_range: largest offset, in grid cells.
        cpb_hidden: hidden width of the position bias MLP.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        dim: int | None = None,
        head_dim: int = 32,
        grid: int = 8,
        offset_range: float = 2.0,
        cpb_hidden: int = 64,
    ) -> None:
        super().__init__()
        dim = dim or in_channels
        self.heads = max(dim // head_dim, 1)
        if dim % self.heads:
            raise ValueError(f"dim {dim} is not divisible into {self.heads} heads")
        self.grid = grid
        self.offset_range = offset_range
        self.q = nn.Conv2d(in_channels, dim, 1)
        self.offset = nn.Sequential(
            nn.Conv2d(dim, dim, 3, padding=1, groups=dim),
            nn.GELU(),
            nn.Conv2d(dim, 2, 1),
        )
        # Start from the regular grid: offsets begin at zero.
        nn.init.zeros_(self.offset[-1].weight)
        nn.init.zeros_(self.offset[-1].bias)
        self.k = nn.Conv2d(in_channels, dim, 1)
        self.v = nn.Conv2d(in_channels, dim, 1)
        self.bias = LogSpacedPositionBias(self.heads, cpb_hidden)
        self.proj = nn.Conv2d(dim, out_channels, 1)

    def sample_points(self, q: torch.Tensor) -> torch.Tensor:
        """Sampling points (B, g, g, 2) as (x, y) in [-1, 1] from q (B, dim, H, W)."""
        g = self.grid
        c = _centers(g, q.device)
        ref = torch.stack(
            torch.meshgrid(c, c, indexing="xy"), dim=-1
        )  # (g, g, 2) = (x, y)
        off = torch.tanh(self.offset(F.adaptive_avg_pool2d(q, g)))
        off = off.permute(0, 2, 3, 1) * (self.offset_range * 2.0 / g)
        return (ref + off).clamp(-1.0, 1.0)

    def forward(self, prev: torch.Tensor) -> torch.Tensor:
        """prev: (B, in_channels, H, W) -> (B, out_channels, H, W)."""
        B, _, H, W = prev.shape
        q = self.q(prev)
        points = self.sample_points(q)
        sampled = F.grid_sample(
            prev, points, mode="bilinear", padding_mode="border", align_corners=False
        )
        h = self.heads
        k = (
            self.k(sampled).flatten(2).unflatten(1, (h, -1)).transpose(-1, -2)
        )  # (B,h,Nk,d)
        v = self.v(sampled).flatten(2).unflatten(1, (h, -1)).transpose(-1, -2)
        q = q.flatten(2).unflatten(1, (h, -1)).transpose(-1, -2)  # (B, h, HW, d)
        qy, qx = torch.meshgrid(
            _centers(H, prev.device), _centers(W, prev.device), indexing="ij"
        )
        q_pos = torch.stack([qx, qy], dim=-1).view(1, -1, 1, 2)
        k_pos = points.view(B, 1, -1, 2)
        out = []
        for s in range(0, H * W, _QUERY_CHUNK):
            # Displacements span [-2, 2] in grid_sample units; halve into [-1, 1].
            bias = self.bias((q_pos[:, s : s + _QUERY_CHUNK] - k_pos) * 0.5)
            out.append(
                F.scaled_dot_product_attention(
                    q[:, :, s : s + _QUERY_CHUNK],
                    k,
                    v,
                    attn_mask=bias.permute(0, 3, 1, 2),
                )
            )
        o = torch.cat(out, dim=2).transpose(-1, -2).reshape(B, -1, H, W)
        return self.proj(o)
