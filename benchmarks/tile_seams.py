"""How much tiling the transforms changes the reconstruction, at and away from seams.

Usage:
    python benchmarks/tile_seams.py ../shared/data/kodak --count 4

Each photo is upscaled 2x (Lanczos; Kodak's 768x512 becomes 1536x1024) and coded once
with whole-image transforms (the reference). Then, per tiling (core:overlap in px):

- synthesis only: the reference's y_hat through tiled g_s, against the untiled x_hat;
- analysis + synthesis: tiled g_a, entropy coding, tiled g_s (what `api` does), with
  its bpp and PSNR against the original, and against the untiled x_hat.

PSNR between two reconstructions (8-bit rounding, as decoded) is split into the band
of pixels within `--band` px of an internal tile border and the rest of the image.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from s2lic.codec import api
from s2lic.codec.runtime import tune_allocator
from s2lic.codec.tiling import Tiling, spans
from s2lic.entropy.coders import get_coder

_WHOLE = Tiling(core=1 << 20, overlap=0)  # one tile for any test image: no tiling


def _u8(x: torch.Tensor) -> torch.Tensor:
    return (x.clamp(0, 1) * 255).round()


def _psnr(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor | None = None) -> float:
    """PSNR of 8-bit images a, b (1, 3, H, W) over the (H, W) mask."""
    d = (_u8(a) - _u8(b)) ** 2
    mse = float(d.mean() if mask is None else d[..., mask].mean())
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def border_band(h: int, w: int, tiling: Tiling, band: int, align: int) -> torch.Tensor:
    """(H, W) bool: within `band` px of an internal core border of `tiling`."""
    mask = torch.zeros(h, w, dtype=torch.bool)
    for axis, n in ((0, h), (1, w)):
        for s in spans(n, tiling.core, tiling.overlap, align)[1:]:
            lo, hi = max(0, s.start - band), min(n, s.start + band)
            if axis == 0:
                mask[lo:hi] = True
            else:
                mask[:, lo:hi] = True
    return mask


def _row(name: str, a: torch.Tensor, b: torch.Tensor, band: torch.Tensor) -> str:
    return (
        f"{name}: all {_psnr(a, b):.1f} dB, border band {_psnr(a, b, band):.1f} dB, "
        f"elsewhere {_psnr(a, b, ~band):.1f} dB"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("images", type=Path, help="folder of photos (e.g. Kodak)")
    p.add_argument("--count", type=int, default=4, help="first N photos")
    p.add_argument("--tilings", default="512:64,512:128,1024:128")
    p.add_argument("--band", type=int, default=16)
    p.add_argument("--model", default="s2lic-s")
    p.add_argument("--quality", type=float, default=api.DEFAULT_QUALITY)
    args = p.parse_args(argv)
    tune_allocator()
    model = api.get_codec(args.model, "cpu", None).model
    coder = get_coder("rans")
    tilings = [Tiling(*map(int, t.split(":"))) for t in args.tilings.split(",")]
    files = sorted(f for f in args.images.iterdir() if f.suffix.lower() == ".png")
    for f in files[: args.count]:
        im = Image.open(f).convert("RGB")
        im = im.resize((2 * im.width, 2 * im.height), Image.Resampling.LANCZOS)
        rgb = np.asarray(im)
        x = torch.from_numpy(rgb.copy()).permute(2, 0, 1)[None].float() / 255
        h, w = x.shape[-2:]
        px = h * w
        with torch.inference_mode():
            enc = model.compress_latent(model.analyze(x, _WHOLE), args.quality, coder)
            ref = model.synthesize(enc.y_hat, args.quality, _WHOLE)
            bpp = 8 * sum(map(len, enc.streams)) / px
            print(f"{f.name} {w}x{h}: untiled {bpp:.3f} bpp, {_psnr(ref, x):.2f} dB")
            for t in tilings:
                band = border_band(h, w, t, args.band, model.pad_multiple)
                syn = model.synthesize(enc.y_hat, args.quality, t)
                enc_t = model.compress_latent(model.analyze(x, t), args.quality, coder)
                both = model.synthesize(enc_t.y_hat, args.quality, t)
                bpp_t = 8 * sum(map(len, enc_t.streams)) / px
                share = float(band.float().mean())
                print(f"  tiles {t.core}:{t.overlap} px, {share:.0%} of pixels in band")
                print(f"    {_row('g_s tiled vs untiled', syn, ref, band)}")
                print(f"    {_row('g_a + g_s tiled vs untiled', both, ref, band)}")
                print(
                    f"    g_a + g_s tiled: {bpp_t:.3f} bpp, {_psnr(both, x):.2f} dB "
                    f"(border band {_psnr(both, x, band):.2f} dB, "
                    f"untiled there {_psnr(ref, x, band):.2f} dB)",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
