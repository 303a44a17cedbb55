"""Swin-V2 window attention per backend: eager, SDPA and the fused Triton kernels.

Usage (needs a CUDA GPU; about 3-5 minutes on an H100, ``--quick`` about 1):
    python benchmarks/window_attention.py
    python benchmarks/window_attention.py --quick        # s2lic-s shapes, bf16
    python benchmarks/window_attention.py --sweep        # Triton launch configs

Prints Markdown tables (GPU name and date in the header):

1. Microseconds per call of `s2lic.codec.layers.attention_fn.window_attention` with
   each backend, forward and forward + backward, for the window shapes of the
   shipped `s2lic-s` (analysis dims 48 / 96 / 128, heads 2 / 4 / 4, window 8) and of
   the paper's configuration (dims 192, heads 4 / 8 / 16): a 768x512 image at
   strides 2, 4 and 8 (1536, 384 and 96 windows) and a training batch of 32 crops
   of 256x256. Inputs are laid out as in the blocks (q, k, v strided views of one
   qkv projection); eager and SDPA pay for forming bias + mask, as in the model.
   bf16 rows run under autocast like training (bf16 q, k, v and bias, fp32 scale
   and mask); fp32 rows run in fp32. Each row also gives every method's error
   against an fp64 eager reference: the output, dq, and dBias (relative to its
   largest entry).
2. End-to-end `s2lic-s` on a random 768x512 image per backend: analysis and
   synthesis transforms, entropy encode / decode, and one bf16 training step
   (32 crops of 256x256, AdamW).

Without CUDA it says so, runs a small CPU comparison of eager and SDPA, and exits 0.
Times are medians of CUDA-event timings after warm-up; at small shapes they include
the Python launch overhead of each backend, which is part of its real cost.
"""

from __future__ import annotations

import argparse
import datetime
import math
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

import torch
from torch import nn

from s2lic.codec.layers.attention_fn import window_attention
from s2lic.codec.layers.swinv2 import WindowAttentionV2, _shift_mask

METHODS = ("eager", "sdpa", "triton")
WINDOW = 8
L = WINDOW * WINDOW


@dataclass(frozen=True)
class Shape:
    """One attention call: `batch` x `windows` windows of `heads` heads of dim d."""

    config: str
    stage: str
    batch: int
    windows: int
    heads: int
    dim: int

    @property
    def d(self) -> int:
        return self.dim // self.heads


def shapes(quick: bool) -> list[Shape]:
    """s2lic-s (registry) and paper shapes at inference and training sizes."""
    cfgs = {"s2lic-s": ((48, 96, 128), (2, 4, 4)), "paper": ((192,) * 3, (4, 8, 16))}
    out = []
    for name, (dims, heads) in cfgs.items():
        if quick and name != "s2lic-s":
            continue
        for s, stride in enumerate((2, 4, 8)):
            # 768x512 inference, one image; training, 32 crops of 256x256.
            infer = (768 // stride // WINDOW) * (512 // stride // WINDOW)
            train = (256 // stride // WINDOW) ** 2
            out.append(Shape(name, f"768x512 /{stride}", 1, infer, heads[s], dims[s]))
            out.append(
                Shape(name, f"train 32x256² /{stride}", 32, train, heads[s], dims[s])
            )
    return out


def _mask(shape: Shape, device: torch.device) -> torch.Tensor:
    """A real shift mask with `shape.windows` windows (from a grid of that size)."""
    rows = math.isqrt(shape.windows)
    while shape.windows % rows:
        rows -= 1
    h, w = rows * WINDOW, shape.windows // rows * WINDOW
    return _shift_mask(h, w, WINDOW, WINDOW // 2, device)


@dataclass
class Inputs:
    """Leaves of one call, laid out as `WindowAttentionV2` produces them."""

    qkv: torch.Tensor  # (B, nW, L, 3, heads, d)
    scale: torch.Tensor  # (heads, 1, 1) fp32
    bias: torch.Tensor  # (heads, L, L)
    mask: torch.Tensor | None  # (nW, L, L) fp32
    grad_out: torch.Tensor

    def qkv_views(self) -> tuple[torch.Tensor, ...]:
        return tuple(self.qkv.permute(3, 0, 1, 4, 2, 5).unbind(0))


def make_inputs(
    shape: Shape, dtype: torch.dtype, masked: bool, device: torch.device, seed: int = 0
) -> Inputs:
    gen = torch.Generator(device=device).manual_seed(seed)
    B, nW, H, d = shape.batch, shape.windows, shape.heads, shape.d
    qkv = torch.randn(B, nW, L, 3, H, d, generator=gen, device=device, dtype=dtype)
    scale = torch.rand(H, 1, 1, generator=gen, device=device) * 30 + 1
    bias = 4 * torch.randn(H, L, L, generator=gen, device=device).tanh()
    go = torch.randn(B, nW, H, L, d, generator=gen, device=device, dtype=dtype)
    mask = _mask(shape, device) if masked else None
    return Inputs(qkv, scale, bias.to(dtype), mask, go)


def _leaves(inp: Inputs, dtype: torch.dtype | None = None) -> Inputs:
    cast = (lambda t: t.to(dtype)) if dtype is not None else (lambda t: t)
    return Inputs(
        cast(inp.qkv).detach().requires_grad_(),
        cast(inp.scale).detach().requires_grad_(),
        cast(inp.bias).detach().requires_grad_(),
        cast(inp.mask) if inp.mask is not None else None,
        cast(inp.grad_out),
    )


def run(method: str, inp: Inputs, backward: bool, autocast: bool) -> torch.Tensor:
    q, k, v = inp.qkv_views()
    with torch.autocast("cuda", torch.bfloat16, enabled=autocast):
        out = window_attention(q, k, v, inp.scale, inp.bias, inp.mask, method)
    if backward:
        out.backward(inp.grad_out)
    return out


def time_us(fn: Callable[[], object], iters: int, warmup: int = 3) -> float:
    """Median microseconds of `fn` by CUDA events (one pair per call)."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(iters):
        a = torch.cuda.Event(enable_timing=True)
        b = torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b) * 1e3)
    return statistics.median(times)


def errors(
    method: str, inp: Inputs, dtype: torch.dtype, ref: tuple[torch.Tensor, ...]
) -> tuple[float, float, float]:
    """Max |out - ref|, max |dq - ref|, max |dBias - ref| / max |ref dBias|."""
    x = _leaves(inp)
    out = run(method, x, True, dtype != torch.float32)
    dq = x.qkv.grad[:, :, :, 0].transpose(2, 3)
    r_out, r_dq, r_db = ref
    return (
        (out.double() - r_out).abs().max().item(),
        (dq.double() - r_dq).abs().max().item(),
        ((x.bias.grad.double() - r_db).abs().max() / r_db.abs().max()).item(),
    )


def reference(inp: Inputs) -> tuple[torch.Tensor, ...]:
    x = _leaves(inp, torch.float64)
    out = run("eager", x, True, False)
    return out.detach(), x.qkv.grad[:, :, :, 0].transpose(2, 3), x.bias.grad


def micro_table(args: argparse.Namespace, device: torch.device) -> None:
    dtypes = [torch.bfloat16] if args.quick else [torch.bfloat16, torch.float32]
    masks = {"both": (True, False), "shift": (True,), "none": (False,)}[args.masks]
    print(
        "| config | stage | windows | heads | d | mask | dtype | pass "
        "| eager µs | SDPA µs | Triton µs | SDPA / Triton "
        "| err out (E / S / T) | err dq (E / S / T) | rel err dBias (E / S / T) |"
    )
    print("|---" * 15 + "|")
    for shape in shapes(args.quick):
        for dtype in dtypes:
            for masked in masks:
                inp = make_inputs(shape, dtype, masked, device)
                ref = reference(inp)
                errs = [errors(m, inp, dtype, ref) for m in METHODS]
                del ref
                for backward in (False, True):
                    us = []
                    for m in METHODS:
                        x = _leaves(inp)
                        ac = dtype != torch.float32

                        def call(
                            m: str = m, x: Inputs = x, ac: bool = ac, b: bool = backward
                        ) -> None:
                            x.qkv.grad = x.bias.grad = x.scale.grad = None
                            with torch.set_grad_enabled(b):
                                run(m, x, b, ac)

                        us.append(time_us(call, args.iters))
                    e = [f"{v:.1e}" for v in sum(zip(*errs, strict=True), ())]
                    print(
                        f"| {shape.config} | {shape.stage} "
                        f"| {shape.batch * shape.windows} | {shape.heads} "
                        f"| {shape.d} | {'shift' if masked else '-'} "
                        f"| {str(dtype)[6:]} | {'fwd+bwd' if backward else 'fwd'} "
                        f"| {us[0]:.0f} | {us[1]:.0f} | {us[2]:.0f} "
                        f"| {us[1] / us[2]:.2f}x "
                        f"| {' / '.join(e[0:3])} | {' / '.join(e[3:6])} "
                        f"| {' / '.join(e[6:9])} |",
                        flush=True,
                    )
                del inp
                torch.cuda.empty_cache()


@contextmanager
def attention_backend(model: nn.Module, backend: str) -> Iterator[None]:
    mods = [m for m in model.modules() if isinstance(m, WindowAttentionV2)]
    old = [m.backend for m in mods]
    for m in mods:
        m.backend = backend
    try:
        yield
    finally:
        for m, b in zip(mods, old, strict=True):
            m.backend = b


def _sync_time(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    out = fn()  # warm-up (compiles the kernels on first use)
    times = []
    for _ in range(repeat):
        torch.cuda.synchronize()
        t = time.perf_counter()
        out = fn()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3, out


def end_to_end(args: argparse.Namespace, device: torch.device) -> None:
    from s2lic.codec import api
    from s2lic.codec.objective import RateDistortion
    from s2lic.codec.zoo import load_model
    from s2lic.entropy.coders import get_coder

    loaded = load_model("s2lic-s", device)
    m = loaded.model
    coder = get_coder("rans")
    gen = torch.Generator(device=device).manual_seed(0)
    x = torch.rand(1, 3, 512, 768, generator=gen, device=device)
    q = api.DEFAULT_QUALITY
    print(
        f"\n`s2lic-s` ({'trained' if loaded.trained else 'random'} weights), "
        f"random 768x512 image, fp32, ms (median of {args.repeat}); training step: "
        f"bf16 autocast, {args.train_batch} crops of 256x256, AdamW\n"
    )
    print(
        "| attention | analysis | entropy encode | entropy decode | synthesis "
        "| transforms total | max abs x̂ diff vs eager | train step |"
    )
    print("|---" * 8 + "|")
    x_ref = None
    for backend in METHODS:
        with attention_backend(m, backend), torch.inference_mode():
            t_a, y = _sync_time(lambda: m.g_a(x), args.repeat)
            t_e, enc = _sync_time(
                lambda y=y: m.compress_latent(y, q, coder), args.repeat
            )
            z_shape = (x.shape[-2] // 64, x.shape[-1] // 64)
            t_d, coded = _sync_time(
                lambda enc=enc, zs=z_shape: m.entropy.decompress(
                    enc.streams[:2], zs, coder, device
                ),
                args.repeat,
            )
            t_s, x_hat = _sync_time(
                lambda coded=coded: m.synthesize(coded.y_hat, q), args.repeat
            )
        x_ref = x_hat if x_ref is None else x_ref
        diff = (x_hat - x_ref).abs().max().item()
        t_step = train_step_ms(args, device, backend, RateDistortion())
        torch.cuda.empty_cache()
        print(
            f"| {backend} | {t_a:.1f} | {t_e:.1f} | {t_d:.1f} | {t_s:.1f} "
            f"| {t_a + t_s:.1f} | {diff:.1e} | {t_step:.0f} |",
            flush=True,
        )


def train_step_ms(
    args: argparse.Namespace, device: torch.device, backend: str, objective: object
) -> float:
    from s2lic.codec.zoo import load_model

    model = load_model("s2lic-s", device).model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5)
    gen = torch.Generator(device=device).manual_seed(1)
    x = torch.rand(args.train_batch, 3, 256, 256, generator=gen, device=device)

    def step() -> None:
        quality = torch.rand(x.shape[0], device=device)
        with torch.autocast("cuda", torch.bfloat16):
            out = model(x, quality)
        parts = objective(out, x, quality)  # type: ignore[operator]
        total = parts["loss"] + model.entropy.aux_loss()
        opt.zero_grad(set_to_none=True)
        total.backward()
        opt.step()

    with attention_backend(model, backend):
        ms, _ = _sync_time(step, args.repeat)
    return ms


def sweep(args: argparse.Namespace, device: torch.device) -> None:
    """Time alternative `LAUNCH_CONFIGS` for L = 64 on the two biggest s2lic-s calls."""
    from s2lic.codec.layers import triton_window_attention as tw

    infer, train = shapes(True)[0], shapes(True)[1]
    print("\nTriton launch configurations, L = 64, bf16, shift mask")
    print("| pass | shape | warps | resident | stages | programs/SM | µs |")
    print("|---" * 7 + "|")
    for backward, shape in ((False, infer), (True, train)):
        inp = make_inputs(shape, torch.bfloat16, True, device)
        base = tw.LAUNCH_CONFIGS[L, backward]
        for warps in (4, 8):
            for resident in (True, False):
                for stages in (1, 2, 3):
                    for pps in (2, 4, 8, 16):
                        cfg = replace(
                            base,
                            warps=warps,
                            wide_warps=warps,
                            resident=resident,
                            stages=stages,
                            programs_per_sm=pps,
                        )
                        tw.LAUNCH_CONFIGS[L, backward] = cfg
                        x = _leaves(inp)

                        def call(x: Inputs = x, b: bool = backward) -> None:
                            x.qkv.grad = x.bias.grad = x.scale.grad = None
                            with torch.set_grad_enabled(b):
                                run("triton", x, b, True)

                        us = time_us(call, args.iters)
                        print(
                            f"| {'fwd+bwd' if backward else 'fwd'} "
                            f"| {shape.stage} {shape.batch * shape.windows}x"
                            f"{shape.heads}x{shape.d} | {warps} | {resident} "
                            f"| {stages} | {pps} | {us:.0f} |",
                            flush=True,
                        )
        tw.LAUNCH_CONFIGS[L, backward] = base


def cpu_sanity() -> None:
    """Eager vs SDPA on the CPU (the fused kernels need CUDA)."""
    print("(CPU sanity check only: eager vs SDPA, fp32, s2lic-s inference shapes)\n")
    print("| stage | windows | heads | d | eager µs | SDPA µs | max abs diff |")
    print("|---" * 7 + "|")
    dev = torch.device("cpu")
    for shape in shapes(True)[::2]:
        inp = make_inputs(shape, torch.float32, True, dev)
        outs, us = [], []
        for m in ("eager", "sdpa"):
            with torch.no_grad():
                t = time.perf_counter()
                for _ in range(3):
                    out = run(m, inp, False, False)
                us.append((time.perf_counter() - t) / 3 * 1e6)
            outs.append(out)
        print(
            f"| {shape.stage} | {shape.windows} | {shape.heads} | {shape.d} "
            f"| {us[0]:.0f} | {us[1]:.0f} | {(outs[0] - outs[1]).abs().max():.1e} |"
        )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help="s2lic-s shapes, bf16 only")
    p.add_argument("--masks", choices=("both", "shift", "none"), default="both")
    p.add_argument("--iters", type=int, default=30, help="timed calls per entry")
    p.add_argument("--repeat", type=int, default=5, help="end-to-end repetitions")
    p.add_argument("--train-batch", type=int, default=32)
    p.add_argument("--sweep", action="store_true", help="Triton launch configs only")
    p.add_argument("--no-model", action="store_true", help="skip the end-to-end part")
    args = p.parse_args(argv)
    if not torch.cuda.is_available():
        print("benchmarks/window_attention.py needs a CUDA GPU; none found.\n")
        cpu_sanity()
        return 0
    device = torch.device("cuda")
    torch.backends.cuda.matmul.allow_tf32 = False  # fp32 rows stay fp32
    try:
        import triton
    except ImportError:
        print("triton is not installed: the fused backend cannot be measured.")
        return 0
    print(
        f"# Window attention, {torch.cuda.get_device_name(device)}, "
        f"{datetime.date.today().isoformat()}\n\n"
        f"Python {platform.python_version()}, torch {torch.__version__}, "
        f"triton {triton.__version__}, window {WINDOW} (L = {L}); "
        "E / S / T = eager / SDPA / Triton.\n"
    )
    if args.sweep:
        sweep(args, device)
        return 0
    micro_table(args, device)
    if not args.no_model:
        end_to_end(args, device)
    return 0


if __name__ == "__main__":
    sys.exit(main())
