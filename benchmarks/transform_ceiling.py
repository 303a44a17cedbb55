"""How much of the RD curve the transforms allow: PSNR of g_s(g_a(x)) without coding.

For each quality the latent is scaled by the quality's gain and decoded (a) as it is,
without any quantisation: the ceiling of that quality, whatever the entropy model
does, and (b) after plain rounding (no predicted means). A well-trained model has a
ceiling far above its coded PSNR; when the coded curve flattens just below the ceiling,
the transforms, not the entropy model, are what training must improve.

Run::

    python benchmarks/transform_ceiling.py ../shared/data/kodak [--limit 4] \
        [--weights runs/x/last.safetensors] [--qualities 0,0.5,1]
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import torch

from s2lic.codec.image import crop, pad_to_multiple, to_tensor, to_uint8
from s2lic.codec.metrics import psnr
from s2lic.codec.zoo import load_model
from s2lic.eval.runner import find_images, load_rgb


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("images", type=Path, help="folder of images (e.g. Kodak)")
    p.add_argument("--model", default="s2lic-s")
    p.add_argument("--weights", type=Path, help="weights file (default: shipped)")
    p.add_argument("--qualities", default="0,0.5,1")
    p.add_argument("--limit", type=int, default=0, help="first N images only")
    args = p.parse_args(argv)
    loaded = load_model(args.model, weights=args.weights)
    model = loaded.model
    files = find_images(args.images, args.limit or None)
    qualities = [float(q) for q in args.qualities.split(",")]
    rows: dict[float, tuple[list[float], list[float]]] = {
        q: ([], []) for q in qualities
    }
    for path in files:
        rgb = load_rgb(path)
        x, hw = pad_to_multiple(to_tensor(rgb), model.pad_multiple)
        with torch.inference_mode():
            y = model.analyze(x)
            for q in qualities:
                gained = model.gain(y, torch.tensor([q]))
                for out, latent in zip(
                    rows[q], (gained, torch.round(gained)), strict=True
                ):
                    x_hat = crop(model.synthesize(latent, q), hw)
                    out.append(psnr(rgb, to_uint8(x_hat)))
    print(f"# {args.model} ({loaded.source}), {len(files)} images of {args.images}")
    print("| quality | PSNR without quantisation | PSNR after rounding |")
    print("|---:|---:|---:|")
    for q, (exact, rounded) in rows.items():
        mean_exact, mean_rounded = statistics.mean(exact), statistics.mean(rounded)
        print(f"| {q:g} | {mean_exact:.2f} | {mean_rounded:.2f} |")


if __name__ == "__main__":
    main()
