"""Parameters, FLOPs and CPU time of every attention block at 1 x 128 x 64 x 64.

FLOPs are counted by `torch.utils.flop_counter.FlopCounterMode`, which counts matrix
multiplications and convolutions (2 per multiply-add) but not element-wise operations,
pooling or softmax: they are approximate and a lower bound, exact for conv/matmul-bound
blocks. Time is the median of `--repeat` forward passes in eval mode under
``torch.no_grad`` after warm-up, with `--threads` intra-op threads.

Run::

    python benchmarks/attention_blocks.py [--channels 128] [--size 64] [--threads 2]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from s2lic.codec.layers.attention import attention_names, get_attention


def measure(name: str, x: torch.Tensor, repeat: int) -> tuple[int, float, float]:
    """(parameters, MFLOPs, median ms) of block `name` on `x`."""
    block = get_attention(name, x.shape[1]).eval()
    params = sum(p.numel() for p in block.parameters())
    with torch.no_grad():
        counter = FlopCounterMode(display=False)
        with counter:
            block(x)
        for _ in range(3):
            block(x)
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            block(x)
            times.append(time.perf_counter() - t)
    return params, counter.get_total_flops() / 1e6, 1e3 * statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--channels", type=int, default=128)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeat", type=int, default=20)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x = torch.randn(1, args.channels, args.size, args.size)
    print(
        f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{args.threads} threads, input 1x{args.channels}x{args.size}x{args.size}"
    )
    print("| block | parameters | MFLOPs (conv+matmul) | CPU ms |")
    print("|---|---:|---:|---:|")
    for name in attention_names():
        params, mflops, ms = measure(name, x, args.repeat)
        print(f"| `{name}` | {params:,} | {mflops:.3g} | {ms:.2f} |")


if __name__ == "__main__":
    main()
