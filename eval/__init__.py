"""Rate-distortion evaluation: every codec measured on the same images in one run.

- `classical`: the classical codecs (JPEG, WebP, JPEG 2000, AVIF, JPEG XL, HEIC)
  through maintained libraries, each with its exact settings and quality grid.
- `bd`: Bjøntegaard deltas (BD-rate, BD-PSNR) with PCHIP interpolation.
- `codecs`: every codec of an evaluation by name, behind one `Codec` surface.
- `runner`: the measurement loop and its journal; `curves`: measured and published
  RD curves; `report`: the JSONs, tables and plots.

The metrics themselves (PSNR, MS-SSIM) are in `s2lic.codec.metrics`. Like
`s2lic.codec`, this package imports nothing at import time; import the submodules.
"""

__all__: list[str] = []
