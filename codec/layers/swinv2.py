"""Swin-V2 transformer blocks for the analysis and synthesis transforms.

Liu et al., "Swin Transformer V2: Scaling Up Capacity and Resolution", CVPR 2022: scaled
cosine attention with a learnable per-head logit scale, continuous relative position
bias over log-spaced coordinates and residual post-normalisation, in (shifted) windows
as in Swin-V1 (Liu et al., ICCV 2021). `SwinV2Stage` wraps blocks as a residual stage
with a trailing convolution (the RSTB of SwinIR / S2LIC).

    x (B, C, H, W) ─┬─> [block, shifted block, ...] ─> conv3x3 ─(+)─> out
                    └───────────────────────────────────────────┘
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F
from torch import nn

from .attention_fn import window_attention
from .position_bias import LogSpacedPositionBias, window_relative_table

__all__ = ["DropPath", "Mlp", "WindowAttentionV2", "SwinV2Block", "SwinV2Stage"]

_MASK_VALUE = -1e4  # finite so that fp16/bf16 stay NaN-free; far below cosine logits


class DropPath(nn.Module):
    """Stochastic depth (Huang et al., ECCV 2016) per sample; identity in eval mode."""

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = torch.empty((x.shape[0],) + (1,) * (x.ndim - 1), device=x.device)
        return x * keep.bernoulli_(1.0 - self.p).div_(1.0 - self.p).to(x.dtype)


class Mlp(nn.Sequential):
    """Linear -> GELU -> Linear over the last dimension."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))


class WindowAttentionV2(nn.Module):
    """Multi-head scaled cosine self-attention inside windows of `window_size`^2 tokens.

    Args:
        dim: token channels.
        num_heads: attention heads (dim must be divisible).
        window_size: side of the square window.
        cpb_hidden: hidden width of the continuous position bias MLP.
        backend: attention backend for `window_attention` (None = default).
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        window_size: int,
        cpb_hidden: int = 512,
        backend: str | None = None,
    ) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim {dim} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.backend = backend
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        # Swin-V2 biases q and v only; k's bias would cancel in the cosine anyway.
        self.q_bias = nn.Parameter(torch.zeros(dim))
        self.v_bias = nn.Parameter(torch.zeros(dim))
        self.logit_scale = nn.Parameter(torch.full((num_heads, 1, 1), math.log(10.0)))
        self.cpb = LogSpacedPositionBias(num_heads, cpb_hidden)
        table, index = window_relative_table(window_size)
        self.register_buffer("rel_table", table, persistent=False)
        self.register_buffer("rel_index", index.flatten(), persistent=False)
        self.proj = nn.Linear(dim, dim)

    def position_bias(self) -> torch.Tensor:
        """(heads, L, L) continuous relative position bias."""
        n = self.rel_index.numel()
        L = math.isqrt(n)
        bias = self.cpb(self.rel_table)[self.rel_index]  # (L*L, heads)
        return bias.view(L, L, -1).permute(2, 0, 1)

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Attend within windows.

        Args:
            x: (B, nW, L, C) tokens of nW windows.
            mask: (nW, L, L) additive mask of the shifted windows, or None.

        Returns:
            (B, nW, L, C).
        """
        B, nW, L, C = x.shape
        qkv_bias = torch.cat([self.q_bias, torch.zeros_like(self.v_bias), self.v_bias])
        qkv = F.linear(x, self.qkv.weight, qkv_bias)
        qkv = qkv.view(B, nW, L, 3, self.num_heads, -1).permute(3, 0, 1, 4, 2, 5)
        q, k, v = qkv.unbind(0)  # (B, nW, heads, L, d)
        scale = torch.clamp(self.logit_scale, max=math.log(100.0)).exp()
        # Bias and mask go separately: the fused backend never forms their
        # (nW, heads, L, L) sum.
        out = window_attention(q, k, v, scale, self.position_bias(), mask, self.backend)
        return self.proj(out.transpose(2, 3).reshape(B, nW, L, C))


@functools.lru_cache(maxsize=32)
def _shift_mask(
    height: int, width: int, window: int, shift: int, device: torch.device
) -> torch.Tensor:
    """(nW, L, L) additive mask that keeps attention inside the regions of a shift."""
    region = torch.zeros(height, width, device=device)
    cuts = (slice(0, -window), slice(-window, -shift), slice(-shift, None))
    label = 0
    for hs in cuts:
        for ws in cuts:
            region[hs, ws] = label
            label += 1
    win = region.view(height // window, window, width // window, window)
    win = win.permute(0, 2, 1, 3).reshape(-1, window * window)
    same = win[:, :, None] == win[:, None, :]
    return torch.where(same, 0.0, _MASK_VALUE)


class SwinV2Block(nn.Module):
    """Swin-V2 block, residual post-norm: ``x + norm(attn(x))``, ``x + norm(mlp(x))``.

    Args:
        dim: channels.
        num_heads: attention heads.
        window_size: window side.
        shift: cyclic shift (0 or window_size // 2).
        mlp_ratio: hidden width of the MLP relative to `dim`.
        drop_path: stochastic depth probability.
        cpb_hidden: hidden width of the position bias MLP.
        backend: attention backend.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        window_size: int,
        shift: int = 0,
        mlp_ratio: float = 4.0,
        drop_path: float = 0.0,
        cpb_hidden: int = 512,
        backend: str | None = None,
    ) -> None:
        super().__init__()
        self.window_size = window_size
        self.shift = shift
        self.attn = WindowAttentionV2(dim, num_heads, window_size, cpb_hidden, backend)
        self.norm1 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.norm2 = nn.LayerNorm(dim)
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, H, W, C) with H and W multiples of the window size."""
        B, H, W, C = x.shape
        w, s = self.window_size, self.shift
        y = torch.roll(x, (-s, -s), (1, 2)) if s else x
        y = y.view(B, H // w, w, W // w, w, C).permute(0, 1, 3, 2, 4, 5)
        y = y.reshape(B, -1, w * w, C)
        mask = _shift_mask(H, W, w, s, x.device) if s else None
        y = self.attn(y, mask)
        y = y.view(B, H // w, W // w, w, w, C).permute(0, 1, 3, 2, 4, 5)
        y = y.reshape(B, H, W, C)
        if s:
            y = torch.roll(y, (s, s), (1, 2))
        x = x + self.drop_path(self.norm1(y))
        return x + self.drop_path(self.norm2(self.mlp(x)))


class SwinV2Stage(nn.Module):
    """Residual stage of Swin-V2 blocks (alternately shifted), the paper's RS2TB.

    The S2LIC paper's figure (`assets/arch.png`) draws each stage as feature embedding,
    Swin-V2 blocks, feature un-embedding and a residual connection around them. With
    ``conv`` (the first design, weights ``b8ec76ff``) a 3x3 convolution follows the
    blocks inside the residual, as in SwinIR's residual Swin transformer block; it is
    not in the paper's figure (docs/model.md).

    Args:
        dim: channels.
        depth: number of blocks.
        num_heads: attention heads.
        window_size: window side.
        mlp_ratio: MLP width ratio.
        drop_path: stochastic depth per block (a float or one value per block).
        cpb_hidden: hidden width of the position bias MLPs.
        backend: attention backend.
        conv: a 3x3 convolution after the blocks (SwinIR's; not the paper's).
    """

    def __init__(
        self,
        dim: int,
        depth: int,
        num_heads: int,
        window_size: int = 8,
        mlp_ratio: float = 4.0,
        drop_path: float | tuple[float, ...] = 0.0,
        cpb_hidden: int = 512,
        backend: str | None = None,
        conv: bool = True,
    ) -> None:
        super().__init__()
        rates = drop_path if isinstance(drop_path, tuple) else (drop_path,) * depth
        self.window_size = window_size
        self.blocks = nn.ModuleList(
            SwinV2Block(
                dim,
                num_heads,
                window_size,
                shift=0 if i % 2 == 0 else window_size // 2,
                mlp_ratio=mlp_ratio,
                drop_path=rates[i],
                cpb_hidden=cpb_hidden,
                backend=backend,
            )
            for i in range(depth)
        )
        self.conv = nn.Conv2d(dim, dim, 3, padding=1) if conv else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, C, H, W) -> (B, C, H, W); pads to whole windows internally."""
        _, _, H, W = x.shape
        w = self.window_size
        ph, pw = (-H) % w, (-W) % w
        y = F.pad(x, (0, pw, 0, ph)) if ph or pw else x
        y = y.permute(0, 2, 3, 1)
        for block in self.blocks:
            y = block(y)
        y = y.permute(0, 3, 1, 2)[:, :, :H, :W]
        return x + self.conv(y.contiguous())
