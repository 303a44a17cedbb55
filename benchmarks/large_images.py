"""Encode / decode time and peak memory of large images (1 to 24 megapixels).

Usage:
    python benchmarks/large_images.py ../shared/data/kodak --sizes 1,6,12,24

Each size runs in a fresh subprocess (so every peak is its own): the child makes a
3:2 test image of that many megapixels as a mosaic of the folder's images at their
native resolution (mirrored copies alternate, so the detail per pixel is that of the
photos and no edge is a hard seam), loads the model (not timed), then encodes and
decodes it through the public API (`api.encode` -> bytes -> `api.decode`, the CLI's
path; with ``--refine N``, N steps of encoder-side refinement, which run on tiles).
It reports wall times, the file's bpp, and peak resident set sizes (``VmHWM``)
of the whole process: after loading the model, through encoding, and through
decoding alone (the peak is reset after encoding, starting from the RSS the process
still holds then, shown as well); the parent prints a Markdown table.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from s2lic.codec import api
from s2lic.codec.runtime import tune_allocator

_GIB = 2**30


def _peak_gib() -> float:
    """Peak RSS of this process since the last `_reset_peak` (Linux reports KiB)."""
    try:
        with open("/proc/self/status") as f:
            hwm = next(line for line in f if line.startswith("VmHWM:"))
        return int(hwm.split()[1]) * 1024 / _GIB
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / _GIB


def _reset_peak() -> bool:
    """Restart the peak at the current RSS (Linux >= 4.0), so decoding gets its own."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _current_gib() -> float:
    """Current RSS of this process."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / _GIB


def size_for(megapixels: float) -> tuple[int, int]:
    """(width, height) of a 3:2 image of about `megapixels` (even sides)."""
    h = round(math.sqrt(megapixels * 1e6 / 1.5) / 2) * 2
    return round(1.5 * h / 2) * 2, h


def mosaic(folder: Path, width: int, height: int) -> Image.Image:
    """A width x height RGB mosaic of the folder's images, landscape, mirrored."""
    files = sorted(
        f for f in folder.iterdir() if f.suffix.lower() in {".png", ".jpg", ".jpeg"}
    )
    if not files:
        raise SystemExit(f"no images in {folder}")
    tiles = []
    for f in files:
        a = np.asarray(Image.open(f).convert("RGB"))
        tiles.append(a if a.shape[1] >= a.shape[0] else a.transpose(1, 0, 2))
    th, tw = min(t.shape[0] for t in tiles), min(t.shape[1] for t in tiles)
    out = np.empty((height, width, 3), dtype=np.uint8)
    k = 0
    for i, top in enumerate(range(0, height, th)):
        for j, left in enumerate(range(0, width, tw)):
            t = tiles[k % len(tiles)][:th, :tw]
            # Mirror alternate cells so neighbouring borders continue each other.
            t = t[:, ::-1] if j % 2 else t
            t = t[::-1] if i % 2 else t
            h, w = min(th, height - top), min(tw, width - left)
            out[top : top + h, left : left + w] = t[:h, :w]
            k += 1
    return Image.fromarray(out)


def child(args: argparse.Namespace) -> None:
    """Measure one size; prints one JSON line."""
    tune_allocator()
    width, height = size_for(args.child)
    image = mosaic(args.images, width, height)
    api.get_codec(args.model, "cpu", None)  # load outside the timings
    after_load = _peak_gib()
    t = time.perf_counter()
    enc = api.encode(image, quality=args.quality, model=args.model, refine=args.refine)
    encode_s = time.perf_counter() - t
    after_encode = _peak_gib()
    del image
    gc.collect()
    before_decode = _current_gib()
    separate = _reset_peak()
    t = time.perf_counter()
    dec = api.decode(enc.data)
    decode_s = time.perf_counter() - t
    assert dec.image.size == (width, height)
    row = {
        "megapixels": width * height / 1e6,
        "width": width,
        "height": height,
        "bpp": enc.bpp,
        "encode_s": encode_s,
        "decode_s": decode_s,
        "peak_load_gib": after_load,
        "peak_encode_gib": after_encode,
        "rss_before_decode_gib": before_decode,
        # Without a reset the peak is the whole process's (encode included).
        "peak_decode_gib": _peak_gib() if separate else math.nan,
    }
    print(json.dumps(row), flush=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("images", type=Path, help="folder of photos (e.g. Kodak)")
    p.add_argument("--sizes", default="1,6,12,24", help="megapixels, comma-separated")
    p.add_argument("--model", default="s2lic-s")
    p.add_argument("--quality", type=float, default=api.DEFAULT_QUALITY)
    p.add_argument("--refine", type=int, default=0, help="refinement steps (0: off)")
    p.add_argument("--child", type=float, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child is not None:
        child(args)
        return 0
    print(
        f"# {platform.processor() or platform.machine()}, {torch.get_num_threads()} "
        f"torch threads, torch {torch.__version__}, model {args.model}, "
        f"quality {args.quality}, refine {args.refine}"
    )
    print(
        "| size | pixels | bpp | encode | decode | peak RSS after load | "
        "peak RSS encode | RSS before decode | peak RSS decode |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for mp in (float(s) for s in args.sizes.split(",")):
        cmd = [sys.executable, __file__, str(args.images), "--child", str(mp)]
        cmd += ["--model", args.model, "--quality", str(args.quality)]
        cmd += ["--refine", str(args.refine)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode:
            print(f"| {mp:g} MP | failed: {done.stderr.strip().splitlines()[-1:]} |")
            continue
        r = json.loads(done.stdout.strip().splitlines()[-1])
        print(
            f"| {r['width']}x{r['height']} | {r['megapixels']:.1f} MP | "
            f"{r['bpp']:.3f} | {r['encode_s']:.1f} s | {r['decode_s']:.1f} s | "
            f"{r['peak_load_gib']:.2f} GiB | {r['peak_encode_gib']:.2f} GiB | "
            f"{r['rss_before_decode_gib']:.2f} GiB | {r['peak_decode_gib']:.2f} GiB |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
