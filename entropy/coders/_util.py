"""Helpers shared by the coder backends: table and input checks, varints, escapes.

Everything here is pure numpy and backend-agnostic. The byte layouts produced by these
helpers (unsigned LEB128 varints, the escape mapping) are part of the bitstream format
of the backends that use them, so changing them breaks decoding of existing files.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..errors import CoderError
from .base import CdfTable

__all__ = [
    "CDF_PRECISION",
    "MAX_SYMBOL_MAGNITUDE",
    "MAX_VARINT_BYTES",
    "PreparedTable",
    "check_encode_inputs",
    "check_indexes",
    "decode_uvarints",
    "encode_uvarints",
    "escape_codes",
    "prepare_table",
    "read_uvarint",
    "unescape_codes",
    "write_uvarint",
]

CDF_PRECISION = 16
"""Bits of the quantized CDFs: every row ends at ``2**CDF_PRECISION``."""

MAX_SYMBOL_MAGNITUDE = 1 << 26
"""Largest ``abs(symbol)`` any backend accepts.

CompressAI's rANS encoder loops forever on bypass values of 2**28 or more (it shifts a
uint32 by 32 bits) and overflows int32 above 2**30, so both backends share this limit,
which also keeps every escape code within 35 bits.
"""

MAX_OFFSET_MAGNITUDE = 1 << 24
"""Largest ``abs(offset)`` of a table row; with the symbol limit it bounds escapes."""

MAX_VARINT_BYTES = 5
"""Longest varint accepted on decode (35 bits); longer ones can only be garbage."""

Int32Array = npt.NDArray[np.int32]
Int64Array = npt.NDArray[np.int64]
UInt64Array = npt.NDArray[np.uint64]


@dataclass(frozen=True)
class PreparedTable:
    """A validated `CdfTable`, widened for index arithmetic.

    Attributes:
        cdf: (K, L_max) int32, as in the table.
        length: (K,) int64 valid entries per row.
        offset: (K,) int64 value of symbol 0 of each row.
    """

    cdf: Int32Array
    length: Int64Array
    offset: Int64Array

    @property
    def num_rows(self) -> int:
        """Number of CDF rows (K)."""
        return int(self.length.shape[0])


def prepare_table(table: CdfTable) -> PreparedTable:
    """Validate `table` and return it as a `PreparedTable`.

    A malformed table would make CompressAI's C++ coder index out of bounds (its asserts
    are compiled out), so it is rejected here, once per encoder/decoder.

    Args:
        table: quantized CDFs in CompressAI's layout.

    Returns:
        The same data with int64 lengths and offsets.

    Raises:
        ValueError: a shape, length, offset or CDF row is not valid.
    """
    cdf = np.asarray(table.cdf)
    length = np.asarray(table.cdf_length)
    offset = np.asarray(table.offset)
    for name, arr in (("cdf", cdf), ("cdf_length", length), ("offset", offset)):
        if not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"CdfTable.{name} must be integer, got {arr.dtype}.")
    if cdf.ndim != 2 or length.ndim != 1 or offset.ndim != 1:
        raise ValueError("CdfTable needs cdf (K, L), cdf_length (K,) and offset (K,).")
    k, width = cdf.shape
    if k == 0 or length.shape[0] != k or offset.shape[0] != k:
        raise ValueError(
            f"CdfTable shapes disagree or are empty: cdf {cdf.shape}, "
            f"cdf_length {length.shape}, offset {offset.shape}."
        )
    length = length.astype(np.int64)
    offset = offset.astype(np.int64)
    if length.min() < 2 or length.max() > width:
        raise ValueError(f"cdf_length must lie in [2, {width}].")
    if np.abs(offset).max() > MAX_OFFSET_MAGNITUDE:
        raise ValueError(f"offsets must lie within +-{MAX_OFFSET_MAGNITUDE}.")
    cdf32 = np.ascontiguousarray(cdf, dtype=np.int32)
    rows = np.arange(k)
    if np.any(cdf32[:, 0] != 0) or np.any(
        cdf32[rows, length - 1] != 1 << CDF_PRECISION
    ):
        raise ValueError("every CDF row must start at 0 and end at 2**16.")
    # Only the valid prefix of each row must increase strictly (zero-width symbols
    # cannot be coded); the padding after it is ignored.
    valid_step = np.arange(width - 1)[None, :] < (length - 1)[:, None]
    if np.any((np.diff(cdf32.astype(np.int64), axis=1) <= 0) & valid_step):
        raise ValueError("CDF rows must increase strictly over their valid entries.")
    return PreparedTable(cdf=cdf32, length=length, offset=offset)


def check_indexes(indexes: npt.ArrayLike, num_rows: int) -> npt.NDArray[np.intp]:
    """Return `indexes` as a flat intp array after checking it addresses the table.

    Args:
        indexes: CDF row per symbol, any shape, integer dtype.
        num_rows: number of rows of the table.

    Returns:
        The flattened indexes.

    Raises:
        ValueError: not integers, or an index outside ``[0, num_rows)``.
    """
    arr = np.asarray(indexes)
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"indexes must be integers, got {arr.dtype}.")
    flat = arr.reshape(-1).astype(np.intp, copy=False)
    if flat.size and (flat.min() < 0 or flat.max() >= num_rows):
        raise ValueError(f"indexes must lie in [0, {num_rows}).")
    return flat


def check_encode_inputs(
    symbols: npt.ArrayLike, indexes: npt.ArrayLike, num_rows: int
) -> tuple[Int64Array, npt.NDArray[np.intp]]:
    """Validate one encode call and return flat int64 symbols and intp indexes.

    Args:
        symbols: symbol values, integer dtype.
        indexes: CDF row per symbol, same shape as `symbols`.
        num_rows: number of rows of the table.

    Returns:
        ``(symbols, indexes)`` flattened.

    Raises:
        ValueError: dtype or shape mismatch, or an index out of range.
        CoderError: a symbol's magnitude exceeds `MAX_SYMBOL_MAGNITUDE`.
    """
    sym = np.asarray(symbols)
    idx_arr = np.asarray(indexes)
    if sym.shape != idx_arr.shape:
        raise ValueError(
            f"symbols {sym.shape} and indexes {idx_arr.shape} must have one shape."
        )
    if sym.size and not np.issubdtype(sym.dtype, np.integer):
        raise ValueError(f"symbols must be integers, got {sym.dtype}.")
    flat = sym.reshape(-1).astype(np.int64)
    if flat.size and np.abs(flat).max() > MAX_SYMBOL_MAGNITUDE:
        raise CoderError(
            f"A latent value of magnitude {int(np.abs(flat).max())} is too large to "
            f"entropy-code (the limit is {MAX_SYMBOL_MAGNITUDE})."
        )
    return flat, check_indexes(idx_arr, num_rows)


def write_uvarint(out: bytearray, value: int) -> None:
    """Append `value` (>= 0) to `out` as an unsigned LEB128 varint."""
    if value < 0:
        raise ValueError("varints are unsigned")
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def read_uvarint(data: bytes | memoryview, pos: int) -> tuple[int, int]:
    """Read one unsigned LEB128 varint of at most `MAX_VARINT_BYTES` bytes.

    Args:
        data: the buffer.
        pos: where the varint starts.

    Returns:
        ``(value, position after it)``.

    Raises:
        CoderError: the buffer ends inside the varint, or it is too long.
    """
    value = 0
    for i in range(MAX_VARINT_BYTES):
        if pos + i >= len(data):
            raise CoderError("The entropy-coded stream is truncated (inside a varint).")
        byte = data[pos + i]
        value |= (byte & 0x7F) << (7 * i)
        if byte < 0x80:
            return value, pos + i + 1
    raise CoderError("The entropy-coded stream is corrupt (overlong varint).")


def encode_uvarints(values: UInt64Array) -> bytes:
    """Vectorised `write_uvarint` over an array of values below 2**35."""
    vals = np.asarray(values, dtype=np.uint64).reshape(-1)
    if vals.size == 0:
        return b""
    if int(vals.max()) >> (7 * MAX_VARINT_BYTES):
        raise ValueError("value too large for a varint of this format")
    # nbytes[i] = number of 7-bit groups needed (at least one).
    nbytes = np.ones(vals.shape, dtype=np.int64)
    for k in range(1, MAX_VARINT_BYTES):
        nbytes += vals >= np.uint64(1 << (7 * k))
    starts = np.concatenate(([0], np.cumsum(nbytes)[:-1]))
    out = np.zeros(int(nbytes.sum()), dtype=np.uint8)
    for k in range(MAX_VARINT_BYTES):
        has = nbytes > k
        group = (vals[has] >> np.uint64(7 * k)) & np.uint64(0x7F)
        more = (nbytes[has] > k + 1).astype(np.uint64) << np.uint64(7)
        out[starts[has] + k] = (group | more).astype(np.uint8)
    return out.tobytes()


def decode_uvarints(
    data: bytes | memoryview, pos: int, count: int
) -> tuple[UInt64Array, int]:
    """Vectorised `read_uvarint`: read `count` varints starting at `pos`.

    Args:
        data: the buffer.
        pos: where the first varint starts.
        count: how many to read.

    Returns:
        ``(values, position after the last one)``.

    Raises:
        CoderError: the buffer holds fewer varints, or one is overlong.
    """
    if count == 0:
        return np.zeros(0, dtype=np.uint64), pos
    # Only look at as many bytes as `count` maximal varints could span, so garbage
    # counts cannot make us scan (or copy) more than the buffer.
    window = np.frombuffer(
        data, dtype=np.uint8, count=max(0, min(len(data) - pos, count * 5)), offset=pos
    )
    ends = np.flatnonzero(window < 0x80)[:count]
    if ends.size < count:
        raise CoderError("The entropy-coded stream is truncated (escape values).")
    starts = np.concatenate(([0], ends[:-1] + 1))
    nbytes = ends - starts + 1
    if nbytes.max() > MAX_VARINT_BYTES:
        raise CoderError("The entropy-coded stream is corrupt (overlong varint).")
    values = np.zeros(count, dtype=np.uint64)
    for k in range(MAX_VARINT_BYTES):
        has = nbytes > k
        group = window[starts[has] + k].astype(np.uint64) & np.uint64(0x7F)
        values[has] |= group << np.uint64(7 * k)
    return values, pos + int(ends[-1]) + 1


def escape_codes(offset_symbols: Int64Array, lengths: Int64Array) -> UInt64Array:
    """Map escaped symbols to non-negative codes, small overshoots first.

    `offset_symbols` are ``s = value - offset`` of symbols outside the directly coded
    range ``[0, length - 2)`` of their row, the same rule as CompressAI's rANS escape.
    Below the range gets even codes (``-2 s - 2``), at or above it odd ones
    (``2 (s - (length - 2)) + 1``): a zig-zag around the row's range, so the usual small
    overshoots cost one varint byte.

    Args:
        offset_symbols: ``value - offset`` of each escaped symbol.
        lengths: the cdf_length of each symbol's row.

    Returns:
        The codes, uint64.

    Raises:
        ValueError: a symbol lies inside its row's range.
    """
    s = np.asarray(offset_symbols, dtype=np.int64)
    above = s >= lengths - 2
    codes = np.where(above, 2 * (s - (lengths - 2)) + 1, -2 * s - 2)
    if codes.size and codes.min() < 0:
        raise ValueError("escape_codes got a symbol inside the table's range")
    return codes.astype(np.uint64)


def unescape_codes(codes: UInt64Array, lengths: Int64Array) -> Int64Array:
    """Inverse of `escape_codes`: codes back to ``value - offset``."""
    c = np.asarray(codes, dtype=np.uint64).astype(np.int64)
    half = c >> 1
    return np.where(c & 1 == 1, half + (lengths - 2), -half - 1)
