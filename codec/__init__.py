"""The codec: transforms, the entropy model, registry, weights, images and the API.

Import what you need from the submodules; the entry point for applications is
`s2lic.codec.api` (`encode`, `decode`). It builds on `s2lic.entropy` (coders and the
container) and knows nothing of training, evaluation, the command line or the web demo.

- `layers`: Swin-V2 blocks, the attention function, enhancement module, gains, stacked
  per-slice layers.
- `transforms`: analysis g_a and synthesis g_s.
- `entropy_model`: the ACGC entropy model, the hyperprior transforms and the contexts
  (checkerboard, adaptive channel-wise AC, global-inter AG).
- `models`: the S2LIC network and the codec contract.
- `objective`: the rate-distortion objective (training and encoder-side refinement).
- `registry`, `zoo`, `releases`: models by name, their weights, every shipped weights
  file by id.
- `image`, `api`, `describe`, `runtime`: images in and out, encode/decode, headers,
  process settings.
- `fileio`: atomic file output (weights, checkpoints, journals, CLI outputs).
"""

__all__: list[str] = []
