"""The one window-attention function of the codec.

Every Swin-V2 block calls `window_attention`; the backend is chosen here so a fused
kernel (Triton on CUDA) can be plugged in and benchmarked without touching the blocks.
Backends: ``"eager"`` (explicit softmax, the reference) and ``"sdpa"``
(`torch.nn.functional.scaled_dot_product_attention`). The default is eager on CPUs
(1.2-2.3x faster than SDPA for 64-token windows with a float bias, torch 2.14, 2 cores;
see docs/benchmarks.md) and SDPA elsewhere; ``S2LIC_ATTENTION`` overrides it.
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F

__all__ = ["ATTENTION_BACKENDS", "default_backend", "window_attention"]

ATTENTION_BACKENDS = ("eager", "sdpa")


def default_backend(device: torch.device | None = None) -> str:
    """The backend named by ``$S2LIC_ATTENTION``, else the fastest for `device`."""
    fallback = "eager" if device is None or device.type == "cpu" else "sdpa"
    name = os.environ.get("S2LIC_ATTENTION", fallback)
    if name not in ATTENTION_BACKENDS:
        raise ValueError(
            f"S2LIC_ATTENTION={name!r} is not a backend; "
            f"choose from {ATTENTION_BACKENDS}"
        )
    return name


def window_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    logit_scale: torch.Tensor,
    bias: torch.Tensor | None,
    backend: str | None = None,
) -> torch.Tensor:
    """Scaled cosine attention (Swin-V2) inside windows.

    Args:
        q, k, v: (B_, heads, L, d) with B_ = batch * windows.
        logit_scale: (heads, 1, 1) multiplier of the cosine similarities (already
            exponentiated and clamped).
        bias: additive logits broadcastable to (B_, heads, L, L): the continuous
            relative position bias plus the shift / padding mask, or None.
        backend: ``"eager"`` or ``"sdpa"``; None takes `default_backend(q.device)`.

    Returns:
        (B_, heads, L, d) attention output.
    """
    backend = backend or default_backend(q.device)
    q = F.normalize(q, dim=-1) * logit_scale
    k = F.normalize(k, dim=-1)
    if backend == "sdpa":
        if bias is not None:
            bias = bias.to(q.dtype)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=bias, scale=1.0)
    if backend == "eager":
        attn = q @ k.transpose(-2, -1)
        if bias is not None:
            attn = attn + bias
        return attn.softmax(dim=-1) @ v
    raise ValueError(
        f"unknown attention backend {backend!r}; choose from {ATTENTION_BACKENDS}"
    )
