"""The one window-attention function of the codec.

Every Swin-V2 block calls `window_attention`; the backend is chosen here so that the
fused kernel can be swapped in and benchmarked without touching the blocks. Backends:

- ``"eager"``: explicit softmax, the reference.
- ``"sdpa"``: `torch.nn.functional.scaled_dot_product_attention` with the bias (plus
  mask) as a float ``attn_mask``.
- ``"triton"``: the fused Flash Window Attention kernels of
  `s2lic.codec.layers.triton_window_attention` (Zhang, arXiv 2501.06480). They take
  the position bias and the shift mask separately, so the (nW, heads, L, L) sum is
  never formed. CUDA only (on a CPU only under ``TRITON_INTERPRET=1``).

The default is eager on CPUs (1.2-2.3x faster than SDPA for 64-token windows with a
float bias, torch 2.14, 2 cores; see docs/benchmarks.md), Triton on CUDA when triton
is installed, and SDPA elsewhere. ``S2LIC_ATTENTION=eager|sdpa|triton`` overrides it.
"""

from __future__ import annotations

import importlib.util
import os

import torch
import torch.nn.functional as F

__all__ = ["ATTENTION_BACKENDS", "default_backend", "window_attention"]

#: Every backend name `window_attention` and ``$S2LIC_ATTENTION`` accept.
ATTENTION_BACKENDS = ("eager", "sdpa", "triton")

# Largest window the fused kernel takes by default: L = 256 (window 16) works but
# spills registers and is untuned, so unless asked for it goes to SDPA.
_TRITON_DEFAULT_MAX_L = 64


def default_backend(device: torch.device | None = None) -> str:
    """The backend named by ``$S2LIC_ATTENTION``, else the fastest for `device`."""
    if device is None or device.type == "cpu":
        fallback = "eager"
    elif device.type == "cuda" and importlib.util.find_spec("triton") is not None:
        fallback = "triton"
    else:
        fallback = "sdpa"
    name = os.environ.get("S2LIC_ATTENTION", fallback)
    if name not in ATTENTION_BACKENDS:
        raise ValueError(
            f"S2LIC_ATTENTION={name!r} is not a backend; "
            f"choose from {ATTENTION_BACKENDS}"
        )
    return name


def _combined_bias(
    pos_bias: torch.Tensor | None, mask: torch.Tensor | None
) -> torch.Tensor | None:
    # Same ops, same order as the blocks used before the backends took the mask
    # separately, so eager and SDPA results are unchanged bit for bit.
    if mask is None:
        return pos_bias
    mask = mask.unsqueeze(1)  # (nW, 1, L, L)
    return mask if pos_bias is None else pos_bias.unsqueeze(0) + mask


def window_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    logit_scale: torch.Tensor,
    pos_bias: torch.Tensor | None,
    mask: torch.Tensor | None = None,
    backend: str | None = None,
) -> torch.Tensor:
    """Scaled cosine attention (Swin-V2, Liu et al., CVPR 2022) inside windows.

    ``softmax(logit_scale * cos(q, k) + pos_bias + mask) @ v``, with q and k L2
    normalised along the head dimension.

    Args:
        q, k, v: (B, nW, heads, L, d), or (B_, heads, L, d) without a mask.
        logit_scale: (heads, 1, 1) multiplier of the cosine similarities (already
            exponentiated and clamped).
        pos_bias: (heads, L, L) relative position bias, or None. Eager and SDPA
            also take any additive logits broadcastable to (..., heads, L, L) here
            when `mask` is None.
        mask: (nW, L, L) additive shift / padding mask, or None.
        backend: ``"eager"``, ``"sdpa"`` or ``"triton"``; None takes
            `default_backend(q.device)`.

    Returns:
        (..., heads, L, d) attention output. The Triton backend returns it as a view
        of token-major storage, so that merging the heads is free.

    Raises:
        ValueError: an unknown backend, or arguments the Triton kernels cannot take
            when ``"triton"`` was asked for explicitly.
        s2lic.codec.layers.triton_window_attention.TritonBackendError: ``"triton"``
            without triton, or off CUDA without the interpreter.
    """
    explicit = backend is not None or "S2LIC_ATTENTION" in os.environ
    backend = backend or default_backend(q.device)
    if backend == "triton":
        # Imported here: the module pulls in torch._dynamo (for its graph break).
        from . import triton_window_attention as tw

        reason = tw.unsupported_reason(q, k, v, logit_scale, pos_bias, mask)
        if reason is None and not explicit and q.shape[-2] > _TRITON_DEFAULT_MAX_L:
            reason = f"L = {q.shape[-2]} is not tuned yet"
        if reason is None or explicit:
            return tw.triton_window_attention(q, k, v, logit_scale, pos_bias, mask)
        backend = "sdpa"
    bias = _combined_bias(pos_bias, mask)
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
