"""Entropy modelling and coding: the ACGC entropy model, coders and the container.

- `models`: the ACGC entropy model and the hyperprior transforms.
- `context`: checkerboard, adaptive channel-wise (AC) and global-inter (AG) contexts.
- `coders`: `EntropyCoder` backends (rANS, torchac).
- `bitstream`: the `.s2lic` container (docs/format.md).
- `errors`: the typed errors every user-facing failure derives from.
"""

__all__: list[str] = []
