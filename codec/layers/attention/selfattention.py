"""Self-attention blocks whose cost is linear in the number of positions.

Both map ``(B, C, H, W)`` to ``x + proj(attention(x))``.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ChannelSelfAttention", "EfficientAttention", "split_heads"]


def split_heads(channels: int, head_dim: int) -> int:
    """Number of heads of width `head_dim` in `channels` (1 if it does not divide)."""
    heads = max(channels // head_dim, 1)
    return heads if channels % heads == 0 else 1


class _QKVAttention(nn.Module):
    """q, k, v and output projections by 1x1 convolutions, split into heads."""

    def __init__(self, channels: int, head_dim: int = 32) -> None:
        super().__init__()
        self.heads = split_heads(channels, head_dim)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.proj = nn.Conv2d(channels, channels, 1)

    def qkv_heads(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """x (B, C, H, W) -> q, k, v, each (B, heads, C / heads, H W)."""
        B, C, H, W = x.shape
        return self.qkv(x).view(B, 3, self.heads, C // self.heads, H * W).unbind(1)


class ChannelSelfAttention(_QKVAttention):
    """Attention between channels: tokens are channels, features are positions.

    Ding et al., "DaViT: Dual Attention Vision Transformers", ECCV 2022 (channel group
    attention). Per head, a d x d attention map from the channel vectors of q and k,
    scaled by 1/sqrt(H W), mixes the channels of v; global over positions at a cost
    linear in H W.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, C, H, W = x.shape
        q, k, v = self.qkv_heads(x)
        attn = torch.softmax(q @ k.transpose(-1, -2) * (H * W) ** -0.5, dim=-1)
        return x + self.proj((attn @ v).view(B, C, H, W))


class EfficientAttention(_QKVAttention):
    """Linear attention: softmax on q over channels and on k over positions.

    Shen et al., "Efficient Attention: Attention with Linear Complexities", WACV 2021.
    The d x d context ``softmax_N(k) v^T`` is formed first, then read by every query,
    so the cost is O(N d^2) instead of O(N^2 d).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, C, H, W = x.shape
        q, k, v = self.qkv_heads(x)
        context = torch.softmax(k, dim=-1) @ v.transpose(-1, -2)  # (B, h, d, d)
        out = context.transpose(-1, -2) @ torch.softmax(q, dim=-2)  # (B, h, d, N)
        return x + self.proj(out.reshape(B, C, H, W))
