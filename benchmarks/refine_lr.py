"""Step size of encoder-side refinement: real cost change per quality and peak step.

For each image (a centre crop), quality and step size, refines g_a's latent for
`--steps` steps (`s2lic.codec.adapt.fit.refine`, the path of `s2lic encode --refine`)
and prints the change of the real rate-distortion cost ``λ·255²·MSE + bpp`` against the
unrefined latent (0 %: no checked latent beat it). Picks `s2lic.codec.refine.LR`;
results in docs/refine.md.

    python benchmarks/refine_lr.py ../shared/data/kodak/kodim07.png \
        ../shared/data/kodak/kodim19.png --qualities 0.2,0.6,0.8,1 --lrs 0.005,0.01,0.02
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np
import torch

from s2lic.codec import api
from s2lic.codec.adapt.fit import refine
from s2lic.codec.image import load_image, pad_to_multiple, to_planes, to_tensor
from s2lic.entropy.coders import get_coder


def _floats(text: str) -> list[float]:
    return [float(v) for v in text.split(",")]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("images", type=Path, nargs="+")
    p.add_argument("--model", default="s2lic-s")
    p.add_argument("--qualities", type=_floats, default=[0.2, 0.6, 0.8, 1.0])
    p.add_argument("--lrs", type=_floats, default=[0.005, 0.01, 0.02, 0.04])
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--crop", type=int, nargs=2, default=(256, 384), metavar=("H", "W"))
    p.add_argument("--device", default="cpu")
    args = p.parse_args(argv)
    loaded = api.get_codec(args.model, args.device, None)
    net, coder = loaded.model, get_coder("rans")
    print(
        f"# {args.model} ({'trained' if loaded.trained else 'random'} weights, "
        f"{loaded.weights_id.hex()}), {args.steps} steps, device {args.device}"
    )
    print("| image | quality | " + " | ".join(f"lr {lr:g}" for lr in args.lrs) + " |")
    print("|---|---:|" + "---:|" * len(args.lrs))
    for path in args.images:
        planes = to_planes(load_image(path))
        h, w = planes.rgb.shape[:2]
        ch, cw = min(args.crop[0], h), min(args.crop[1], w)
        top, left = (h - ch) // 2, (w - cw) // 2
        rgb = np.ascontiguousarray(planes.rgb[top : top + ch, left : left + cw])
        planes = dataclasses.replace(planes, rgb=rgb, alpha=None)
        x, _ = pad_to_multiple(to_tensor(rgb).to(args.device), net.pad_multiple)
        with torch.inference_mode():
            y = net.analyze(x)
        for q in args.qualities:
            cells = []
            for lr in args.lrs:
                r = refine(net, x, y, planes, q, args.steps, coder, lr=lr)
                cells.append(
                    f"{100 * (r.cost / r.start_cost - 1):+.2f} % (step {r.step})"
                )
            print(f"| {path.name} | {q:g} | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
