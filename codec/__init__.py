"""The codec: transforms, models, registry, weights, image handling and the public API.

Import what you need from the submodules; the entry point for applications is
`s2lic.codec.api` (`encode`, `decode`). This package imports nothing at import time so
that `s2lic.entropy`, which builds on `s2lic.codec.layers`, can be imported first.

- `layers`: Swin-V2 blocks, the attention function, enhancement module, gains, stacked
  per-slice layers.
- `transforms`: analysis g_a and synthesis g_s.
- `models`: the S2LIC network and the codec contract.
- `registry`, `zoo`: models by name, their weights.
- `image`, `api`, `runtime`: images in and out, encode/decode, process settings.
- `fileio`: atomic file output (weights, checkpoints, journals, CLI outputs).
"""

__all__: list[str] = []
