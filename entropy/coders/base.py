"""The `EntropyCoder` interface: turns integer symbols into bytes and back.

A coder is given a `CdfTable` (quantized CDFs as produced by CompressAI's entropy
models) and codes a sequence of *calls*: each call is a 1-D array of symbols with, per
symbol, the index of the CDF row that models it. Decoding replays the same calls with
the same indexes in the same order, so the decoder can compute the indexes of call k+1
from the symbols of calls 0..k (this is how the checkerboard / channel-slice context
works).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

__all__ = ["CdfTable", "EntropyCoder", "StreamEncoder", "StreamDecoder"]

IntArray = npt.NDArray[np.int32]


@dataclass(frozen=True)
class CdfTable:
    """Quantized CDFs in CompressAI's layout (16-bit precision).

    Attributes:
        cdf: (K, L_max) int32; row k holds ``cdf_length[k]`` valid entries starting
            at 0 and ending at 2**16; the last modelled symbol of each row is the
            escape symbol used for values outside the table (CompressAI's tail mass).
        cdf_length: (K,) int32, valid entries per row.
        offset: (K,) int32, the value of symbol 0 of each row (usually negative).
    """

    cdf: IntArray
    cdf_length: IntArray
    offset: IntArray


class StreamEncoder(Protocol):
    """Accumulates calls; `finish` returns the bytes of all of them."""

    def encode(self, symbols: IntArray, indexes: IntArray) -> None:
        """Code `symbols` (values, not offset) with CDF rows `indexes` (same shape)."""
        ...

    def finish(self) -> bytes:
        """Flush and return the byte stream; the encoder must not be used afterwards."""
        ...


class StreamDecoder(Protocol):
    """Replays the calls of a `StreamEncoder` from its bytes."""

    def decode(self, indexes: IntArray) -> IntArray:
        """Decode as many symbols as `indexes` has; returns their values (int32)."""
        ...


class EntropyCoder(Protocol):
    """A backend (rANS, torchac, ...). Instances are passed explicitly, never global."""

    name: str
    coder_id: int

    def encoder(self, table: CdfTable) -> StreamEncoder:
        """A fresh encoder for symbols modelled by `table`."""
        ...

    def decoder(self, table: CdfTable, data: bytes) -> StreamDecoder:
        """A decoder over `data`; raises `CoderError` on malformed data."""
        ...
