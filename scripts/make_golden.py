#!/usr/bin/env python3
"""Write the golden file of the default weights: tests/golden/<model>-<id>.s2lic.

    python scripts/make_golden.py [--model s2lic-s] [--effort N]

One small file per shipped weights id and container version, encoded from a crop of
the bundled example (container v1), or from the whole example at an encoder effort
level whose per-image tools it keeps (container v2, with an adaptation section), with
the SHA-256 of its decoded pixels in tests/golden/GOLDEN.toml.
CI decodes every one of them (tests/codec/test_releases.py), so a change that would
stop an old file from decoding, or decode it to other pixels, fails there.
scripts/ship_weights.py runs this for newly shipped weights.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import tomllib
from PIL import Image

from s2lic.codec import api
from s2lic.codec.fileio import atomic_output
from s2lic.entropy.bitstream import unpack

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden"
INDEX = GOLDEN / "GOLDEN.toml"
# A 128x96 crop with fur, an eye and background: every slice codes something.
CROP = (300, 120, 428, 216)
QUALITY = 0.5


def pixel_digest(image: Image.Image) -> str:
    """SHA-256 of the decoded pixels (mode, size and bytes): unlike a PNG's bytes,
    it does not change with Pillow's or zlib's version."""
    h = hashlib.sha256(f"{image.mode} {image.size[0]}x{image.size[1]}\n".encode())
    h.update(image.tobytes())
    return h.hexdigest()


def _decoded_digest(data: bytes) -> str:
    """`pixel_digest` of the file decoded with one torch thread, as the tests decode:
    the float sums of the synthesis differ in their last bits with the thread count,
    which can move a few of a large image's ~10^6 values across a rounding boundary."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return pixel_digest(api.decode(data).image)
    finally:
        torch.set_num_threads(threads)


def write_golden(model: str, written_by: str = "", effort: int = 0) -> Path:
    """Encode the crop with `model`'s default weights; record it in GOLDEN.toml.

    Args:
        written_by: the package version writing it (default: pyproject's).
        effort: an encoder effort level that adapts the decoder: the whole example
            is encoded (a crop is too small for the tools to pay for their bits),
            and it must give a version-2 file.
    """
    import tomli_w  # only to write; the GPU machine, which only reads, lacks it

    source = Image.open(ROOT / "web" / "examples" / "kitten.jpg").convert("RGB")
    image = source if effort else source.crop(CROP)
    enc = api.encode(image, model=model, quality=QUALITY, effort=effort)
    version = unpack(enc.data).version
    if effort and version != 2:
        raise SystemExit(f"effort {effort} kept no per-image tools: no v2 file")
    wid = enc.header.weights_id.hex()
    name = f"{model}-{wid}-v{version}.s2lic"
    with atomic_output(GOLDEN / name) as tmp:
        tmp.write_bytes(enc.data)
    index = tomllib.loads(INDEX.read_text()) if INDEX.exists() else {}
    index[name] = {
        "model": model,
        "weights": wid,
        "container": version,
        "written_by": written_by
        or tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"],
        "pixels_sha256": _decoded_digest(enc.data),
    }
    with atomic_output(INDEX) as tmp:
        tmp.write_text(
            "# Golden .s2lic files: each must decode to these pixels in every later\n"
            "# version (scripts/make_golden.py; tests/codec/test_releases.py).\n\n"
            + tomli_w.dumps(dict(sorted(index.items())))
        )
    return GOLDEN / name


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="s2lic-s")
    p.add_argument("--effort", type=int, default=0)
    args = p.parse_args(argv)
    print(f"wrote {write_golden(args.model, effort=args.effort)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
