"""What a training step costs per batch size: time, images/s, memory, operator count.

A step is what the trainer does per batch (train/trainer.py): the model's
training forward under bf16 autocast on CUDA and bf16-capable CPUs (``--no-bf16``:
fp32), the RD loss plus the quantiles' aux loss, one backward and an AdamW step, on
random crops (no data loading). The operator count (leaf operators of one step, from
`torch.profiler`) tells whether a device is bound by launches: when time per step
hardly grows with the batch, a larger batch is free.
Peak memory is the CUDA allocator's peak, or on the CPU the process's peak RSS.

Run::

    python benchmarks/train_step.py --device cuda --batches 32,64,128
    python benchmarks/train_step.py --device cpu --batches 1,2 --crop 128 --ops
    python benchmarks/train_step.py --device cpu --batches 4 --threads 2 --no-bf16
"""

from __future__ import annotations

import argparse
import platform
import resource
import time
from datetime import date

import torch

from s2lic.codec.objective import RateDistortion
from s2lic.codec.zoo import load_model
from s2lic.train.trainer import amp_bf16, rd_losses


def _peak_gib(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="s2lic-s")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--crop", type=int, default=256)
    p.add_argument("--batches", default="32,64", help="comma list, ascending")
    p.add_argument("--steps", type=int, default=10, help="timed steps per batch size")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    p.add_argument("--ops", action="store_true", help="count the operators of a step")
    p.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads")
    args = p.parse_args(argv)
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    model = load_model(args.model, "cpu").model.to(device).train()
    objective = RateDistortion()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5)
    amp = amp_bf16(device, args.bf16)

    def step(x: torch.Tensor) -> None:
        parts, aux_loss = rd_losses(model, model, objective, x, bf16=args.bf16)
        opt.zero_grad(set_to_none=True)
        (parts["loss"] + aux_loss).backward()
        opt.step()

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    name = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else platform.processor() or "CPU"
    )
    print(
        f"# {args.model} training step, {name}, torch {torch.__version__}, "
        f"{args.crop}² crops, {'bf16 autocast' if amp else 'fp32'}, {date.today()}"
    )
    print("| batch | ms / step | images / s | peak memory (GiB) |")
    print("|---:|---:|---:|---:|")
    for batch in (int(b) for b in args.batches.split(",")):
        x = torch.rand(batch, 3, args.crop, args.crop, device=device)
        for _ in range(args.warmup):
            step(x)
        sync()
        start = time.perf_counter()
        for _ in range(args.steps):
            step(x)
        sync()
        seconds = (time.perf_counter() - start) / args.steps
        print(
            f"| {batch} | {1000 * seconds:.1f} | {batch / seconds:.1f} | "
            f"{_peak_gib(device):.2f} |"
        )
    if args.ops:
        from torch.profiler import profile

        with profile() as prof:
            step(x)
            sync()
        leaves = sum(1 for e in prof.events() if not e.cpu_children)
        print(f"\n{leaves:,} leaf operators in one step (forward, backward, AdamW)")


if __name__ == "__main__":
    main()
