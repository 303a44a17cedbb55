"""The `.s2lic` container: a compact header, opaque entropy-coded streams and a CRC32.

The byte layout is specified in ``docs/format.md``; this module is the reference
implementation of that specification. Version 2 adds one optional section, the
per-image adaptation of the decoder (`Container.adaptation`); a file without it is
written as version 1, so that every release since the first reads it. `pack` writes
a `Container`, `unpack` reads and fully verifies one, and `read_header` decodes only
the header (for ``s2lic info``).

Decoding untrusted bytes never raises anything but `S2LICError` subclasses:
`FormatError` (not a valid container), `TruncatedError` (cut short), `ChecksumError`
(corrupted) and `LimitError` (valid but larger than the caller allows). Building a
`Header`, `Container` or `Limits` with out-of-range values is a programming error and
raises `ValueError` or `TypeError` instead.
"""

from __future__ import annotations

import enum
import math
import os
import struct
import zlib
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from s2lic.entropy.errors import (
    ChecksumError,
    FormatError,
    LimitError,
    TruncatedError,
)

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "FLAG_ADAPTATION",
    "FORMAT_VERSION",
    "FORMAT_VERSIONS",
    "MAGIC",
    "MAX_HEADER_SIZE",
    "MAX_STREAMS",
    "WEIGHTS_ID_SIZE",
    "ColorMode",
    "Container",
    "Header",
    "Limits",
    "code_to_quality",
    "VarintError",
    "decode_varint",
    "encode_varint",
    "is_s2lic_file",
    "pack",
    "quality_to_code",
    "read_header",
    "symbol_checksum",
    "unpack",
]

MAGIC: Final = b"S2LC"
"""The first four bytes of every `.s2lic` file."""

FORMAT_VERSION: Final = 2
"""The newest container version this module reads and writes."""
FORMAT_VERSIONS: Final = (1, 2)
"""Every container version this module reads."""
FLAG_ADAPTATION: Final = 0x01
"""Version 2 flag: the last stream is the adaptation section."""
_FLAGS: Final = {1: 0, 2: FLAG_ADAPTATION}  # flags each version requires

MAX_STREAMS: Final = 8
"""The most streams a container may hold (the format's limit, not a `Limits` knob)."""

WEIGHTS_ID_SIZE: Final = 4
"""Length of `Header.weights_id`: the first bytes of the SHA-256 of the weights."""

_MAX_VARINT_BYTES: Final = 5
_U8_MAX: Final = 0xFF
_U16_MAX: Final = 0xFFFF
_U32_MAX: Final = 0xFFFF_FFFF
_QUALITY_SCALE: Final = _U16_MAX

# magic, version, flags, model_id, weights_id, coder_id, mode.
_FIXED_HEAD: Final = struct.Struct("<4sBBH4sBB")
# quality, symbol_crc, number of streams.
_FIXED_MID: Final = struct.Struct("<HIB")
_CRC: Final = struct.Struct("<I")

MAX_HEADER_SIZE: Final = (
    _FIXED_HEAD.size
    + 2 * _MAX_VARINT_BYTES
    + _FIXED_MID.size
    + MAX_STREAMS * _MAX_VARINT_BYTES
)
"""Upper bound of the header size: `read_header` never needs more leading bytes."""

# Signatures of files users plausibly hand to the decoder by mistake; naming the
# format turns "bad magic" into something they can act on.
_FOREIGN_SIGNATURES: Final = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"\xff\x0a", "a JPEG XL image"),
    (b"\x00\x00\x00\x0cJXL ", "a JPEG XL image"),
)


class ColorMode(enum.IntEnum):
    """Colour layout of the decoded image; the value is the byte stored in the header.

    The value equals the total number of channels.
    """

    L = 1
    """Grayscale."""
    LA = 2
    """Grayscale with alpha."""
    RGB = 3
    """Colour."""
    RGBA = 4
    """Colour with alpha."""

    @property
    def has_alpha(self) -> bool:
        """Whether the image has an alpha channel (coded in its own stream)."""
        return self in (ColorMode.LA, ColorMode.RGBA)

    @property
    def color_channels(self) -> int:
        """Number of colour channels, alpha excluded: 1 (gray) or 3 (RGB)."""
        return 1 if self in (ColorMode.L, ColorMode.LA) else 3

    @property
    def channels(self) -> int:
        """Total number of channels, alpha included."""
        return self.color_channels + int(self.has_alpha)


def quality_to_code(q: float) -> int:
    """Quantize a quality in [0, 1] to the u16 code stored in the header.

    Args:
        q: Quality; 0 is the lowest rate, 1 the highest.

    Returns:
        ``round(q * 65535)``, so that ``quality_to_code(code_to_quality(c)) == c``.

    Raises:
        ValueError: If `q` is NaN or outside [0, 1]; clamping would hide a caller bug.
    """
    q = float(q)
    if math.isnan(q) or not 0.0 <= q <= 1.0:
        raise ValueError(f"quality must be in [0, 1], got {q!r}")
    return round(q * _QUALITY_SCALE)


def code_to_quality(c: int) -> float:
    """Return the quality in [0, 1] that the u16 header code `c` stands for.

    Args:
        c: Quality code, 0..65535.

    Returns:
        ``c / 65535``.

    Raises:
        ValueError: If `c` is not an integer in 0..65535.
    """
    _check_uint("quality code", c, _U16_MAX)
    return c / _QUALITY_SCALE


def _check_uint(
    name: str, value: object, maximum: int | None, minimum: int = 0
) -> None:
    # bool is an int subclass; accepting True as a width would hide a caller bug.
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if maximum is None:
        if value < minimum:
            raise ValueError(f"{name} must be at least {minimum}, got {value}")
    elif not minimum <= value <= maximum:
        raise ValueError(f"{name} must be in {minimum}..{maximum}, got {value}")


@dataclass(frozen=True)
class Header:
    """The decoded header fields of a container.

    Attributes:
        model_id: u16 id of the model architecture, taken from the explicit id in the
            model registry entry (never derived from registry order).
        weights_id: The first 4 bytes of the SHA-256 of the weights, so a decoder can
            refuse a file coded with other weights of the same model.
        coder_id: u8 id of the entropy coder backend (`EntropyCoder.coder_id`).
        width: Image width in pixels, 1..2**32-1.
        height: Image height in pixels, 1..2**32-1.
        mode: Colour layout; plain ints 1..4 are converted to `ColorMode`.
        quality: u16 quality code; see `code_to_quality`.
        symbol_crc: u32 `symbol_checksum` of all quantized symbols, in coding order.
    """

    model_id: int
    weights_id: bytes
    coder_id: int
    width: int
    height: int
    mode: ColorMode
    quality: int
    symbol_crc: int

    def __post_init__(self) -> None:
        """Validate field ranges.

        Raises:
            TypeError: If a field has the wrong type.
            ValueError: If a field is out of its range.
        """
        _check_uint("model_id", self.model_id, _U16_MAX)
        if not isinstance(self.weights_id, bytes):
            raise TypeError(
                f"weights_id must be bytes, got {type(self.weights_id).__name__}"
            )
        if len(self.weights_id) != WEIGHTS_ID_SIZE:
            raise ValueError(
                f"weights_id must be {WEIGHTS_ID_SIZE} bytes, "
                f"got {len(self.weights_id)}"
            )
        _check_uint("coder_id", self.coder_id, _U8_MAX)
        _check_uint("width", self.width, _U32_MAX, minimum=1)
        _check_uint("height", self.height, _U32_MAX, minimum=1)
        _check_uint("mode", self.mode, max(ColorMode), minimum=min(ColorMode))
        object.__setattr__(self, "mode", ColorMode(self.mode))
        _check_uint("quality", self.quality, _U16_MAX)
        _check_uint("symbol_crc", self.symbol_crc, _U32_MAX)

    @property
    def pixels(self) -> int:
        """Number of pixels, ``width * height``."""
        return self.width * self.height

    @property
    def quality_value(self) -> float:
        """The quality in [0, 1] that `quality` encodes."""
        return code_to_quality(self.quality)


@dataclass(frozen=True)
class Container:
    """A header and the opaque entropy-coded streams that follow it.

    Attributes:
        header: The header fields.
        streams: 1..8 payloads in coding order (e.g. z stream, y stream, optional alpha
            stream), each shorter than 2**32 bytes; empty payloads are allowed.
            Any bytes-like values are stored as `bytes`.
        adaptation: the optional adaptation section (opaque here, defined by the
            codec), stored as a last stream of a version-2 file; None for none.
    """

    header: Header
    streams: tuple[bytes, ...]
    adaptation: bytes | None = None

    @property
    def version(self) -> int:
        """The container version this container is written as: the lowest that
        holds it (2 with an adaptation section, else 1)."""
        return 1 if self.adaptation is None else 2

    def __post_init__(self) -> None:
        """Validate the header type and the stream count and sizes.

        Raises:
            TypeError: If `header` is not a `Header` or a stream is not bytes-like.
            ValueError: If there are not 1..8 streams or one is 2**32 bytes or longer.
        """
        if not isinstance(self.header, Header):
            raise TypeError(
                f"header must be a Header, got {type(self.header).__name__}"
            )
        if isinstance(self.streams, (bytes, bytearray, memoryview, str)):
            raise TypeError("streams must be a sequence of bytes, not a single buffer")
        items = tuple(self.streams)
        for i, s in enumerate(items):
            # bytes(int) would silently make a zero-filled buffer of that length.
            if not isinstance(s, (bytes, bytearray, memoryview)):
                raise TypeError(f"stream {i} must be bytes, got {type(s).__name__}")
        streams = tuple(bytes(s) for s in items)
        room = MAX_STREAMS - (self.adaptation is not None)
        if not 1 <= len(streams) <= room:
            raise ValueError(f"need 1..{room} streams, got {len(streams)}")
        if self.adaptation is not None:
            if not isinstance(self.adaptation, (bytes, bytearray, memoryview)):
                raise TypeError(
                    f"adaptation must be bytes, got {type(self.adaptation).__name__}"
                )
            object.__setattr__(self, "adaptation", bytes(self.adaptation))
        for i, s in enumerate((*streams, self.adaptation or b"")):
            if len(s) > _U32_MAX:
                raise ValueError(f"stream {i} is {len(s)} bytes, above 2**32 - 1")
        object.__setattr__(self, "streams", streams)


DEFAULT_MAX_PIXELS: Final = 40_000_000
"""Most pixels an image may have by default, to encode or to decode (40 MP)."""


@dataclass(frozen=True)
class Limits:
    """Resource limits that a reader enforces on untrusted files.

    Attributes:
        max_pixels: Most pixels (width * height) a header may declare.
        max_stream_bytes: Longest stream payload, in bytes.
        max_streams: Most streams, at most `MAX_STREAMS`.
        max_decode_bytes: Most memory a decoder may need for the declared image, by
            its estimate made before allocating (`s2lic.codec.memory`); None means the
            physical memory of the machine. `unpack` does not apply it: the memory
            depends on the model, which the container does not describe.
    """

    max_pixels: int = DEFAULT_MAX_PIXELS
    max_stream_bytes: int = 256 * 1024 * 1024
    max_streams: int = MAX_STREAMS
    max_decode_bytes: int | None = None

    def __post_init__(self) -> None:
        """Validate the limits.

        Raises:
            TypeError: If a limit is not an int.
            ValueError: If a limit is below 1 or `max_streams` exceeds `MAX_STREAMS`.
        """
        _check_uint("max_pixels", self.max_pixels, None, minimum=1)
        _check_uint("max_stream_bytes", self.max_stream_bytes, None, minimum=1)
        _check_uint("max_streams", self.max_streams, MAX_STREAMS, minimum=1)
        if self.max_decode_bytes is not None:
            _check_uint("max_decode_bytes", self.max_decode_bytes, None, minimum=1)


_DEFAULT_LIMITS: Final = Limits()


def symbol_checksum(*arrays: npt.ArrayLike) -> int:
    """CRC32 of quantized symbols, as stored in `Header.symbol_crc`.

    Each array is flattened in C (row-major) order, converted to little-endian int32
    and fed to ``zlib.crc32`` in argument order, starting from 0. Shapes and dtypes do
    not enter the checksum, only the values and their order.

    Args:
        *arrays: Integer arrays (or nested sequences of ints); every value must fit in
            int32.

    Returns:
        The u32 checksum; 0 when there are no symbols.

    Raises:
        TypeError: If an array is not of an integer dtype.
        ValueError: If a value does not fit in int32 (wrapping it would make the
            checksum depend on the implementation).
    """
    crc = 0
    for i, array in enumerate(arrays):
        a = np.asarray(array)
        if a.size == 0:
            continue
        if not np.issubdtype(a.dtype, np.integer):
            raise TypeError(f"array {i} must have an integer dtype, got {a.dtype}")
        lo, hi = int(a.min()), int(a.max())
        if lo < -(2**31) or hi > 2**31 - 1:
            raise ValueError(f"array {i} has values in {lo}..{hi}, outside int32")
        data = np.ascontiguousarray(a, dtype="<i4")
        crc = zlib.crc32(data.tobytes(order="C"), crc)
    return crc


def encode_varint(value: int) -> bytes:
    """The unsigned LEB128 bytes of `value` (docs/format.md, "Varints")."""
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


class VarintError(ValueError):
    """Bytes that are no varint of the format; `truncated` if the data ends first."""

    def __init__(self, reason: str, truncated: bool = False) -> None:
        super().__init__(reason)
        self.truncated = truncated


def decode_varint(data: bytes, pos: int) -> tuple[int, int]:
    """The value of the varint at `pos` and the position after it.

    Raises:
        VarintError: the data ends first, or the varint is not minimally encoded,
            exceeds 2**32 - 1 or is longer than 5 bytes (docs/format.md, "Varints").
    """
    value = 0
    for i in range(_MAX_VARINT_BYTES):
        if pos + i >= len(data):
            raise VarintError("is cut short", truncated=True)
        byte = data[pos + i]
        value |= (byte & 0x7F) << (7 * i)
        if byte < 0x80:
            # A zero final byte adds nothing: the value had a shorter encoding, and
            # accepting it would give one image several byte representations.
            if byte == 0 and i > 0:
                raise VarintError("is not minimally encoded")
            if value > _U32_MAX:
                raise VarintError("exceeds 2**32 - 1")
            return value, pos + i + 1
    raise VarintError("is longer than 5 bytes")


def pack(container: Container) -> bytes:
    """Serialize a container to the `.s2lic` byte format.

    `Limits` are not applied: a writer may produce any file the format allows, and it
    is the reader that decides what it is willing to decode.

    Args:
        container: The header and streams to write.

    Returns:
        The complete file contents, trailing CRC32 included.
    """
    h = container.header
    streams = container.streams
    if container.adaptation is not None:
        streams = (*streams, container.adaptation)
    parts = [
        _FIXED_HEAD.pack(
            MAGIC,
            container.version,
            _FLAGS[container.version],
            h.model_id,
            h.weights_id,
            h.coder_id,
            int(h.mode),
        ),
        encode_varint(h.width),
        encode_varint(h.height),
        _FIXED_MID.pack(h.quality, h.symbol_crc, len(streams)),
        *(encode_varint(len(s)) for s in streams),
        *streams,
    ]
    body = b"".join(parts)
    return body + _CRC.pack(zlib.crc32(body))


class _MalformedHeader(Exception):
    """Internal: a structural header rule is broken; `detail` is a sentence clause."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class _RawHeader:
    """Header fields as read, before semantic validation."""

    version: int
    flags: int
    model_id: int
    weights_id: bytes
    coder_id: int
    mode: int
    width: int
    height: int
    quality: int
    symbol_crc: int
    stream_lengths: tuple[int, ...]
    size: int


def _truncated_header(data: bytes, field: str) -> TruncatedError:
    return TruncatedError(
        f"truncated .s2lic file: the header ends after {len(data)} bytes, "
        f"inside the {field} field"
    )


def _check_magic_and_version(data: bytes) -> int:
    head = data[: len(MAGIC)]
    if head != MAGIC[: len(head)]:
        for signature, name in _FOREIGN_SIGNATURES:
            if data.startswith(signature):
                raise FormatError(
                    f"not an .s2lic file (bad magic): the data looks like {name}"
                )
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            raise FormatError(
                "not an .s2lic file (bad magic): the data looks like a WebP image"
            )
        raise FormatError("not an .s2lic file (bad magic)")
    if not data:
        raise TruncatedError("truncated .s2lic file: the file is empty")
    if len(data) <= len(MAGIC):
        raise _truncated_header(data, "magic" if len(data) < len(MAGIC) else "version")
    version = data[len(MAGIC)]
    if version not in FORMAT_VERSIONS:
        hint = "; upgrade s2lic to read this file" if version > FORMAT_VERSION else ""
        known = ", ".join(map(str, FORMAT_VERSIONS))
        raise FormatError(
            f"unsupported .s2lic format version {version}: this reader supports "
            f"versions {known}{hint}"
        )
    return version


def _read_varint(data: bytes, pos: int, field: str) -> tuple[int, int]:
    try:
        return decode_varint(data, pos)
    except VarintError as e:
        if e.truncated:
            raise _truncated_header(data, field) from None
        raise _MalformedHeader(f"the {field} varint {e}") from None


def _read_uint(data: bytes, pos: int, size: int, field: str) -> tuple[int, int]:
    end = pos + size
    if end > len(data):
        raise _truncated_header(data, field)
    return int.from_bytes(data[pos:end], "little"), end


def _parse_header(data: bytes, version: int) -> _RawHeader:
    """Read the header structure; magic and version must already be checked.

    Raises:
        TruncatedError: If the data ends inside the header.
        _MalformedHeader: If a varint or the stream count breaks a format rule.
    """
    pos = len(MAGIC) + 1  # Magic and version are checked by the caller.
    flags, pos = _read_uint(data, pos, 1, "flags")
    model_id, pos = _read_uint(data, pos, 2, "model_id")
    if pos + WEIGHTS_ID_SIZE > len(data):
        raise _truncated_header(data, "weights_id")
    weights_id = data[pos : pos + WEIGHTS_ID_SIZE]
    pos += WEIGHTS_ID_SIZE
    coder_id, pos = _read_uint(data, pos, 1, "coder_id")
    mode, pos = _read_uint(data, pos, 1, "mode")
    width, pos = _read_varint(data, pos, "width")
    height, pos = _read_varint(data, pos, "height")
    quality, pos = _read_uint(data, pos, 2, "quality")
    symbol_crc, pos = _read_uint(data, pos, 4, "symbol_crc")
    n_streams, pos = _read_uint(data, pos, 1, "stream count")
    # Checked before the lengths are read, so a corrupted count never makes the
    # reader interpret payload bytes as lengths.
    if not 1 <= n_streams <= MAX_STREAMS:
        raise _MalformedHeader(
            f"the header declares {n_streams} streams but the format allows "
            f"1 to {MAX_STREAMS}"
        )
    lengths = []
    for i in range(n_streams):
        length, pos = _read_varint(data, pos, f"stream {i} length")
        lengths.append(length)
    return _RawHeader(
        version=version,
        flags=flags,
        model_id=model_id,
        weights_id=weights_id,
        coder_id=coder_id,
        mode=mode,
        width=width,
        height=height,
        quality=quality,
        symbol_crc=symbol_crc,
        stream_lengths=tuple(lengths),
        size=pos,
    )


def _validate(raw: _RawHeader, limits: Limits) -> Header:
    """Apply the semantic rules and the limits, then build the `Header`.

    Raises:
        FormatError: If a field has a value the format does not allow.
        LimitError: If the image or a stream is above `limits`.
    """
    if raw.flags != _FLAGS[raw.version]:
        if raw.version == 1:
            raise FormatError(
                f"invalid .s2lic header: reserved flag bits 0x{raw.flags:02x} are "
                "set, which format version 1 does not allow"
            )
        raise FormatError(
            f"invalid .s2lic header: flags 0x{raw.flags:02x} in a version-2 file, "
            f"which must have exactly 0x{FLAG_ADAPTATION:02x} (the adaptation section)"
        )
    if raw.version == 2 and len(raw.stream_lengths) < 2:
        raise FormatError(
            "invalid .s2lic header: a version-2 file needs an image stream besides "
            "its adaptation section"
        )
    if raw.mode not in ColorMode._value2member_map_:
        raise FormatError(
            f"invalid .s2lic header: unknown colour mode {raw.mode} "
            "(expected 1=L, 2=LA, 3=RGB or 4=RGBA)"
        )
    if raw.width == 0 or raw.height == 0:
        raise FormatError(
            f"invalid .s2lic header: the image is {raw.width} x {raw.height} pixels, "
            "but both sides must be at least 1"
        )
    pixels = raw.width * raw.height
    if pixels > limits.max_pixels:
        raise LimitError(
            f"image too large: {raw.width} x {raw.height} = {pixels} pixels exceeds "
            f"the limit of {limits.max_pixels} pixels"
        )
    n_streams = len(raw.stream_lengths)
    if n_streams > limits.max_streams:
        raise LimitError(
            f"the container has {n_streams} streams, more than the limit of "
            f"{limits.max_streams}"
        )
    for i, length in enumerate(raw.stream_lengths):
        if length > limits.max_stream_bytes:
            raise LimitError(
                f"stream {i} is {length} bytes, more than the limit of "
                f"{limits.max_stream_bytes} bytes"
            )
    return Header(
        model_id=raw.model_id,
        weights_id=raw.weights_id,
        coder_id=raw.coder_id,
        width=raw.width,
        height=raw.height,
        mode=ColorMode(raw.mode),
        quality=raw.quality,
        symbol_crc=raw.symbol_crc,
    )


def _crc_matches_at(data: bytes, end: int) -> bool:
    """Whether the 4 bytes ending at `end` are the CRC32 of everything before them."""
    if end < _CRC.size or end > len(data):
        return False
    (stored,) = _CRC.unpack_from(data, end - _CRC.size)
    # A memoryview avoids copying the (possibly large) body just to checksum it.
    return bool(zlib.crc32(memoryview(data)[: end - _CRC.size]) == stored)


def _as_bytes(data: bytes | bytearray | memoryview) -> bytes:
    if isinstance(data, bytes):
        return data
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    raise TypeError(f"data must be bytes-like, got {type(data).__name__}")


def is_s2lic_file(source: str | os.PathLike[str] | bytes) -> bool:
    """Whether a file, or bytes, start with `MAGIC` (for hints and routing; never
    raises)."""
    if isinstance(source, bytes):
        return source.startswith(MAGIC)
    try:
        with open(source, "rb") as f:
            return f.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


def read_header(
    data: bytes | bytearray | memoryview, limits: Limits = _DEFAULT_LIMITS
) -> Header:
    """Decode and validate only the header of a container.

    The trailing CRC32 is not checked, so `data` may be just the first bytes of a
    file (`MAX_HEADER_SIZE` bytes always suffice). Use `unpack` to verify a file.

    Args:
        data: The file contents, or a prefix of them that holds the whole header.
        limits: Limits applied to the declared image and streams.

    Returns:
        The header.

    Raises:
        FormatError: If `data` is not a valid `.s2lic` header.
        TruncatedError: If `data` ends inside the header.
        LimitError: If the declared image or streams exceed `limits`.
    """
    data = _as_bytes(data)
    version = _check_magic_and_version(data)
    try:
        raw = _parse_header(data, version)
    except _MalformedHeader as e:
        raise FormatError(f"invalid .s2lic header: {e.detail}") from None
    return _validate(raw, limits)


def unpack(
    data: bytes | bytearray | memoryview, limits: Limits = _DEFAULT_LIMITS
) -> Container:
    """Decode and verify a complete `.s2lic` file.

    The checks run in the order that names the likeliest cause (see
    ``docs/format.md``, "Reading a file"): magic, then version, then the
    header structure, then the file length against the declared stream lengths
    (truncation and trailing data), then the CRC32, and only then field values and
    limits, so that a flipped bit is reported as corruption rather than as an odd
    field value.

    Args:
        data: The whole file.
        limits: Limits applied to the declared image and streams.

    Returns:
        The header and the stream payloads.

    Raises:
        FormatError: If `data` is not a valid container (bad magic,
            unsupported version, invalid field, trailing data).
        TruncatedError: If `data` ends before the declared header or streams.
        ChecksumError: If the CRC32 does not match (the file is corrupted).
        LimitError: If the declared image or streams exceed `limits`.
    """
    data = _as_bytes(data)
    version = _check_magic_and_version(data)
    try:
        raw = _parse_header(data, version)
    except _MalformedHeader as e:
        # A broken structural rule in a file whose CRC32 fails is far likelier a
        # flipped bit than a writer bug; only a sealed file gets the specific message.
        if _crc_matches_at(data, len(data)):
            raise FormatError(f"invalid .s2lic header: {e.detail}") from None
        raise ChecksumError(
            f"file is corrupted: CRC32 mismatch, and {e.detail}"
        ) from None

    total = raw.size + sum(raw.stream_lengths) + _CRC.size
    if len(data) < total:
        if _crc_matches_at(data, len(data)):
            raise FormatError(
                f"invalid .s2lic file: the header declares {total} bytes but the "
                f"file has {len(data)} bytes and an intact CRC32"
            )
        raise TruncatedError(
            f"truncated .s2lic file: it has {len(data)} of the {total} bytes its "
            "header declares (it was cut short, or its header is corrupted)"
        )
    if len(data) > total:
        if _crc_matches_at(data, total):
            raise FormatError(
                f"invalid .s2lic file: {len(data) - total} bytes of trailing data "
                f"follow the {total}-byte container"
            )
        if _crc_matches_at(data, len(data)):
            raise FormatError(
                f"invalid .s2lic file: the header declares {total} bytes but the "
                f"file has {len(data)} bytes and an intact CRC32"
            )
        raise ChecksumError(
            "file is corrupted: CRC32 mismatch (and the file is longer than its "
            "header declares)"
        )
    if not _crc_matches_at(data, total):
        (stored,) = _CRC.unpack_from(data, total - _CRC.size)
        computed = zlib.crc32(memoryview(data)[: total - _CRC.size])
        raise ChecksumError(
            f"file is corrupted: CRC32 mismatch (stored 0x{stored:08x}, "
            f"computed 0x{computed:08x})"
        )

    header = _validate(raw, limits)
    streams = []
    pos = raw.size
    for length in raw.stream_lengths:
        streams.append(data[pos : pos + length])
        pos += length
    if raw.flags & FLAG_ADAPTATION:
        return Container(header, tuple(streams[:-1]), streams[-1])
    return Container(header=header, streams=tuple(streams))
