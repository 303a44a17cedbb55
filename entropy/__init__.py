"""Entropy coding, the ground floor: coders, their tables and the container.

It imports nothing of the rest of s2lic; the networks that predict the probabilities
(the ACGC entropy model) live with the other networks in `s2lic.codec.entropy_model`.

- `coders`: `EntropyCoder` backends (rANS, torchac) and their CDF tables.
- `compressai_lite`: CompressAI's entropy models and rANS without its package import.
- `bitstream`: the `.s2lic` container (docs/format.md).
- `errors`: the typed errors every user-facing failure derives from.
"""

__all__: list[str] = []
