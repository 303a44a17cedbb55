"""Per-image adaptation of the decoder, fitted by the encoder and carried in the file.

g_s and the entropy model are shared by every image; at higher encoder effort the
encoder also fits small per-image tools of the decoder and sends their quantised
parameters in the adaptation section of a version-2 container:

- `modules`: the tools, a `FiLM` update of g_s's stages and a `PostFilter`;
- `section`: their quantised, exp-Golomb-coded parameters (the section's layout);
- `fit`: the effort levels (`EFFORTS`) and the encoder's fitting (`adapt`), and the
  reconstruction both sides share (`reconstruct`).

A file without the section decodes exactly as before. Not here: low-rank updates of
g_s's weights (Lv et al., ACM MM 2023), and overfitting a whole decoder per image
(Cool-chic, C3); see ``docs/effort.md``.
"""

__all__: list[str] = []
