#!/usr/bin/env python3
"""Held-back validation of weight files, as the trainer's val.csv computes it.

    python scripts/study/holdout.py [WEIGHTS...]   # none: the default weights

Bits per pixel (from the likelihoods) and PSNR at qualities 0, 0.5 and 1 on the 8
training photos `s2lic train --holdout 8` keeps back (their 256² centre crops), so
weights from different runs are compared on the same images, the start included.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from s2lic.codec.objective import RateDistortion
from s2lic.codec.zoo import load_model
from s2lic.train.data import CenterCrops, list_images, split_holdout

SHARDS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "train"


def main(paths: list[str]) -> int:
    _, held = split_holdout(list_images(sorted(SHARDS.glob("shard-*"))), 8)
    val = torch.stack(list(CenterCrops(held, 256)))
    for path in paths or [None]:
        model = load_model("s2lic-s", "cpu", path).model.eval()
        cells = []
        with torch.no_grad():
            for q in (0.0, 0.5, 1.0):
                quality = torch.full((val.shape[0],), q)
                parts = RateDistortion()(model(val, quality), val, quality)
                cells.append(f"q {q}: {parts['bpp']:.4f} bpp {parts['psnr']:.3f} dB")
        print(f"{path or 'default weights'}: " + " | ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
