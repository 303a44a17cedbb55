"""Parameters and CPU coding time of the AC / AG designs (issue #27).

Usage:
    python benchmarks/designs.py ../shared/data/kodak --paper-contexts W.safetensors \
        [--limit 4] [--threads 2]

Designs: ``s2lic-s`` with its shipped weights (the first design), ``s2lic-s`` with
the paper's AC and AG (weights from ``scripts/migrate_contexts.py`` or a fine-tuning
run), and ``s2lic-paper`` (the paper's modules at the paper's widths, seeded random
weights: its time, not its rate, is what counts here). Each image is encoded and
decoded with every design in turn (interleaved, so that a change in the machine's load
hits all alike) through the model's ``compress`` / ``decompress`` with rANS; the rows
are means over the images after one warm-up.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from pathlib import Path

import torch

from s2lic.codec import api
from s2lic.codec.image import load_image, pad_to_multiple, to_planes, to_tensor
from s2lic.codec.runtime import tune_allocator
from s2lic.codec.zoo import LoadedModel, load_model
from s2lic.entropy.coders import get_coder


def _params(module: torch.nn.Module) -> float:
    return sum(p.numel() for p in module.parameters()) / 1e6


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("images", type=Path)
    p.add_argument("--paper-contexts", required=True, help="s2lic-s, paper AC/AG")
    p.add_argument("--limit", type=int, default=4)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--quality", type=float, default=api.DEFAULT_QUALITY)
    args = p.parse_args(argv)
    tune_allocator()
    torch.set_num_threads(args.threads)
    designs: dict[str, LoadedModel] = {
        "s2lic-s, first design (shipped)": load_model("s2lic-s"),
        "s2lic-s, paper AC/AG": load_model("s2lic-s", weights=args.paper_contexts),
        "s2lic-paper (random weights)": load_model("s2lic-paper"),
    }
    coder = get_coder("rans")
    files = sorted(args.images.glob("*.png"))[: args.limit + 1]
    times: dict[str, dict[str, list[float]]] = {
        d: {"encode": [], "decode": [], "bpp": []} for d in designs
    }
    for n, path in enumerate(files):
        rgb = to_planes(load_image(path)).rgb
        for name, loaded in designs.items():
            m = loaded.model
            x, _ = pad_to_multiple(to_tensor(rgb), m.pad_multiple)
            with torch.inference_mode():
                t = time.perf_counter()
                enc = m.compress(x, args.quality, coder)
                t_enc = time.perf_counter() - t
                t = time.perf_counter()
                m.decompress(enc.streams, enc.shape, args.quality, coder)
                t_dec = time.perf_counter() - t
            if n:  # the first image warms up
                times[name]["encode"].append(t_enc)
                times[name]["decode"].append(t_dec)
                bits = 8 * sum(map(len, enc.streams))
                times[name]["bpp"].append(bits / (rgb.shape[0] * rgb.shape[1]))
    print(
        f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{args.threads} threads, quality {args.quality}, {len(files) - 1} images "
        f"of {args.images} after one warm-up\n"
    )
    print(
        "| design | parameters | of which AC + AG | encode | decode | bpp |\n"
        "|---|---:|---:|---:|---:|---:|"
    )
    for name, loaded in designs.items():
        ent = loaded.model.entropy
        row = times[name]
        print(
            f"| {name} | {_params(loaded.model):.2f} M | "
            f"{_params(ent.ac) + _params(ent.ag):.2f} M | "
            f"{statistics.mean(row['encode']):.2f} s | "
            f"{statistics.mean(row['decode']):.2f} s | "
            f"{statistics.mean(row['bpp']):.3f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
