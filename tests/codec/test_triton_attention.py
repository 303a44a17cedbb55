"""The fused Triton window attention (Flash Window Attention, arXiv 2501.06480).

On CPUs the kernels run in Triton's interpreter, which must be switched on
(``TRITON_INTERPRET=1``) before triton is imported; the whole suite shares one
process, so the interpreter checks run in a subprocess that executes this file as a
script (`_worker`) and prints its measurements as JSON. Shapes are tiny: the
interpreter executes every program in Python.

Tolerances: fp32 forward and every gradient (q, k, v, position bias, logit scale)
within 1e-4 absolute + 1e-4 relative of the eager fp32 backend (measured ~2e-6);
fp16 / bf16 forward within 1.25x and gradients within 2x SDPA's error against an
fp64 reference (mean over 3 seeds of the max error), on the same inputs.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from typing import Any

import pytest
import torch

ATOL = RTOL = 1e-4
CASES = {
    # name: (batch, windows, heads, L, d, shift mask)
    "L64-d16": (1, 2, 2, 64, 16, False),
    "L64-d16-mask": (1, 2, 2, 64, 16, True),
    "L64-d24-mask": (2, 2, 2, 64, 24, True),
    "L16-d8-mask": (2, 3, 2, 16, 8, True),
    "L256-d16-mask": (1, 1, 1, 256, 16, True),
}
GRADS = ("q", "k", "v", "bias", "scale")
LOWP_SEEDS = 3


def _shift_like_mask(windows: int, L: int, gen: torch.Generator) -> torch.Tensor:
    """(windows, L, L) 0 / -1e4 mask of random token regions, like a shift mask."""
    regions = torch.randint(0, 3, (windows, L), generator=gen)
    same = regions[:, :, None] == regions[:, None, :]
    return torch.where(same, 0.0, -1e4)


def _inputs(
    case: tuple[int, int, int, int, int, bool], seed: int = 0
) -> tuple[list[torch.Tensor], torch.Tensor | None]:
    """fp64 q, k, v, logit scale, bias and a float32 mask (or None)."""
    B, nW, H, L, d, masked = case
    gen = torch.Generator().manual_seed(seed)
    q, k, v = (
        torch.randn(B, nW, H, L, d, generator=gen, dtype=torch.float64)
        for _ in range(3)
    )
    scale = torch.rand(H, 1, 1, generator=gen, dtype=torch.float64) * 30 + 1
    bias = torch.randn(H, L, L, generator=gen, dtype=torch.float64) * 2
    mask = _shift_like_mask(nW, L, gen) if masked else None
    return [q, k, v, scale, bias], mask


def _grad_out(like: torch.Tensor, seed: int) -> torch.Tensor:
    gen = torch.Generator(device=like.device).manual_seed(1000 + seed)
    return torch.randn(like.shape, generator=gen, dtype=like.dtype, device=like.device)


def _run(
    backend: str,
    inputs: list[torch.Tensor],
    mask: torch.Tensor | None,
    grad_out: torch.Tensor,
    dtype: torch.dtype,
) -> list[torch.Tensor]:
    """Output and gradients of q, k, v, bias, scale for one backend and dtype."""
    from s2lic.codec.layers.attention_fn import window_attention

    q, k, v, scale, bias = (t.detach().clone() for t in inputs)
    q, k, v = (t.to(dtype).requires_grad_() for t in (q, k, v))
    # Bias and scale stay fp32 as in the blocks (autocast keeps them so).
    scale, bias = (t.float().requires_grad_() for t in (scale, bias))
    m = mask.float() if mask is not None else None
    # SDPA wants one dtype (in the blocks autocast sees to that); the kernel takes
    # the fp32 scale as it is.
    s = scale.to(dtype) if backend == "sdpa" else scale
    out = window_attention(q, k, v, s, bias, m, backend)
    out.backward(grad_out.to(dtype))
    return [out.detach()] + [t.grad for t in (q, k, v, bias, scale)]


def _reference(
    inputs: list[torch.Tensor], mask: torch.Tensor | None, grad_out: torch.Tensor
) -> list[torch.Tensor]:
    from s2lic.codec.layers.attention_fn import window_attention

    ins = [t.detach().clone().requires_grad_() for t in inputs]
    q, k, v, scale, bias = ins
    m = mask.double() if mask is not None else None
    out = window_attention(q, k, v, scale, bias, m, "eager")
    out.backward(grad_out)
    return [out.detach()] + [t.grad for t in (q, k, v, bias, scale)]


def _max_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a.double() - b.double()).abs().max().item()


def _worker() -> dict[str, Any]:
    """All interpreter measurements (run with ``TRITON_INTERPRET=1``)."""
    from s2lic.codec.layers import triton_window_attention as tw
    from s2lic.codec.layers.swinv2 import SwinV2Stage

    torch.set_num_threads(1)
    assert tw.interpreter_enabled(), "the worker needs TRITON_INTERPRET=1"
    res: dict[str, Any] = {"cases": {}, "lowp": {}}
    names = ("out",) + GRADS
    for name, case in CASES.items():
        inputs, mask = _inputs(case)
        go = _grad_out(inputs[0], 0)
        ref64 = _reference(inputs, mask, go)
        eager = _run("eager", inputs, mask, go, torch.float32)
        fused = _run("triton", inputs, mask, go, torch.float32)
        res["cases"][name] = {
            n: {
                # Scaled like assert_close: |a - b| <= atol + rtol * |b|.
                "excess": max(
                    0.0,
                    ((f - e).abs() - ATOL - RTOL * e.abs()).max().item(),
                ),
                "vs_eager": _max_err(f, e),
                "vs_fp64": _max_err(f, r),
                "eager_vs_fp64": _max_err(e, r),
            }
            for n, f, e, r in zip(names, fused, eager, ref64, strict=True)
        }
    # fp16 / bf16: error against fp64 next to SDPA's on the same inputs, averaged
    # over seeds (single draws differ by up to 2x either way).
    for dtype in (torch.float16, torch.bfloat16):
        errs = {n: {"triton": 0.0, "sdpa": 0.0} for n in names}
        for seed in range(LOWP_SEEDS):
            inputs, mask = _inputs((1, 4, 2, 64, 32, True), seed=seed)
            go = _grad_out(inputs[0], seed)
            ref64 = _reference(inputs, mask, go)
            fused = _run("triton", inputs, mask, go, dtype)
            sdpa = _run("sdpa", inputs, mask, go, dtype)
            for n, f, sd, r in zip(names, fused, sdpa, ref64, strict=True):
                errs[n]["triton"] += _max_err(f, r) / LOWP_SEEDS
                errs[n]["sdpa"] += _max_err(sd, r) / LOWP_SEEDS
        res["lowp"][str(dtype)] = errs
    # Determinism: a second backward gives bit-identical reduced gradients.
    inputs, mask = _inputs(CASES["L64-d24-mask"])
    go = _grad_out(inputs[0], 0)
    a = _run("triton", inputs, mask, go, torch.float32)
    b = _run("triton", inputs, mask, go, torch.float32)
    res["deterministic"] = all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    # A whole shifted Swin stage: strided q, k, v views, the mask of window m % nW
    # over a batch of 2, the position-bias MLP and the logit scale parameters.
    stage = SwinV2Stage(24, 2, 2, 4, mlp_ratio=1.0, cpb_hidden=16, backend="eager")
    x = torch.randn(2, 24, 12, 8)
    grads, outs = [], []
    for backend in ("eager", "triton"):
        for block in stage.blocks:
            block.attn.backend = backend
        stage.zero_grad()
        xb = x.clone().requires_grad_()
        y = stage(xb)
        y.square().mean().backward()
        outs.append(y.detach())
        grads.append([xb.grad] + [p.grad.clone() for p in stage.parameters()])
    res["stage"] = {
        "out": _max_err(outs[0], outs[1]),
        "grads": max(
            _max_err(a, b) / max(a.abs().max().item(), 1e-12)
            for a, b in zip(*grads, strict=True)
        ),
    }
    return res


def _needs_triton() -> None:
    if importlib.util.find_spec("triton") is None:
        pytest.skip("triton is not installed")


@pytest.fixture(scope="module")
def interp() -> dict[str, Any]:
    """The worker's measurements, from a fresh process in interpreter mode."""
    _needs_triton()
    env = {k: v for k, v in os.environ.items() if k != "S2LIC_ATTENTION"}
    env["TRITON_INTERPRET"] = "1"
    proc = subprocess.run(
        [sys.executable, __file__],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("case", list(CASES))
def test_fp32_matches_eager(interp: dict[str, Any], case: str) -> None:
    """Forward and all five gradients within 1e-4 abs + 1e-4 rel of eager fp32."""
    for name, err in interp["cases"][case].items():
        assert err["excess"] == 0.0, f"{case} {name}: {err}"


def test_low_precision_no_worse_than_sdpa(interp: dict[str, Any]) -> None:
    """fp16 / bf16 errors against fp64, next to SDPA's on the same inputs.

    Mean over seeds of the max error. The kernel normalises in fp32 but, like
    FlashAttention, rounds P and dS to the input type for the tensor-core products,
    which SDPA's CPU backward does not. Measured ratios to SDPA: fp16 0.4-0.7
    (d logit-scale 1.5, taken from the rounded dS @ k product), bf16 0.8-1.0 (dV
    1.2).
    """
    for dtype, errs in interp["lowp"].items():
        out = errs["out"]
        assert out["triton"] <= 1.25 * out["sdpa"], f"{dtype}: {out}"
        for name in GRADS:
            err = errs[name]
            assert err["triton"] <= 2.0 * err["sdpa"], f"{dtype} {name}: {err}"


def test_reduced_gradients_are_deterministic(interp: dict[str, Any]) -> None:
    assert interp["deterministic"]


def test_swin_stage_matches_eager(interp: dict[str, Any]) -> None:
    assert interp["stage"]["out"] < 1e-4, interp["stage"]
    assert interp["stage"]["grads"] < 1e-4, interp["stage"]


_ERROR_SCRIPT = """
import torch
from s2lic.codec.layers.attention_fn import window_attention
q = torch.randn(1, 2, 64, 16)
try:
    window_attention(q, q, q, torch.ones(2, 1, 1), torch.zeros(2, 64, 64))
except RuntimeError as e:
    print(type(e).__name__, e)
else:
    print("no error")
"""


def test_triton_without_cuda_or_interpreter_is_a_clear_error() -> None:
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["S2LIC_ATTENTION"] = "triton"
    proc = subprocess.run(
        [sys.executable, "-c", _ERROR_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    out = proc.stdout.strip()
    assert out.startswith("TritonBackendError"), out
    assert "attention backend 'triton'" in out
    if importlib.util.find_spec("triton") is not None:
        assert "TRITON_INTERPRET=1" in out and "CUDA" in out


def test_triton_missing_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from s2lic.codec.layers import triton_window_attention as tw

    monkeypatch.setattr(tw, "triton_available", lambda: False)
    with pytest.raises(tw.TritonBackendError, match="not installed"):
        tw.check_runtime(torch.device("cuda"))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_cuda_matches_reference(dtype: torch.dtype) -> None:
    """On a GPU: compiled kernels against fp64 eager, next to SDPA's error."""
    _needs_triton()
    inputs, mask = _inputs((4, 64, 4, 64, 32, True))
    inputs = [t.cuda() for t in inputs]
    mask = mask.cuda()
    go = _grad_out(inputs[0], 0)
    ref = _reference(inputs, mask, go)
    fused = _run("triton", inputs, mask, go, dtype)
    sdpa = _run("sdpa", inputs, mask, go, dtype)
    if dtype == torch.float32:
        for f, r in zip(fused, ref, strict=True):
            torch.testing.assert_close(f.double(), r, atol=ATOL, rtol=RTOL)
    else:
        assert _max_err(fused[0], ref[0]) <= 1.25 * _max_err(sdpa[0], ref[0])


if __name__ == "__main__":
    print(json.dumps(_worker()))
