"""Arithmetic-coding backend on torchac, coder id 2.

torchac codes a whole tensor of symbols in one call, each symbol with its own CDF row of
a common length ``Lp``, and has no incremental decoder. Each `encode` call therefore
becomes a few independent torchac byte strings (*segments*), framed with varint lengths.

**CDF convention** (read from torchac 0.9.3's ``torchac_backend.cpp``): the CDF is an
int16 tensor ``(n, Lp)`` reinterpreted as uint16, precision 16 bits; symbol ``j``
occupies ``[cdf[j], cdf[j + 1])`` except the last one, ``j = Lp - 2``, whose upper end
is hard-coded to 2**16, so the last column is never read. Symbols must lie in
``[0, Lp - 2]``; the encoder does not check it and reads out of bounds otherwise.
Symbols are read as int16 and used as signed offsets, so ``Lp`` must stay below 2**15
(`MAX_ROW_LENGTH`).

**Same probabilities as the table.** torchac needs one ``Lp`` for all symbols of a
string, so shorter rows must be padded, and its CDF values must fit uint16 while
CompressAI's rows end at 65536. Rows are *left-aligned* (column ``j`` = CompressAI
symbol ``j``, so the escape stays at ``cdf_length - 2``) and padded with entries 65535,
which makes the padding symbols zero-width. To end each row at 65535 instead of 65536,
the row's most probable symbol gives up one count of its frequency (out of 65536); the
freed count is the interval ``[65535, 65536)`` of torchac's last symbol, never coded in
a padded row, and belongs to the escape in a row that fills all ``Lp`` columns. (A mode
has frequency >= 2, since rows are shorter than 2**15.) Every other symbol keeps its
exact interval; the cost is ~1.4/f bits per occurrence of a mode of frequency f (~2e-5
bits for a typical mode). Padding on the left instead is not exact: torchac's decoder
binary-searches the CDF and returns any column *equal* to the target, so left zero
padding would be ambiguous whenever a row's symbol 0 is coded (target 0); on the right,
the ties are at 65535, which valid streams never produce.

**Escapes.** A value whose ``s = value - offset`` is outside ``[0, cdf_length - 2)`` is
coded as the row's escape symbol (as in CompressAI); ``s`` itself goes to a side stream
as a zig-zag varint around the row's range (`escape_codes`), after the call's segments.

**Bounded memory.** The per-symbol CDF tensor is gathered from a padded copy of the
table made once per encoder/decoder. A call's symbols are grouped by the cdf_length of
their rows; ``Lp`` of a group is its longest row, so a few wide rows do not widen the
whole call. The grouping minimises ``sum(n_g * Lp_g) + _SPLIT_COST * groups`` exactly
(dynamic programme over the distinct lengths), trading gather work against the ~2 bytes
each extra segment costs (torchac's final flush plus the length varint). On the
Kodak-sized benchmark ``_SPLIT_COST = 2**20`` gives 40 segments for 20 calls and +0.15%
bytes over rANS; a cost of 0 gives 609 segments and +1.7% for no measurable speed-up,
since torchac's own per-symbol work dominates once symbols are no longer padded to the
widest row. A group whose tensor would exceed `_MAX_CDF_ELEMENTS` (8 MiB) is split into
several segments. Memory per call is thus bounded by 8 MiB of CDFs plus O(n) index
arrays, whatever the call or row size (a naive gather of a 150k-symbol call with
3000-entry rows would take ~1 GB). The grouping depends only on the indexes, which the
decoder has too; `_SPLIT_COST` and `_MAX_CDF_ELEMENTS` are part of the format.

Byte layout, per non-empty call::

    for each segment: uvarint length, torchac bytes
    uvarint escape code for each escaped symbol, in symbol order

**Malformed input.** torchac's decoder is memory-safe on garbage: its bit reader returns
zeros past the end of the string, its binary search stays in ``[0, Lp - 2]`` and its
renormalisation loop ends within 33 rounds, so garbage decodes to garbage symbols
(random and truncated strings, bit flips, all-0x00/0xFF tested). The framing is checked
here: segment lengths must fit the remaining bytes, varints are at most 5 bytes, escape
values must be within ``+-MAX_SYMBOL_MAGNITUDE``; violations raise `CoderError`. Garbage
may also decode a zero-width padding symbol: torchac's state then gets ``high < low``
for one step, but its renormalisation always ends with ``high > low`` (no division by
zero), and the column just becomes a garbage value.

Importing torchac builds/loads its C++ extension with ninja, which prints to file
descriptor 1; the import is done lazily with fd 1 pointed at stderr so that a CLI
writing a bitstream to stdout is not corrupted.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:  # torch is imported where it codes, so `s2lic info` stays light
    import torch

from ..errors import CoderError
from ._util import (
    MAX_SYMBOL_MAGNITUDE,
    PreparedTable,
    check_encode_inputs,
    check_indexes,
    decode_uvarints,
    encode_uvarints,
    escape_codes,
    prepare_table,
    read_uvarint,
    unescape_codes,
    write_uvarint,
)
from .base import CdfTable

__all__ = ["MAX_ROW_LENGTH", "TorchacCoder"]

IntArray = npt.NDArray[np.int32]
Int64Array = npt.NDArray[np.int64]
Segment = tuple[npt.NDArray[np.intp], int]

MAX_ROW_LENGTH = 1 << 15
"""Longest cdf_length this backend accepts (torchac reads symbols as int16)."""

# Format constants (see the module docstring): changing them breaks existing streams.
_SPLIT_COST = 1 << 20
_MAX_CDF_ELEMENTS = 1 << 22


def _tensor(array: np.ndarray) -> torch.Tensor:
    import torch  # loaded by then: torchac itself needs it

    return torch.from_numpy(array)


def _load_torchac() -> ModuleType:
    """Import torchac silently; its first import compiles a C++ extension.

    The build prints to fd 1 and 2 ("ninja: no work to do.", torch's CUDA notice),
    which would corrupt output written to stdout and the CLI's one-line messages, so
    both go to a temporary file that is shown only if the import fails.
    """
    if "torchac" in sys.modules:
        return sys.modules["torchac"]
    sys.stdout.flush()
    sys.stderr.flush()
    saved = (os.dup(1), os.dup(2))
    build_log = logging.getLogger("torch.utils.cpp_extension")
    level = build_log.level
    with tempfile.TemporaryFile() as sink:
        try:
            os.dup2(sink.fileno(), 1)
            os.dup2(sink.fileno(), 2)
            build_log.setLevel(logging.ERROR)
            import torchac
        except Exception as exc:
            sink.seek(0)
            tail = sink.read()[-2000:].decode(errors="replace").strip()
            raise CoderError(
                f"the torchac backend is unavailable: {exc} {tail}".strip()
            ) from exc
        finally:
            build_log.setLevel(level)
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
    return torchac


def _plan(lengths: Int64Array) -> list[Segment]:
    """Split a call into segments ``(positions, Lp)``; a pure function of `lengths`.

    Args:
        lengths: cdf_length of the row of each symbol of the call (all >= 2).

    Returns:
        Segments covering every position once; positions keep their order within a
        segment.
    """
    counts = np.bincount(lengths)
    distinct = np.flatnonzero(counts).astype(np.int64)
    if distinct.size == 1:
        uppers = distinct
    else:
        n_at = np.concatenate(([0], np.cumsum(counts[distinct])))
        best = np.zeros(distinct.size + 1, dtype=np.int64)
        prev = np.zeros(distinct.size + 1, dtype=np.intp)
        for j in range(1, distinct.size + 1):
            # Last group = distinct lengths i..j-1, padded to the longest of them.
            cost = best[:j] + distinct[j - 1] * (n_at[j] - n_at[:j]) + _SPLIT_COST
            prev[j] = int(np.argmin(cost))
            best[j] = cost[prev[j]]
        ends = []
        j = distinct.size
        while j > 0:
            ends.append(j - 1)
            j = int(prev[j])
        uppers = distinct[ends[::-1]]
    if uppers.size == 1:
        groups = [np.arange(lengths.size)]
    else:
        group_of = np.searchsorted(uppers, lengths)
        order = np.argsort(group_of, kind="stable")
        groups = np.split(order, np.cumsum(np.bincount(group_of))[:-1])
    segments: list[Segment] = []
    for positions, lp in zip(groups, uppers.tolist(), strict=True):
        step = max(1, _MAX_CDF_ELEMENTS // lp)
        for start in range(0, positions.size, step):
            segments.append((positions[start : start + step], lp))
    return segments


class _TorchacTable:
    """The table as torchac CDF columns (module docstring), built once."""

    def __init__(self, table: PreparedTable) -> None:
        if table.length.max() > MAX_ROW_LENGTH:
            raise ValueError(
                f"torchac supports cdf_length up to {MAX_ROW_LENGTH}, the table has "
                f"{int(table.length.max())}."
            )
        self.length = table.length
        self.offset = table.offset
        self.num_rows = table.num_rows
        width = int(table.length.max())
        cdf = table.cdf[:, :width].astype(np.int64)
        col = np.arange(width)[None, :]
        last = (table.length - 1)[:, None]
        freq = np.where(col[:, :-1] < last, np.diff(cdf, axis=1), 0)
        mode = np.argmax(freq, axis=1)[:, None]
        # Shift every start after the mode down by one and pad from the row's end on.
        cdf = np.where(col >= last, 0xFFFF, cdf - (col > mode))
        self.cdf = np.ascontiguousarray(cdf.astype(np.uint16).view(np.int16))

    def gather(self, rows: npt.NDArray[np.intp], lp: int) -> torch.Tensor:
        """(len(rows), lp) int16 CDFs of `rows`, cut or padded to `lp` columns."""
        # Slicing first keeps the fancy-index copy at lp columns.
        return _tensor(self.cdf[:, :lp][rows])


class _TorchacStreamEncoder:
    def __init__(self, table: _TorchacTable) -> None:
        self._table = table
        self._torchac = _load_torchac()
        self._parts: list[bytes] = []
        self._finished = False

    def encode(self, symbols: IntArray, indexes: IntArray) -> None:
        """Code one call (see `StreamEncoder.encode`)."""
        if self._finished:
            raise RuntimeError("encode() after finish()")
        t = self._table
        sym, idx = check_encode_inputs(symbols, indexes, t.num_rows)
        if sym.size == 0:
            return
        length = t.length[idx]
        s = sym - t.offset[idx]
        direct = (s >= 0) & (s < length - 2)
        tsym_all = np.where(direct, s, length - 2).astype(np.int16)
        out = bytearray()
        for pos, lp in _plan(length):
            tsym = tsym_all[pos]
            data = self._torchac.encode_int16_normalized_cdf(
                t.gather(idx[pos], lp), _tensor(tsym)
            )
            write_uvarint(out, len(data))
            out += data
        escaped = ~direct
        out += encode_uvarints(escape_codes(s[escaped], length[escaped]))
        self._parts.append(bytes(out))

    def finish(self) -> bytes:
        """Return all calls' bytes (see `StreamEncoder.finish`)."""
        if self._finished:
            raise RuntimeError("finish() called twice")
        self._finished = True
        data = b"".join(self._parts)
        self._parts = []
        return data


class _TorchacStreamDecoder:
    def __init__(self, table: _TorchacTable, data: bytes) -> None:
        self._table = table
        self._torchac = _load_torchac()
        self._data = bytes(data)
        self._pos = 0

    def decode(self, indexes: IntArray) -> IntArray:
        """Decode one call (see `StreamDecoder.decode`)."""
        t = self._table
        shape = np.shape(indexes)
        idx = check_indexes(indexes, t.num_rows)
        if idx.size == 0:
            return np.zeros(shape, dtype=np.int32)
        data = self._data
        length = t.length[idx]
        s = np.empty(idx.size, dtype=np.int64)
        for pos, lp in _plan(length):
            size, start = read_uvarint(data, self._pos)
            if size > len(data) - start:
                raise CoderError("The torchac stream is truncated (segment length).")
            self._pos = start + size
            try:
                tsym = self._torchac.decode_int16_normalized_cdf(
                    t.gather(idx[pos], lp), data[start : self._pos]
                )
            except (RuntimeError, ValueError) as exc:
                raise CoderError(f"torchac failed to decode: {exc}") from exc
            s[pos] = tsym.numpy()
        escaped = s == length - 2
        codes, self._pos = decode_uvarints(data, self._pos, int(escaped.sum()))
        s[escaped] = unescape_codes(codes, length[escaped])
        values = s + t.offset[idx]
        if escaped.any() and np.abs(values[escaped]).max() > MAX_SYMBOL_MAGNITUDE:
            raise CoderError("The torchac stream is corrupt (escape value too large).")
        return values.astype(np.int32).reshape(shape)


class TorchacCoder:
    """Arithmetic coder from torchac, with the table's exact 16-bit probabilities.

    Attributes:
        name: ``"torchac"``.
        coder_id: ``2``, stored in containers to select this backend.
    """

    name: str = "torchac"
    coder_id: int = 2

    def encoder(self, table: CdfTable) -> _TorchacStreamEncoder:
        """A fresh encoder for `table`.

        Args:
            table: the CDFs the symbols are coded with.

        Returns:
            A `StreamEncoder`.

        Raises:
            ValueError: the table is malformed or has rows over `MAX_ROW_LENGTH`.
            CoderError: torchac cannot be loaded.
        """
        return _TorchacStreamEncoder(_TorchacTable(prepare_table(table)))

    def decoder(self, table: CdfTable, data: bytes) -> _TorchacStreamDecoder:
        """A decoder over `data` produced by `encoder` with the same `table`.

        Framing is checked lazily, call by call, since segment boundaries depend on the
        indexes of each call.

        Args:
            table: the CDFs the symbols were coded with.
            data: bytes returned by `finish`.

        Returns:
            A `StreamDecoder`.

        Raises:
            ValueError: the table is malformed or has rows over `MAX_ROW_LENGTH`.
            CoderError: torchac cannot be loaded.
        """
        return _TorchacStreamDecoder(_TorchacTable(prepare_table(table)), data)
