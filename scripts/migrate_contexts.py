#!/usr/bin/env python3
"""Migrate s2lic-s weights of the first AC / AG design to the paper's (issue #27).

    python scripts/migrate_contexts.py OUT.safetensors [--weights IN] [--crops N]
        [--steps N]

Copies everything, moves the AG function-preservingly and distils the paper's AC from
the old one on random 256² crops of the training photographs (never Kodak), then
writes the weights (with their design) for a fine-tuning run:
``s2lic train --model s2lic-s --init OUT.safetensors ...``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from s2lic.codec.zoo import load_model, save_weights
from s2lic.train.data import RandomCrops, list_images, split_holdout
from s2lic.train.migrate import distill_ac, to_paper_contexts

SHARDS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "train"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("out")
    p.add_argument("--weights", help="first-design weights (default: the shipped)")
    p.add_argument("--crops", type=int, default=96)
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.manual_seed(args.seed)
    old = load_model("s2lic-s", "cpu", args.weights)
    new = to_paper_contexts(old.model)
    train, _ = split_holdout(list_images(sorted(SHARDS.glob("shard-*"))), 8)
    data = RandomCrops(train, 256)
    crops = torch.stack([data[i] for i in range(args.crops)])
    start = time.perf_counter()
    errors = distill_ac(old.model, new, crops, args.steps, log_every=args.steps // 10)
    print(
        f"AC distilled in {time.perf_counter() - start:.0f} s; mse by tenths: "
        + " ".join(f"{e:.4f}" for e in errors)
    )
    save_weights(old.spec, new.eval(), args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
