"""Signed exponential-Golomb codes: a few thousand integers to bytes and back.

For the per-image parameters of an adapted file (`s2lic.codec.adapt`): small,
Laplacian-like integers whose count the decoder knows. An arithmetic coder would need a
probability model that the decoder rebuilds bit for bit on any platform; an order-k
exp-Golomb code needs none and costs within a few percent of it on Laplacian data
(ITU-T H.264 §9.1 codes its syntax elements the same way). The encoder picks the order
k that gives the fewest bits and stores it.

Code of one value v: zig-zag ``u = 2v - 1`` (v > 0) or ``-2v`` (v <= 0); then
``u + 2^k`` in binary (``n`` bits) preceded by ``n - k - 1`` zero bits. Bits are packed
most significant first; the last byte is padded with zero bits.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from s2lic.entropy.errors import FormatError

__all__ = ["MAX_ORDER", "MAX_MAGNITUDE", "best_order", "decode", "encode"]

MAX_ORDER: Final = 15
"""Largest order k a stream may use."""
MAX_MAGNITUDE: Final = 2**24
"""Largest |value| a stream may hold; larger ones are a writer bug or corruption."""
_MAX_PREFIX: Final = 26  # zero bits before the first 1 of any valid code


def _zigzag(values: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    return np.where(values > 0, 2 * values - 1, -2 * values)


def _lengths(u: npt.NDArray[np.int64], k: int) -> npt.NDArray[np.int64]:
    """Bits of each code: 2·bitlen(u + 2^k) - k - 1."""
    n = np.floor(np.log2((u + (1 << k)).astype(np.float64))).astype(np.int64) + 1
    return 2 * n - k - 1


def _check(values: npt.ArrayLike) -> npt.NDArray[np.int64]:
    v = np.asarray(values)
    if v.size and not np.issubdtype(v.dtype, np.integer):
        raise TypeError(f"values must be integers, got {v.dtype}")
    v = v.astype(np.int64).ravel()
    if v.size and int(np.abs(v).max()) > MAX_MAGNITUDE:
        raise ValueError(f"values must lie within ±{MAX_MAGNITUDE}")
    return v


def best_order(values: npt.ArrayLike) -> int:
    """The order k in 0..`MAX_ORDER` that codes `values` in the fewest bits."""
    u = _zigzag(_check(values))
    if not u.size:
        return 0
    return int(np.argmin([_lengths(u, k).sum() for k in range(MAX_ORDER + 1)]))


def encode(values: npt.ArrayLike, k: int) -> bytes:
    """The order-`k` codes of `values` (flattened), packed into bytes.

    Raises:
        ValueError: k outside 0..`MAX_ORDER`, or a value beyond ±`MAX_MAGNITUDE`.
    """
    if not 0 <= k <= MAX_ORDER:
        raise ValueError(f"order must be in 0..{MAX_ORDER}, got {k}")
    u = _zigzag(_check(values)) + (1 << k)
    bits: list[str] = []
    for value, length in zip(
        u.tolist(), _lengths(u - (1 << k), k).tolist(), strict=True
    ):
        bits.append(format(value, "b").zfill(length))
    text = "".join(bits)
    text += "0" * (-len(text) % 8)
    return int(text, 2).to_bytes(len(text) // 8, "big") if text else b""


def decode(data: bytes, count: int, k: int) -> npt.NDArray[np.int64]:
    """`count` values of order `k` from `data`, which must hold exactly their codes
    and at most 7 zero bits of padding.

    Raises:
        FormatError: the data ends early, has trailing bytes or non-zero padding, or
            holds a code longer than any valid value has.
    """
    if not 0 <= k <= MAX_ORDER:
        raise FormatError(f"corrupted adaptation data: exp-Golomb order {k}")
    bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8))
    out = np.empty(count, dtype=np.int64)
    ones = np.flatnonzero(bits)
    pos, n = 0, len(bits)
    for i in range(count):
        j = int(np.searchsorted(ones, pos))
        if j == len(ones):
            raise FormatError("corrupted adaptation data: the parameters end early")
        zeros = int(ones[j]) - pos
        if zeros > _MAX_PREFIX:
            raise FormatError("corrupted adaptation data: an impossible parameter code")
        end = pos + 2 * zeros + k + 1
        if end > n:
            raise FormatError("corrupted adaptation data: the parameters end early")
        word = int("".join("1" if b else "0" for b in bits[pos + zeros : end]), 2)
        u = word - (1 << k)
        out[i] = (u + 1) // 2 if u % 2 else -(u // 2)
        pos = end
    if n - pos >= 8 or bits[pos:].any():
        raise FormatError("corrupted adaptation data: bytes after the parameters")
    if np.abs(out).max(initial=0) > MAX_MAGNITUDE:
        raise FormatError("corrupted adaptation data: a parameter out of range")
    return out
