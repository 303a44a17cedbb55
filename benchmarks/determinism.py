"""Cross-device / cross-thread determinism of the coding path.

Encodes every image of the given folders / files at several qualities on one device /
thread count and decodes on another, checking that the decoder recovers every symbol.
For each file it also measures what the float64 + snapped coding path protects
against: the entropy parameters are recomputed under both settings from the same
decoded latent (teacher forcing), once with the float32 networks (the naive path) and
once with the float64 coding networks, and the script reports the largest parameter
difference and how many coding decisions (scale index, rounding around the mean) would
differ. `margin` is the encoder's closest call (`Encoded.margin`): decoding can only go
wrong where the float64 difference exceeds it.

Run::

    python benchmarks/determinism.py ../shared/data/kodak web/examples [--limit 4] \
        [--encode-device cuda] [--decode-device cpu] [--encode-threads 2] \
        [--decode-threads 1]
"""

from __future__ import annotations

import argparse
import platform
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from s2lic.codec.entropy_model.acgc import MEAN_STEP, ACGCEntropyModel
from s2lic.codec.entropy_model.context.checkerboard import gather
from s2lic.codec.image import pad_to_multiple, to_planes, to_tensor
from s2lic.codec.runtime import num_threads
from s2lic.codec.zoo import load_model
from s2lic.entropy.coders import get_coder

_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"}


@dataclass
class Decisions:
    """Entropy parameters of one teacher-forced pass, in coding order."""

    indexes: list[np.ndarray]
    means: list[torch.Tensor]


def decisions(
    ent: ACGCEntropyModel, y_hat: torch.Tensor, z_hat: torch.Tensor, coding: bool
) -> Decisions:
    """Scale indexes and means of every coding step, with y_hat's slices as context."""
    nets = ent.coding_nets() if coding else None
    dtype = torch.float64 if coding else torch.float32
    out = Decisions([], [])

    def quantize(i, mask, scales, means):  # type: ignore[no-untyped-def]
        out.indexes.append(ent._indexes(scales, mask))
        out.means.append(gather(means, mask).double().cpu())
        return slices[i] * mask

    with torch.inference_mode():
        hyper = (nets.h_s if nets else ent.h_s)(z_hat.to(dtype))
        slices = y_hat.to(dtype).chunk(ent.cfg.num_slices, dim=1)
        ent._code_slices(hyper, quantize, nets)
    return out


def compare(a: Decisions, b: Decisions, snapped: bool) -> tuple[int, int, float]:
    """(differing decisions, total decisions, max |mean difference|)."""
    flips = total = 0
    worst = 0.0
    for ia, ib, ma, mb in zip(a.indexes, b.indexes, a.means, b.means, strict=True):
        flips += int((ia != ib).sum())
        if snapped:  # a mean decision is its grid point
            ra, rb = torch.round(ma / MEAN_STEP), torch.round(mb / MEAN_STEP)
        else:  # the rounding of y - mu flips where mu's fraction crosses 1/2
            ra, rb = torch.floor(ma + 0.5), torch.floor(mb + 0.5)
        flips += int((ra != rb).sum())
        total += 2 * ia.size
        worst = max(worst, float((ma - mb).abs().max()) if ma.numel() else 0.0)
    return flips, total, worst


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("inputs", type=Path, nargs="+", help="image files or folders")
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--qualities", default="0.2,0.8")
    p.add_argument("--model", default="s2lic-s")
    p.add_argument("--encode-device", default="cpu")
    p.add_argument("--decode-device", default="cpu")
    p.add_argument("--encode-threads", type=int, default=2)
    p.add_argument("--decode-threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.backends.cuda.matmul.allow_tf32 = True  # as users run: TF32 on where allowed
    torch.backends.cudnn.allow_tf32 = True
    enc_model = load_model(args.model, args.encode_device).model
    dec_model = load_model(args.model, args.decode_device).model
    coder = get_coder("rans")
    files = [
        f
        for i in args.inputs
        for f in (sorted(i.iterdir()) if i.is_dir() else [i])
        if f.suffix.lower() in _IMAGE_SUFFIXES
    ][: args.limit or None]
    qualities = [float(q) for q in args.qualities.split(",")]
    print(
        f"# {args.model}: encode {args.encode_device} x{args.encode_threads} threads, "
        f"decode {args.decode_device} x{args.decode_threads}; "
        f"{platform.machine()}, torch {torch.__version__}"
    )
    print(
        "| image | q | bytes | symbols equal | max pixel diff | margin | "
        "float32 flips | float32 max dmu | float64 flips | float64 max dmu |"
    )
    print("|---|---:|---:|:---:|---:|---:|---:|---:|---:|---:|")
    equal_files = n_files = 0
    for path in files:
        planes = to_planes(Image.open(path))
        x, _ = pad_to_multiple(to_tensor(planes.rgb), enc_model.pad_multiple)
        for q in qualities:
            with num_threads(args.encode_threads), torch.inference_mode():
                enc = enc_model.compress(x.to(args.encode_device), q, coder)
                ref = enc_model.synthesize(enc.y_hat, q).clamp(0, 1).cpu()
            with num_threads(args.decode_threads), torch.inference_mode():
                x_dec, symbols = dec_model.decompress(enc.streams, enc.shape, q, coder)
            same = len(symbols) == len(enc.symbols) and all(
                np.array_equal(a, b) for a, b in zip(symbols, enc.symbols, strict=True)
            )
            pix = float((x_dec.clamp(0, 1).cpu() - ref).abs().max() * 255)
            z = np.asarray(enc.symbols[0], dtype=np.float32)
            z_hat = torch.from_numpy(z).view(1, -1, *[s // 64 for s in enc.shape])
            rows = []
            for coding in (False, True):
                sides = []
                for model, dev, n in (
                    (enc_model, args.encode_device, args.encode_threads),
                    (dec_model, args.decode_device, args.decode_threads),
                ):
                    with num_threads(n):
                        ent = model.entropy
                        sides.append(
                            decisions(
                                ent,
                                enc.y_hat.to(dev),
                                z_hat.to(dev) + ent._z_medians(),
                                coding,
                            )
                        )
                rows.append(compare(*sides, snapped=coding))
            n_files += 1
            equal_files += same
            (f32, tot, d32), (f64, _, d64) = rows
            print(
                f"| {path.name} | {q:g} | {sum(map(len, enc.streams)):,} | "
                f"{'yes' if same else 'NO'} | {pix:.2f} | {enc.margin:.2e} | "
                f"{f32} / {tot:,} | {d32:.1e} | {f64} / {tot:,} | {d64:.1e} |"
            )
    print(f"\n{equal_files} / {n_files} files decoded to identical symbols")


if __name__ == "__main__":
    main()
