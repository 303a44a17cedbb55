"""Encode / decode time and peak memory of a model on images, per entropy coder.

Usage:
    python benchmarks/codec_speed.py ../shared/data/kodak --model s2lic-s --limit 4

Times are wall-clock through the public API (`s2lic.codec.api.encode` / `decode`, the
path the CLI uses), after one warm-up image; the breakdown of one image into analysis,
entropy model + coding and synthesis comes from timing the model's parts directly.
Peak memory is the process's maximum resident set size (it only grows).
"""

from __future__ import annotations

import argparse
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

import torch

from s2lic.codec import api
from s2lic.codec.image import load_image, pad_to_multiple, to_planes, to_tensor
from s2lic.codec.runtime import tune_allocator
from s2lic.entropy.coders import get_coder, list_coders


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _breakdown(
    model_name: str, image: Path, coder: str, device: str
) -> dict[str, float]:
    loaded = api.get_codec(model_name, device, None)
    m = loaded.model
    x, _ = pad_to_multiple(
        to_tensor(to_planes(load_image(image)).rgb).to(device), m.pad_multiple
    )
    backend = get_coder(coder)
    out: dict[str, float] = {}
    with torch.inference_mode():
        t = time.perf_counter()
        y = m.g_a(x)
        out["analysis"] = time.perf_counter() - t
        t = time.perf_counter()
        enc = m.compress_latent(y, api.DEFAULT_QUALITY, backend)
        out["entropy encode"] = time.perf_counter() - t
        t = time.perf_counter()
        coded = m.entropy.decompress(
            enc.streams[:2], (x.shape[-2] // 64, x.shape[-1] // 64), backend, device
        )
        out["entropy decode"] = time.perf_counter() - t
        t = time.perf_counter()
        m.synthesize(coded.y_hat, api.DEFAULT_QUALITY)
        out["synthesis"] = time.perf_counter() - t
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("images", type=Path, help="folder of images (e.g. Kodak)")
    p.add_argument("--model", default="s2lic-s")
    p.add_argument("--coders", default=",".join(list_coders()))
    p.add_argument("--quality", type=float, default=api.DEFAULT_QUALITY)
    p.add_argument("--limit", type=int, default=0, help="first N images only")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    p.add_argument(
        "--refine", type=int, default=0, help="encoder-side refinement steps (0 = off)"
    )
    args = p.parse_args(argv)
    tune_allocator()
    if args.threads:
        torch.set_num_threads(args.threads)
    files = sorted(
        f
        for f in args.images.iterdir()
        if f.suffix.lower() in {".png", ".jpg", ".jpeg"}
    )
    if args.limit:
        files = files[: args.limit]
    if not files:
        print(f"no images in {args.images}", file=sys.stderr)
        return 1
    loaded = api.get_codec(args.model, args.device, None)
    print(
        f"# {args.model} ({'trained' if loaded.trained else 'random'} weights), "
        f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, device {args.device}, "
        f"quality {args.quality}, refine {args.refine}"
    )
    images = [load_image(f) for f in files]
    api.encode(
        images[0], quality=args.quality, model=args.model, device=args.device
    )  # warm-up
    print("| coder | image | size | bytes | bpp | encode s | decode s | peak MiB |")
    print("|---|---|---|---|---|---|---|---|")
    for coder in args.coders.split(","):
        enc_t, dec_t = [], []
        for f, img in zip(files, images, strict=True):
            r = api.encode(
                img,
                quality=args.quality,
                model=args.model,
                coder=coder,
                device=args.device,
                refine=args.refine,
            )
            d = api.decode(r.data, device=args.device)
            enc_t.append(r.seconds)
            dec_t.append(d.seconds)
            print(
                f"| {coder} | {f.name} | {img.width}x{img.height} | {len(r.data)} "
                f"| {r.bpp:.3f} | {r.seconds:.2f} | {d.seconds:.2f} "
                f"| {_peak_mib():.0f} |"
            )
        print(
            f"| {coder} | **mean of {len(files)}** | | | "
            f"| **{statistics.mean(enc_t):.2f}** | **{statistics.mean(dec_t):.2f}** "
            f"| {_peak_mib():.0f} |"
        )
    parts = _breakdown(args.model, files[0], args.coders.split(",")[0], args.device)
    print(
        f"\nbreakdown of {files[0].name}: "
        + ", ".join(f"{k} {v:.2f} s" for k, v in parts.items())
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
