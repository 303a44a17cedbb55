"""rANS backend on CompressAI's C++ coder (`compressai.ans`), coder id 1.

All calls of a stream go into one `BufferedRansEncoder` and one flushed rANS stream; the
decoder does `set_stream` once and one `decode_stream` per call. Values outside a row's
range use CompressAI's own escape: the row's last modelled symbol followed by the value
in 4-bit bypass chunks.

Byte layout::

    uvarint  total number of symbols N over all calls
    bytes    the flushed rANS stream (32-bit words), absent when N == 0

What CompressAI 1.2.8 does with bad input (its C++ asserts are compiled out, so none of
its checks run), and how this module guards it:

* An index outside the table or a malformed CDF row is read out of bounds (a segfault
  in testing). Tables are validated once and indexes on every call (`ValueError`).
* Bypass values of 2**28 or more make the encoder loop forever (it shifts a uint32 by
  32) and values near 2**31 crash it. Symbols are limited to ``+-2**26``
  (`MAX_SYMBOL_MAGNITUDE`, `CoderError` beyond).
* `flush` writes its 8-byte final state into a buffer of one 32-bit word per buffered
  symbol: with fewer than ~6 symbols that is a heap overflow (a "double free or
  corruption" abort with a single symbol in testing). The encoder appends cheap guard
  symbols, which the decoder never reads, so the buffer is always large enough.
* The decoder never checks the end of its buffer: `Rans64DecInit` reads 8 bytes and
  every renormalisation or bypass chunk reads another 32-bit word. On garbage it decodes
  garbage (any int32) and keeps reading past the end, as far as the symbols asked for
  take it. Measured beyond the data (random, all-0x00/0xF0/0xFF streams): 0.9-2.4 bytes
  per requested symbol with the Gaussian table, up to 3.4 with a row whose escape holds
  nearly all the mass, plus up to 0.25 bytes per data byte from runs of 0xF nibbles,
  which the bypass decoder adds up into a chunk count (a crafted run of k such nibbles
  makes it read 15 k chunks of 4 bits, 7.5 k bytes). No crash was seen, but large
  buffers are mmapped, so reading past them can fault. This module therefore stores N,
  rejects requests beyond it and payloads that are not whole words (most truncations),
  and appends a pad of ``8 * (0xF nibbles in the payload) + 16 * capacity + 4096``
  bytes of words 0x80000000 (never a 0xF nibble, so a pad word ends any chunk-count
  run, and >= 2**31, so the state stays large and a pad word is read only every ~32
  bits consumed). `capacity` is N, or for N above 2**20 a smaller number that grows
  (re-opening with a larger pad and replaying the calls so far) as symbols are actually
  requested, so a corrupt N costs at most 16 MiB of pad plus 16 bytes per symbol the
  caller asks for.
* Garbage never hangs the decoder: every loop is bounded by the symbols requested and
  the (padded) buffer.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import CoderError
from ._util import (
    PreparedTable,
    check_encode_inputs,
    check_indexes,
    prepare_table,
    read_uvarint,
    write_uvarint,
)
from .base import CdfTable

__all__ = ["RansCoder"]

IntArray = npt.NDArray[np.int32]

_PAD_WORD = (0x80000000).to_bytes(4, "little")
_PAD_PER_F_NIBBLE = 8
_PAD_PER_SYMBOL = 16
_PAD_SLACK = 4096
_MIN_BUFFERED_SYMBOLS = 8
# Symbols a decoder covers with its pad up front (16 MiB of pad); beyond, it grows.
_INITIAL_CAPACITY = 1 << 20


def _import_ans() -> ModuleType:
    try:
        from s2lic.entropy.compressai_lite import ans
    except ImportError as exc:  # pragma: no cover - compressai is a dependency
        raise CoderError(
            f"The rANS backend (compressai.ans) is unavailable: {exc}"
        ) from exc
    return ans


class _TableLists:
    """The table as the Python lists CompressAI's coder takes, built once."""

    def __init__(self, table: PreparedTable) -> None:
        lengths = table.length.tolist()
        # Trimmed rows: pybind converts the lists on every call, so shorter is cheaper.
        self.cdfs: list[list[int]] = [
            row[:n] for row, n in zip(table.cdf.tolist(), lengths, strict=True)
        ]
        self.sizes: list[int] = lengths
        self.offsets: list[int] = table.offset.tolist()
        self.num_rows = table.num_rows
        # The most probable non-escape value of row 0 is the cheapest guard symbol.
        freqs = np.diff(table.cdf[0, : lengths[0] - 1])
        best = int(np.argmax(freqs)) if freqs.size else 0
        self.guard_value = best + self.offsets[0]


class _RansStreamEncoder:
    def __init__(self, lists: _TableLists) -> None:
        self._lists = lists
        self._enc = _import_ans().BufferedRansEncoder()
        self._count = 0
        self._finished = False

    def encode(self, symbols: IntArray, indexes: IntArray) -> None:
        """Buffer one call (see `StreamEncoder.encode`)."""
        if self._finished:
            raise RuntimeError("encode() after finish()")
        sym, idx = check_encode_inputs(symbols, indexes, self._lists.num_rows)
        if sym.size == 0:
            return
        lists = self._lists
        self._enc.encode_with_indexes(
            sym.tolist(), idx.tolist(), lists.cdfs, lists.sizes, lists.offsets
        )
        self._count += int(sym.size)

    def finish(self) -> bytes:
        """Flush the rANS stream behind the symbol count (see `StreamEncoder`)."""
        if self._finished:
            raise RuntimeError("finish() called twice")
        self._finished = True
        header = bytearray()
        write_uvarint(header, self._count)
        if self._count == 0:
            return bytes(header)
        if self._count < _MIN_BUFFERED_SYMBOLS:
            # Works around CompressAI's undersized flush buffer (module docstring);
            # they follow the real symbols, so the decoder never reaches them.
            n = _MIN_BUFFERED_SYMBOLS - self._count
            lists = self._lists
            self._enc.encode_with_indexes(
                [lists.guard_value] * n, [0] * n, lists.cdfs, lists.sizes, lists.offsets
            )
        return bytes(header) + self._enc.flush()


class _RansStreamDecoder:
    def __init__(self, lists: _TableLists, data: bytes) -> None:
        self._lists = lists
        view = memoryview(bytes(data))
        self._total, pos = read_uvarint(view, 0)
        self._payload = view[pos:].tobytes()
        if self._total == 0:
            if self._payload:
                raise CoderError("The rANS stream has data but declares no symbols.")
        elif len(self._payload) < 8 or len(self._payload) % 4:
            raise CoderError(
                f"The rANS stream is truncated or corrupt ({len(self._payload)} "
                "payload bytes, expected a multiple of 4, at least 8)."
            )
        raw = np.frombuffer(self._payload, dtype=np.uint8)
        self._f_nibbles = int(
            np.count_nonzero(raw & 0xF == 0xF) + np.count_nonzero(raw >= 0xF0)
        )
        self._done = 0
        self._capacity = 0
        self._history: list[list[int]] | None = None
        self._dec: Any = None  # compressai.ans.RansDecoder, untyped
        if self._total:
            self._reopen(min(self._total, _INITIAL_CAPACITY))

    def _reopen(self, capacity: int) -> None:
        pad_bytes = (
            _PAD_PER_F_NIBBLE * self._f_nibbles
            + _PAD_PER_SYMBOL * capacity
            + _PAD_SLACK
        )
        dec = _import_ans().RansDecoder()
        dec.set_stream(self._payload + _PAD_WORD * (pad_bytes // 4))
        lists = self._lists
        # Replaying the earlier calls restores the exact state of the old decoder: the
        # outputs only depend on the bytes, which the larger pad does not change.
        for idx in self._history or ():
            dec.decode_stream(idx, lists.cdfs, lists.sizes, lists.offsets)
        self._dec = dec
        self._capacity = capacity
        if capacity < self._total and self._history is None:
            self._history = []

    def decode(self, indexes: IntArray) -> IntArray:
        """Decode one call (see `StreamDecoder.decode`)."""
        shape = np.shape(indexes)
        idx = check_indexes(indexes, self._lists.num_rows)
        n = int(idx.size)
        if n == 0:
            return np.zeros(shape, dtype=np.int32)
        if self._done + n > self._total:
            raise CoderError(
                f"The rANS stream holds {self._total} symbols but "
                f"{self._done + n} were requested; it is corrupt or from another model."
            )
        if self._done + n > self._capacity:
            self._reopen(min(self._total, max(4 * self._capacity, self._done + n)))
        idx_list = idx.tolist()
        lists = self._lists
        out = self._dec.decode_stream(idx_list, lists.cdfs, lists.sizes, lists.offsets)
        if self._history is not None:
            self._history.append(idx_list)
        self._done += n
        return np.asarray(out, dtype=np.int32).reshape(shape)


class RansCoder:
    """CompressAI's rANS coder (range ANS, 16-bit CDFs, bypass-coded escapes).

    Attributes:
        name: ``"rans"``.
        coder_id: ``1``, stored in containers to select this backend.
    """

    name: str = "rans"
    coder_id: int = 1

    def encoder(self, table: CdfTable) -> _RansStreamEncoder:
        """A fresh encoder for `table`.

        Args:
            table: the CDFs the symbols are coded with.

        Returns:
            A `StreamEncoder`.

        Raises:
            ValueError: the table is malformed.
        """
        return _RansStreamEncoder(_TableLists(prepare_table(table)))

    def decoder(self, table: CdfTable, data: bytes) -> _RansStreamDecoder:
        """A decoder over `data` produced by `encoder` with the same `table`.

        Args:
            table: the CDFs the symbols were coded with.
            data: bytes returned by `finish`.

        Returns:
            A `StreamDecoder`.

        Raises:
            ValueError: the table is malformed.
            CoderError: `data` is truncated or malformed.
        """
        return _RansStreamDecoder(_TableLists(prepare_table(table)), data)
