"""Fused Swin-V2 window attention in Triton: forward and backward kernels.

Flash Window Attention (Zhang, "Flash Window Attention: speedup the attention
computation for Swin Transformer", arXiv 2501.06480) observes that a window of L = 64
tokens is small enough for one program to hold its whole L x L score tile on chip, so
the tiling over keys of FlashAttention (Dao et al., NeurIPS 2022) is unnecessary: a row
softmax sees the full row at once. This module applies that to the scaled cosine
attention of Swin-V2 (Liu et al., CVPR 2022)::

    out = softmax(scale_h * cos(q, k) + bias_h + mask_w) @ v

with the L2 normalisation of q and k, the per-head logit scale, the (heads, L, L)
position bias and the (nW, L, L) shift mask fused into the kernel; the
(nW, heads, L, L) sum of bias and mask is never formed.

Design:

- Grid (G, heads). Program (g, h) loops over the flattened windows m = g, g + G, ...
  of head h (G from `LaunchConfig.programs_per_sm`, at most one program per window).
  Optionally ("resident") the bias tile of h is loaded once and kept in registers
  across the loop; otherwise it is re-read per window from L2. The shift mask of
  window m % nW is read per window (shared by all heads, so it comes from L2).
- L <= 64: one (L, L) tile per window. L = 256: blocks of 32 query rows against all
  256 keys, still with a whole-row softmax (works, but spills registers: untuned).
- q, k, v, the output and the gradients are addressed through their strides, so the
  strided views of the blocks' qkv projection are read in place, and the output is
  written token-major so that merging heads afterwards is a free view.
- fp32 accumulation everywhere. fp16 / bf16 inputs: q, k are normalised in fp32,
  then they and the probabilities feed the tensor cores in the input type (as SDPA
  and FlashAttention do); fp32 inputs: IEEE fp32 dots (no TF32). Head dims are
  padded to a power of two >= 16 with masked loads, so d = 8, 12, 24 and 48 work.
- Forward saves only the row log-sum-exp (M, heads, L) in fp32 (nothing when no
  gradient is needed). Backward recomputes the normalised q, k, the logits and the
  probabilities per window (cheap for tiles held on chip), takes
  delta = rowsum(P * dP) from the on-chip row instead of reading the output again,
  and gets d(scale) = sum(dS * cos) as sum(q_n * (dS @ k_n)) from the product it
  needs for dq anyway, so no cosine tile stays live.
- dBias: each program sums dS over its windows, in registers (resident) or by
  read-add-write into its own (L, L) slice of a (G, heads, L, L) fp32 buffer;
  d(scale): one fp32 partial per program. Both are then summed over the G programs
  with `torch.sum`. No atomics, and a program always takes the same windows in the
  same order, so the gradients are bit-identical run to run.

Triton is imported on first use only: this module imports where Triton is missing,
and `TRITON_INTERPRET=1` (the CPU interpreter, used by the tests) is honoured when the
kernels are first built.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

__all__ = [
    "TritonBackendError",
    "triton_available",
    "interpreter_enabled",
    "check_runtime",
    "unsupported_reason",
    "triton_window_attention",
    "LaunchConfig",
    "LAUNCH_CONFIGS",
]

_DTYPES = (torch.float16, torch.bfloat16, torch.float32)
_MAX_HEAD_DIM = 128
_PARTIAL_BYTES = 32 << 20  # cap on the dBias partials of one backward call


class TritonBackendError(RuntimeError):
    """The Triton backend was requested where it cannot run."""


@functools.cache
def triton_available() -> bool:
    """Whether Triton can be imported (checked without importing it)."""
    return importlib.util.find_spec("triton") is not None


def interpreter_enabled() -> bool:
    """Whether Triton runs kernels in its CPU interpreter (``TRITON_INTERPRET=1``)."""
    if not triton_available():
        return False
    import triton

    return bool(triton.knobs.runtime.interpret)


def check_runtime(device: torch.device) -> None:
    """Raise `TritonBackendError` unless Triton kernels can run on `device`."""
    if not triton_available():
        raise TritonBackendError(
            "attention backend 'triton' needs the triton package, which is not "
            "installed; use S2LIC_ATTENTION=sdpa or eager"
        )
    if device.type == "cuda":
        return
    if device.type == "cpu" and interpreter_enabled():
        return
    raise TritonBackendError(
        f"attention backend 'triton' runs on CUDA devices, not {device.type!r} "
        "(on a CPU only in Triton's interpreter: set TRITON_INTERPRET=1 before "
        "triton is imported); use S2LIC_ATTENTION=eager or sdpa"
    )


def unsupported_reason(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    logit_scale: torch.Tensor,
    pos_bias: torch.Tensor | None,
    mask: torch.Tensor | None,
) -> str | None:
    """Why the kernels cannot take these arguments, or None if they can."""
    if q.ndim < 3 or q.shape != k.shape or q.shape != v.shape:
        return f"q, k, v must share one (..., heads, L, d) shape, got {q.shape}"
    if q.dtype not in _DTYPES or k.dtype != q.dtype or v.dtype != q.dtype:
        return f"dtype {q.dtype} (fp16, bf16 or fp32, the same for q, k, v)"
    heads, L, d = q.shape[-3:]
    if L not in (16, 32, 64, 128, 256):
        return f"window of L = {L} tokens (16, 64 or 256: windows 4, 8, 16)"
    if not 1 <= d <= _MAX_HEAD_DIM:
        return f"head dim {d} (at most {_MAX_HEAD_DIM})"
    if logit_scale.numel() not in (1, heads):
        return f"logit_scale with {logit_scale.numel()} values for {heads} heads"
    if pos_bias is not None and pos_bias.shape != (heads, L, L):
        return f"position bias of shape {tuple(pos_bias.shape)}, not (heads, L, L)"
    if mask is not None:
        windows = q.shape[:-3].numel()
        bad = mask.ndim != 3 or mask.shape[1:] != (L, L) or mask.shape[0] == 0
        if bad or windows % mask.shape[0]:
            return f"mask of shape {tuple(mask.shape)} for {windows} windows"
    return None


# The kernels, written as plain functions so that this module imports without
# Triton; `_kernels` wraps them with `triton.jit` on first use. They must live at
# module level: Triton's interpreter resolves callees through the module globals.
tl: Any = None  # triton.language, bound by `_kernels`


def _mm(a, b, DOT: tl.constexpr):
    if DOT == 0:
        # fp32 inputs must not silently drop to TF32 (~1e-3 relative error), which
        # scale <= 100 would turn into logit errors of 0.1.
        return tl.dot(a, b, input_precision="ieee")
    elif DOT == 1:
        return tl.dot(a, b)
    else:
        # Triton's interpreter mis-reads bf16 dot operands: widen them (exactly)
        # so the tests still see the kernel's bf16 rounding points.
        return tl.dot(a.to(tl.float32), b.to(tl.float32), input_precision="ieee")


def _normalize(x):
    # F.normalize: x / max(||x||, eps); padded columns are zero and drop out.
    n = tl.sqrt(tl.sum(x * x, axis=1))
    r = tl.maximum(n, 1e-12)
    return x / r[:, None], n, r


def _normalize_bwd(dy, x, n, r):
    # d(x / max(||x||, eps)) from the raw x (no normalised copy kept live); the
    # radial part only flows while ||x|| > eps.
    radial = tl.where(n > 1e-12, tl.sum(dy * x, axis=1) / (r * r), 0.0)
    return (dy - x * radial[:, None]) / r[:, None]


def _tile_ptrs(P, m, h, rows, offs_d, s_m, s_h, s_l, s_d):
    return P + m * s_m + h * s_h + rows[:, None] * s_l + offs_d[None, :] * s_d


def _bias_rows(
    BIAS, h, rows, offs_l,
    R: tl.constexpr, L: tl.constexpr, HAS_BIAS: tl.constexpr,
):  # fmt: skip
    if HAS_BIAS:
        idx = h * L * L + rows[:, None] * L + offs_l[None, :]
        return tl.load(BIAS + idx).to(tl.float32)
    else:
        return tl.zeros((R, L), dtype=tl.float32)


def _logits(
    qn, kn, scale, b, MASK, w, rows, offs_l,
    L: tl.constexpr, HAS_MASK: tl.constexpr, DOT: tl.constexpr,
):  # fmt: skip
    cos = _mm(qn, tl.trans(kn), DOT)
    if HAS_MASK:
        # bias + mask first, in the same order as the eager reference.
        idx = w * L * L + rows[:, None] * L + offs_l[None, :]
        b = b + tl.load(MASK + idx).to(tl.float32)
    return cos, cos * scale + b


def _fwd_kernel(
    Q, K, V, OUT, LSE, SCALE, BIAS, MASK,
    M, NW, G, D,
    s_qm, s_qh, s_ql, s_qd,
    s_km, s_kh, s_kl, s_kd,
    s_vm, s_vh, s_vl, s_vd,
    s_om, s_oh, s_ol, s_od,
    H: tl.constexpr, L: tl.constexpr, D_PAD: tl.constexpr,
    BLOCK_M: tl.constexpr, RESIDENT: tl.constexpr,
    HAS_BIAS: tl.constexpr, HAS_MASK: tl.constexpr,
    STORE_LSE: tl.constexpr, DOT: tl.constexpr,
):  # fmt: skip
    g = tl.program_id(0)
    h = tl.program_id(1)
    offs_l = tl.arange(0, L)
    offs_b = tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, D_PAD)
    dmask = offs_d[None, :] < D
    scale = tl.load(SCALE + h).to(tl.float32)
    if RESIDENT:
        bias = _bias_rows(BIAS, h, offs_l, offs_l, L, L, HAS_BIAS)
    for m in range(g, M, G):
        w = m % NW
        m64 = tl.cast(m, tl.int64)
        k_ptrs = _tile_ptrs(K, m64, h, offs_l, offs_d, s_km, s_kh, s_kl, s_kd)
        v_ptrs = _tile_ptrs(V, m64, h, offs_l, offs_d, s_vm, s_vh, s_vl, s_vd)
        k = tl.load(k_ptrs, mask=dmask, other=0.0)
        v = tl.load(v_ptrs, mask=dmask, other=0.0)
        kn, _, _ = _normalize(k.to(tl.float32))
        kn = kn.to(k.dtype)
        for r in tl.static_range(L // BLOCK_M):
            rows = r * BLOCK_M + offs_b
            q_ptrs = _tile_ptrs(Q, m64, h, rows, offs_d, s_qm, s_qh, s_ql, s_qd)
            q = tl.load(q_ptrs, mask=dmask, other=0.0)
            qn, _, _ = _normalize(q.to(tl.float32))
            if RESIDENT:
                b = bias
            else:
                b = _bias_rows(BIAS, h, rows, offs_l, BLOCK_M, L, HAS_BIAS)
            _, s = _logits(
                qn.to(q.dtype), kn, scale, b, MASK, w, rows, offs_l, L,
                HAS_MASK, DOT,
            )  # fmt: skip
            row_max = tl.max(s, axis=1)
            p = tl.exp(s - row_max[:, None])
            denom = tl.sum(p, axis=1)
            o = _mm(p.to(v.dtype), v, DOT) / denom[:, None]
            o_ptrs = _tile_ptrs(OUT, m64, h, rows, offs_d, s_om, s_oh, s_ol, s_od)
            tl.store(o_ptrs, o.to(OUT.dtype.element_ty), mask=dmask)
            if STORE_LSE:
                lse = row_max + tl.log(denom)
                tl.store(LSE + (m64 * H + h) * L + rows, lse)


def _bwd_kernel(
    Q, K, V, DO, DQ, DK, DV, LSE, SCALE, BIAS, MASK, DBIAS, DSCALE,
    M, NW, G, D,
    s_qm, s_qh, s_ql, s_qd,
    s_km, s_kh, s_kl, s_kd,
    s_vm, s_vh, s_vl, s_vd,
    s_om, s_oh, s_ol, s_od,
    s_gm, s_gh, s_gl, s_gd,
    H: tl.constexpr, L: tl.constexpr, D_PAD: tl.constexpr,
    BLOCK_M: tl.constexpr, RESIDENT: tl.constexpr,
    HAS_BIAS: tl.constexpr, HAS_MASK: tl.constexpr,
    NEED_DBIAS: tl.constexpr, DOT: tl.constexpr,
):  # fmt: skip
    # DO has strides s_o*; DQ, DK and DV share one layout, strides s_g*.
    g = tl.program_id(0)
    h = tl.program_id(1)
    offs_l = tl.arange(0, L)
    offs_b = tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, D_PAD)
    dmask = offs_d[None, :] < D
    scale = tl.load(SCALE + h).to(tl.float32)
    part = DBIAS + tl.cast(g * H + h, tl.int64) * L * L
    if RESIDENT:
        bias = _bias_rows(BIAS, h, offs_l, offs_l, L, L, HAS_BIAS)
        dbias = tl.zeros((L, L), dtype=tl.float32)
    dscale = tl.zeros((BLOCK_M,), dtype=tl.float32)
    for m in range(g, M, G):
        w = m % NW
        m64 = tl.cast(m, tl.int64)
        k_ptrs = _tile_ptrs(K, m64, h, offs_l, offs_d, s_km, s_kh, s_kl, s_kd)
        v_ptrs = _tile_ptrs(V, m64, h, offs_l, offs_d, s_vm, s_vh, s_vl, s_vd)
        k = tl.load(k_ptrs, mask=dmask, other=0.0)
        v = tl.load(v_ptrs, mask=dmask, other=0.0)
        kn, k_norm, k_den = _normalize(k.to(tl.float32))
        kn_in = kn.to(k.dtype)
        dkn = tl.zeros((L, D_PAD), dtype=tl.float32)
        dv = tl.zeros((L, D_PAD), dtype=tl.float32)
        for r in tl.static_range(L // BLOCK_M):
            rows = r * BLOCK_M + offs_b
            q_ptrs = _tile_ptrs(Q, m64, h, rows, offs_d, s_qm, s_qh, s_ql, s_qd)
            do_ptrs = _tile_ptrs(DO, m64, h, rows, offs_d, s_om, s_oh, s_ol, s_od)
            q = tl.load(q_ptrs, mask=dmask, other=0.0)
            do = tl.load(do_ptrs, mask=dmask, other=0.0)
            qn, q_norm, q_den = _normalize(q.to(tl.float32))
            qn_in = qn.to(q.dtype)
            if RESIDENT:
                b = bias
            else:
                b = _bias_rows(BIAS, h, rows, offs_l, BLOCK_M, L, HAS_BIAS)
            # dP before the logits: fewer (L, L) tiles live at once.
            dp = _mm(do, tl.trans(v), DOT)
            _, s = _logits(
                qn_in, kn_in, scale, b, MASK, w, rows, offs_l, L, HAS_MASK, DOT
            )
            lse = tl.load(LSE + (m64 * H + h) * L + rows)
            p = tl.exp(s - lse[:, None])
            dv += _mm(tl.trans(p.to(do.dtype)), do, DOT)
            # softmax backward; the whole row is on chip, so delta needs no O.
            ds = p * (dp - tl.sum(p * dp, axis=1)[:, None])
            if NEED_DBIAS:
                if RESIDENT:
                    dbias += ds
                else:
                    # This program owns its partial: plain read-add-write.
                    idx = rows[:, None] * L + offs_l[None, :]
                    tl.store(part + idx, tl.load(part + idx) + ds)
            # d(scale) = sum(dS * cos) = sum(qn * (dS @ kn)): reuse the dq product
            # instead of keeping the cosine tile alive.
            ds_in = ds.to(q.dtype)
            dqn = _mm(ds_in, kn_in, DOT)
            dscale += tl.sum(q.to(tl.float32) * dqn, axis=1) / q_den
            dqn = dqn * scale
            dkn += _mm(tl.trans(ds_in), qn_in, DOT)
            dq = _normalize_bwd(dqn, q.to(tl.float32), q_norm, q_den)
            dq_ptrs = _tile_ptrs(DQ, m64, h, rows, offs_d, s_gm, s_gh, s_gl, s_gd)
            tl.store(dq_ptrs, dq.to(DQ.dtype.element_ty), mask=dmask)
        dk = _normalize_bwd(dkn * scale, k.to(tl.float32), k_norm, k_den)
        dk_ptrs = _tile_ptrs(DK, m64, h, offs_l, offs_d, s_gm, s_gh, s_gl, s_gd)
        dv_ptrs = _tile_ptrs(DV, m64, h, offs_l, offs_d, s_gm, s_gh, s_gl, s_gd)
        tl.store(dk_ptrs, dk.to(DK.dtype.element_ty), mask=dmask)
        tl.store(dv_ptrs, dv.to(DV.dtype.element_ty), mask=dmask)
    if NEED_DBIAS and RESIDENT:
        idx = offs_l[:, None] * L + offs_l[None, :]
        tl.store(part + idx, dbias)
    tl.store(DSCALE + g * H + h, tl.sum(dscale, axis=0))


_JIT_NAMES = (
    "_mm",
    "_normalize",
    "_normalize_bwd",
    "_tile_ptrs",
    "_bias_rows",
    "_logits",
    "_fwd_kernel",
    "_bwd_kernel",
)
_RAW: dict[str, Callable[..., Any]] = {n: globals()[n] for n in _JIT_NAMES}
_BUILT: dict[str, bool] = {}


def _kernels() -> tuple[Any, Any]:
    """(forward, backward) kernels, jitted for the current interpreter setting."""
    global tl
    import triton
    import triton.language

    interpret = bool(triton.knobs.runtime.interpret)
    if _BUILT.get("interpret") is not interpret:
        # triton.jit picks interpreter or compiler when it wraps, so rebind all.
        tl = triton.language
        for name in _JIT_NAMES:
            globals()[name] = triton.jit(_RAW[name])
        _BUILT["interpret"] = interpret
    return globals()["_fwd_kernel"], globals()["_bwd_kernel"]


def _dot_mode(dtype: torch.dtype) -> int:
    """`_mm`'s DOT: 0 fp32 IEEE, 1 tensor cores in `dtype`, 2 bf16 widened."""
    if dtype == torch.float32:
        return 0
    return 2 if dtype == torch.bfloat16 and interpreter_enabled() else 1


@dataclass(frozen=True)
class LaunchConfig:
    """How one kernel is launched for one window size.

    Attributes:
        warps: warps per program (head dims up to 32).
        wide_warps: warps per program for head dims padded to 64 or more.
        block: query rows per tile (L for whole-window tiles).
        resident: keep the bias (and, in the backward, dBias) in registers across
            the windows of a program; needs ``block == L``. Otherwise they go
            through L1 / L2 (the dBias partial by read-add-write).
        stages: software-pipelining depth of the window loop (Triton num_stages).
        programs_per_sm: the grid, G * heads, aims at this many programs per SM;
            each loops over about M / G windows.
    """

    warps: int
    wide_warps: int
    block: int
    resident: bool
    stages: int
    programs_per_sm: int


# Per (L, backward). Chosen from ptxas's register reports for sm_90 (Triton 3.8,
# bf16, d <= 32: no spills forward, <= 40 bytes backward; L = 256 spills heavily);
# not yet timed on a GPU. `benchmarks/window_attention.py --sweep` times others.
# Whole 64-row tiles want 4 warps: Triton lays (L, L) tiles out one warpgroup per
# 64 rows, so 8 warps duplicate them and only halve the (L, d) tiles.
LAUNCH_CONFIGS: dict[tuple[int, bool], LaunchConfig] = {
    (16, False): LaunchConfig(2, 4, 16, True, 2, 8),
    (16, True): LaunchConfig(4, 4, 16, True, 1, 4),
    (32, False): LaunchConfig(4, 8, 32, True, 2, 8),
    (32, True): LaunchConfig(8, 8, 32, False, 1, 4),
    (64, False): LaunchConfig(4, 8, 64, True, 2, 8),
    (64, True): LaunchConfig(8, 8, 64, False, 1, 4),
    (128, False): LaunchConfig(8, 8, 32, False, 1, 8),
    (128, True): LaunchConfig(8, 8, 32, False, 1, 4),
    (256, False): LaunchConfig(8, 8, 32, False, 1, 8),
    (256, True): LaunchConfig(8, 8, 32, False, 1, 4),
}


@functools.cache
def _sm_count(device: torch.device) -> int:
    if device.type == "cuda":
        return torch.cuda.get_device_properties(device).multi_processor_count
    # The interpreter: few programs, so that tests exercise the per-program loop.
    return 1


def _grid(cfg: LaunchConfig, M: int, heads: int, L: int, device: torch.device) -> int:
    """Programs per head G: enough to fill the device, at most one per window."""
    target = cfg.programs_per_sm * _sm_count(device)
    # Bound the backward's (G, heads, L, L) fp32 dBias partials (matters for L = 256).
    target = min(target, max(heads, _PARTIAL_BYTES // (4 * L * L)))
    return max(1, min(M, -(-target // heads)))


def _tokens_major(
    M: int, heads: int, L: int, d: int, like: torch.Tensor
) -> torch.Tensor:
    """Empty (M, heads, L, d) view of (M, L, heads, d) storage.

    Swin merges heads back per token right after attention, so this layout makes the
    caller's ``transpose(-3, -2).reshape(..., L, heads * d)`` a free view.
    """
    out = torch.empty((M, L, heads, d), dtype=like.dtype, device=like.device)
    return out.permute(0, 2, 1, 3)


def _pad_dim(d: int) -> int:
    # tl.dot needs K >= 16; the padded columns are masked to zero.
    return max(16, 1 << (d - 1).bit_length())


class _FusedWindowAttention(torch.autograd.Function):
    """Autograd wrapper of the kernels; see the module docstring."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        scale: torch.Tensor,
        bias: torch.Tensor | None,
        mask: torch.Tensor | None,
        need_grad: bool,
    ) -> torch.Tensor:
        heads, L, d = q.shape[-3:]
        q4, k4, v4 = (t.reshape(-1, heads, L, d) for t in (q, k, v))
        M = q4.shape[0]
        cfg = LAUNCH_CONFIGS[L, False]
        G = _grid(cfg, M, heads, L, q.device)
        d_pad = _pad_dim(d)
        o = _tokens_major(M, heads, L, d, q)
        lse = torch.empty(
            (M, heads, L) if need_grad else (1,), dtype=torch.float32, device=q.device
        )
        fwd, _ = _kernels()
        fwd[G, heads](
            q4, k4, v4, o, lse, scale,
            bias if bias is not None else scale,  # unread without HAS_BIAS
            mask if mask is not None else scale,  # unread without HAS_MASK
            M, mask.shape[0] if mask is not None else 1, G, d,
            *q4.stride(), *k4.stride(), *v4.stride(), *o.stride(),
            H=heads, L=L, D_PAD=d_pad, BLOCK_M=min(cfg.block, L),
            RESIDENT=cfg.resident and cfg.block >= L,
            HAS_BIAS=bias is not None, HAS_MASK=mask is not None,
            STORE_LSE=need_grad, DOT=_dot_mode(q.dtype),
            num_warps=cfg.warps if d_pad <= 32 else cfg.wide_warps,
            num_stages=cfg.stages,
        )  # fmt: skip
        if need_grad:
            ctx.save_for_backward(q4, k4, v4, scale, bias, mask, lse)
        ctx.shape = q.shape
        return o.reshape(q.shape)

    @staticmethod
    def backward(  # type: ignore[override]
        ctx: Any, grad_out: torch.Tensor
    ) -> tuple[torch.Tensor | None, ...]:
        q4, k4, v4, scale, bias, mask, lse = ctx.saved_tensors
        M, heads, L, d = q4.shape
        do = grad_out.reshape(M, heads, L, d).to(q4.dtype)
        cfg = LAUNCH_CONFIGS[L, True]
        resident = cfg.resident and cfg.block >= L
        G = _grid(cfg, M, heads, L, q4.device)
        d_pad = _pad_dim(d)
        need_dbias = bias is not None and ctx.needs_input_grad[4]
        dq, dk, dv = (_tokens_major(M, heads, L, d, q4) for _ in range(3))
        # Programs that add into their partial in memory need it zeroed first.
        alloc = torch.empty if resident else torch.zeros
        dbias_part = alloc(
            (G, heads, L, L) if need_dbias else (1,),
            dtype=torch.float32,
            device=q4.device,
        )
        dscale_part = torch.empty((G, heads), dtype=torch.float32, device=q4.device)
        _, bwd = _kernels()
        bwd[G, heads](
            q4, k4, v4, do, dq, dk, dv, lse, scale,
            bias if bias is not None else scale,
            mask if mask is not None else scale,
            dbias_part, dscale_part,
            M, mask.shape[0] if mask is not None else 1, G, d,
            *q4.stride(), *k4.stride(), *v4.stride(), *do.stride(), *dq.stride(),
            H=heads, L=L, D_PAD=d_pad, BLOCK_M=min(cfg.block, L),
            RESIDENT=resident, HAS_BIAS=bias is not None,
            HAS_MASK=mask is not None, NEED_DBIAS=need_dbias,
            DOT=_dot_mode(q4.dtype),
            num_warps=cfg.warps if d_pad <= 32 else cfg.wide_warps,
            num_stages=cfg.stages,
        )  # fmt: skip
        # Fixed-order sums over the programs' partials: deterministic.
        dbias = dbias_part.sum(0).to(bias.dtype) if need_dbias else None
        dscale = dscale_part.sum(0).to(scale.dtype)
        dq, dk, dv = (t.reshape(ctx.shape) for t in (dq, dk, dv))
        return dq, dk, dv, dscale, dbias, None, None


def triton_window_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    logit_scale: torch.Tensor,
    pos_bias: torch.Tensor | None,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Fused scaled cosine window attention (Swin-V2), differentiable.

    Computes ``softmax(logit_scale * cos(q, k) + pos_bias + mask) @ v`` per window and
    head with the kernels of this module (Flash Window Attention, arXiv 2501.06480).

    Args:
        q, k, v: (..., heads, L, d); the leading dims are flattened into windows m,
            and window m uses ``mask[m % nW]`` (so (B, nW, heads, L, d) works).
        logit_scale: (heads, 1, 1) (or any shape with `heads` or 1 values): the
            already exponentiated and clamped multiplier of the cosines.
        pos_bias: (heads, L, L) position bias, or None.
        mask: (nW, L, L) additive shift mask (no gradient), or None.

    Returns:
        (..., heads, L, d), in q's dtype, as a view of (..., L, heads, d) storage.
        Gradients reach q, k, v, pos_bias and logit_scale.

    Raises:
        TritonBackendError: Triton is missing, or the device is neither CUDA nor a
            CPU under ``TRITON_INTERPRET=1``.
        ValueError: shapes or dtypes the kernels do not handle.
    """
    check_runtime(q.device)
    reason = unsupported_reason(q, k, v, logit_scale, pos_bias, mask)
    if reason is not None:
        raise ValueError(f"attention backend 'triton' cannot take this call: {reason}")
    entry = _outside_graph if torch.compiler.is_compiling() else _fused
    return entry(q, k, v, logit_scale, pos_bias, mask)


def _fused(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    logit_scale: torch.Tensor,
    pos_bias: torch.Tensor | None,
    mask: torch.Tensor | None,
) -> torch.Tensor:
    heads = q.shape[-3]
    scale = logit_scale.reshape(-1).expand(heads).contiguous()
    need_grad = torch.is_grad_enabled() and any(
        t is not None and t.requires_grad for t in (q, k, v, logit_scale, pos_bias)
    )
    bias = pos_bias.contiguous() if pos_bias is not None else None
    mask = mask.contiguous() if mask is not None else None
    return _FusedWindowAttention.apply(q, k, v, scale, bias, mask, need_grad)


# Under torch.compile the kernels run between graphs: Dynamo does not trace into
# them. (Wrapping costs a few microseconds a call, so eager mode skips it.)
_outside_graph = torch.compiler.disable(_fused)
