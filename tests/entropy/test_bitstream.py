"""Tests of the `.s2lic` container: round trips, golden files and hostile input.

Set ``S2LIC_REGENERATE=1`` to rewrite the golden files from the fixed fields below
(only after a deliberate format change, which also bumps FORMAT_VERSION).
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from s2lic.entropy.bitstream import (
    FLAG_ADAPTATION,
    FORMAT_VERSION,
    MAGIC,
    MAX_HEADER_SIZE,
    MAX_STREAMS,
    ColorMode,
    Container,
    Header,
    Limits,
    _read_varint,
    code_to_quality,
    encode_varint,
    is_s2lic_file,
    pack,
    quality_to_code,
    read_header,
    symbol_checksum,
    unpack,
)
from s2lic.entropy.errors import (
    ChecksumError,
    FormatError,
    LimitError,
    S2LICError,
    TruncatedError,
)

GOLDEN_DIR = Path(__file__).resolve().parents[1] / "golden"
REGENERATE = os.environ.get("S2LIC_REGENERATE") == "1"

# Reading limits that let every value the format can express through, so round trips
# test the format rather than the default limits.
NO_LIMITS = Limits(max_pixels=2**64, max_stream_bytes=2**32, max_streams=MAX_STREAMS)


def _payload(n: int, seed: int) -> bytes:
    return bytes((i * 37 + seed) % 256 for i in range(n))


# The golden containers: fixed fields and payloads chosen to exercise little-endian
# multi-byte fields, 1- and 2-byte varints and an empty stream.
GOLDEN: dict[str, Container] = {
    "container-v1-rgb.s2lic": Container(
        header=Header(
            model_id=1,
            weights_id=bytes.fromhex("5eed0001"),
            coder_id=1,
            width=768,
            height=512,
            mode=ColorMode.RGB,
            quality=quality_to_code(0.5),
            symbol_crc=symbol_checksum(np.arange(-8, 8, dtype=np.int32)),
        ),
        streams=(_payload(130, 11), _payload(40, 200)),
    ),
    "container-v1-rgba.s2lic": Container(
        header=Header(
            model_id=0x0201,
            weights_id=bytes.fromhex("deadbeef"),
            coder_id=2,
            width=4000,
            height=3,
            mode=ColorMode.RGBA,
            quality=65535,
            symbol_crc=0xFFFF_FFFF,
        ),
        streams=(_payload(5, 1), b"", _payload(150, 77)),
    ),
    "container-v2-adapted.s2lic": Container(
        header=Header(
            model_id=1,
            weights_id=bytes.fromhex("5eed0002"),
            coder_id=1,
            width=64,
            height=48,
            mode=ColorMode.RGB,
            quality=quality_to_code(0.25),
            symbol_crc=0x0BAD_F00D,
        ),
        streams=(_payload(20, 3), _payload(60, 9)),
        adaptation=_payload(33, 5),
    ),
}


def _golden_bytes(name: str) -> bytes:
    path = GOLDEN_DIR / name
    if REGENERATE:
        GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
        path.write_bytes(pack(GOLDEN[name]))
    return path.read_bytes()


def _seal(body: bytes) -> bytes:
    return body + struct.pack("<I", zlib.crc32(body))


def _raw(
    *,
    magic: bytes = MAGIC,
    version: int = 1,
    flags: int = 0,
    mode: int = 3,
    width: bytes = b"\x10",
    height: bytes = b"\x10",
    n_streams: int | None = None,
    lengths: bytes | None = None,
    payloads: tuple[bytes, ...] = (b"zz", b"yyy"),
    seal: bool = True,
) -> bytes:
    """Assemble a container byte by byte, allowing values that `pack` refuses."""
    body = (
        magic
        + bytes([version, flags])
        + struct.pack("<H", 7)
        + b"\x01\x02\x03\x04"
        + bytes([1, mode])
        + width
        + height
        + struct.pack("<HI", 1000, 0x12345678)
        + bytes([len(payloads) if n_streams is None else n_streams])
        + (
            b"".join(encode_varint(len(p)) for p in payloads)
            if lengths is None
            else lengths
        )
        + b"".join(payloads)
    )
    return _seal(body) if seal else body + b"\x00\x00\x00\x00"


VALID_RAW = _raw()


# --- golden files -------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden_pack_matches_file(name: str) -> None:
    assert pack(GOLDEN[name]) == _golden_bytes(name)


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden_unpack_gives_fields(name: str) -> None:
    container = unpack(_golden_bytes(name))
    assert container == GOLDEN[name]
    assert read_header(_golden_bytes(name)) == GOLDEN[name].header


def test_golden_rgb_bytes_follow_the_spec() -> None:
    """Rebuild the RGB golden file from docs/format.md by hand, without `pack`."""
    z, y = GOLDEN["container-v1-rgb.s2lic"].streams
    expected_header = (
        b"S2LC"  # magic
        + b"\x01"  # format version
        + b"\x00"  # flags
        + b"\x01\x00"  # model_id 1, u16 LE
        + b"\x5e\xed\x00\x01"  # weights_id
        + b"\x01"  # coder_id
        + b"\x03"  # mode RGB
        + b"\x80\x06"  # width 768 = 0b110_0000000 as LEB128
        + b"\x80\x04"  # height 512
        + b"\x00\x80"  # quality code 32768, u16 LE
        + struct.pack("<I", zlib.crc32(np.arange(-8, 8, dtype="<i4").tobytes()))
        + b"\x02"  # two streams
        + b"\x82\x01"  # len(z) = 130
        + b"\x28"  # len(y) = 40
    )
    assert len(expected_header) == 28
    body = expected_header + z + y
    assert _golden_bytes("container-v1-rgb.s2lic") == _seal(body)


def test_is_s2lic_file(tmp_path: Path) -> None:
    good = tmp_path / "a.s2lic"
    good.write_bytes(_golden_bytes("container-v1-rgb.s2lic"))
    other = tmp_path / "a.png"
    other.write_bytes(b"\x89PNG\r\n\x1a\n")
    short = tmp_path / "short"
    short.write_bytes(MAGIC[:2])
    assert is_s2lic_file(good) and is_s2lic_file(str(good))
    assert not is_s2lic_file(other) and not is_s2lic_file(short)
    assert not is_s2lic_file(tmp_path / "missing") and not is_s2lic_file(tmp_path)
    # Bytes (standard input) are checked the same way.
    assert is_s2lic_file(good.read_bytes()) and not is_s2lic_file(MAGIC[:2])
    assert not is_s2lic_file(other.read_bytes()) and not is_s2lic_file(b"")


def test_typical_header_size() -> None:
    # 768x512 RGB with a z stream < 128 bytes and a y stream < 16 KiB.
    header = GOLDEN["container-v1-rgb.s2lic"].header
    data = pack(Container(header, (b"z" * 100, b"y" * 2300)))
    assert len(data) - 2400 == 28 + 4  # 28-byte header, 4-byte trailing CRC32


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_every_truncation_is_truncated_error(name: str) -> None:
    data = _golden_bytes(name)
    for n in range(len(data)):
        with pytest.raises(TruncatedError):
            unpack(data[:n])


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_every_bit_flip_is_detected(name: str) -> None:
    data = _golden_bytes(name)
    for i in range(len(data) * 8):
        flipped = bytearray(data)
        flipped[i // 8] ^= 1 << (i % 8)
        # FormatError covers TruncatedError and ChecksumError; a LimitError would mean
        # a field was trusted before the CRC32 was checked.
        with pytest.raises(FormatError):
            unpack(bytes(flipped))


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_read_header_on_prefixes(name: str) -> None:
    data = _golden_bytes(name)
    header = GOLDEN[name].header
    sections = (*GOLDEN[name].streams, GOLDEN[name].adaptation or b"")
    header_size = len(data) - sum(map(len, sections)) - 4
    assert header_size <= MAX_HEADER_SIZE
    with pytest.raises(TruncatedError, match="empty"):
        read_header(b"")
    for n in range(1, header_size):
        with pytest.raises(TruncatedError, match=f"header ends after {n} bytes"):
            read_header(data[:n])
    assert read_header(data[:header_size]) == header
    assert read_header(data[:MAX_HEADER_SIZE]) == header


def test_read_header_truncated_message_names_field() -> None:
    data = _golden_bytes("container-v1-rgb.s2lic")
    with pytest.raises(TruncatedError) as exc:
        read_header(data[:10])
    assert str(exc.value) == (
        "truncated .s2lic file: the header ends after 10 bytes, "
        "inside the weights_id field"
    )


# --- round trips --------------------------------------------------------------------

headers = st.builds(
    Header,
    model_id=st.integers(0, 0xFFFF),
    weights_id=st.binary(min_size=4, max_size=4),
    coder_id=st.integers(0, 0xFF),
    width=st.integers(1, 2**32 - 1),
    height=st.integers(1, 2**32 - 1),
    mode=st.sampled_from(ColorMode),
    quality=st.integers(0, 0xFFFF),
    symbol_crc=st.integers(0, 2**32 - 1),
)
stream_tuples = st.lists(
    st.one_of(st.just(b""), st.binary(max_size=300)), min_size=1, max_size=MAX_STREAMS
).map(tuple)


@settings(max_examples=300, deadline=None)
@given(header=headers, streams=stream_tuples)
def test_round_trip(header: Header, streams: tuple[bytes, ...]) -> None:
    container = Container(header, streams)
    data = pack(container)
    assert unpack(data, NO_LIMITS) == container
    assert read_header(data, NO_LIMITS) == header
    assert data.startswith(MAGIC + bytes([1, 0]))


@settings(max_examples=100, deadline=None)
@given(
    header=headers,
    streams=stream_tuples.filter(lambda s: len(s) < MAX_STREAMS),
    adaptation=st.binary(max_size=200),
)
def test_round_trip_with_adaptation(
    header: Header, streams: tuple[bytes, ...], adaptation: bytes
) -> None:
    container = Container(header, streams, adaptation)
    data = pack(container)
    assert unpack(data, NO_LIMITS) == container
    assert read_header(data, NO_LIMITS) == header
    assert data.startswith(MAGIC + bytes([2, FLAG_ADAPTATION]))
    assert container.version == 2


def test_adaptation_takes_a_stream_slot() -> None:
    header = GOLDEN["container-v1-rgb.s2lic"].header
    with pytest.raises(ValueError, match="1..7 streams"):
        Container(header, (b"",) * MAX_STREAMS, b"x")
    with pytest.raises(TypeError, match="adaptation must be bytes"):
        Container(header, (b"",), "x")  # type: ignore[arg-type]


@settings(max_examples=50, deadline=None)
@given(header=headers)
def test_round_trip_large_stream(header: Header) -> None:
    # A length needing a 3-byte varint.
    container = Container(header, (b"", bytes(70_000)))
    assert unpack(pack(container), NO_LIMITS) == container


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (0, b"\x00"),
        (1, b"\x01"),
        (127, b"\x7f"),
        (128, b"\x80\x01"),
        (300, b"\xac\x02"),
        (16383, b"\xff\x7f"),
        (16384, b"\x80\x80\x01"),
        (2**32 - 1, b"\xff\xff\xff\xff\x0f"),
    ],
)
def test_varint_encoding(value: int, encoded: bytes) -> None:
    assert encode_varint(value) == encoded
    assert _read_varint(encoded + b"\xaa", 0, "x") == (value, len(encoded))


# --- error cases --------------------------------------------------------------------


def _cut(data: bytes, n: int) -> bytes:
    return data[:n]


ERROR_CASES: list[tuple[str, Callable[[], bytes], Limits, type[S2LICError], str]] = [
    ("empty", lambda: b"", Limits(), TruncatedError, "empty"),
    ("magic-prefix", lambda: b"S2", Limits(), TruncatedError, "magic field"),
    ("bad-magic", lambda: _raw(magic=b"S2LX"), Limits(), FormatError, "bad magic"),
    (
        "png",
        lambda: b"\x89PNG\r\n\x1a\n" + bytes(40),
        Limits(),
        FormatError,
        "PNG image",
    ),
    ("jpeg", lambda: b"\xff\xd8\xff\xe0" + bytes(40), Limits(), FormatError, "JPEG"),
    (
        "webp",
        lambda: b"RIFF\x10\x00\x00\x00WEBPVP8 " + bytes(20),
        Limits(),
        FormatError,
        "WebP",
    ),
    (
        "version-3",
        lambda: _raw(version=3),
        Limits(),
        FormatError,
        "version 3: this reader supports versions 1, 2; upgrade",
    ),
    ("v2-no-flag", lambda: _raw(version=2), Limits(), FormatError, "exactly 0x01"),
    (
        "v2-unknown-flag",
        lambda: _raw(version=2, flags=0x03),
        Limits(),
        FormatError,
        "flags 0x03",
    ),
    (
        "v2-section-alone",
        lambda: _raw(version=2, flags=0x01, payloads=(b"a",)),
        Limits(),
        FormatError,
        "needs an image stream",
    ),
    ("version-0", lambda: _raw(version=0), Limits(), FormatError, "version 0"),
    ("flags-low", lambda: _raw(flags=0x01), Limits(), FormatError, "reserved flag"),
    ("flags-high", lambda: _raw(flags=0x80), Limits(), FormatError, "0x80"),
    ("mode-0", lambda: _raw(mode=0), Limits(), FormatError, "colour mode 0"),
    ("mode-5", lambda: _raw(mode=5), Limits(), FormatError, "colour mode 5"),
    ("mode-255", lambda: _raw(mode=255), Limits(), FormatError, "colour mode 255"),
    ("width-0", lambda: _raw(width=b"\x00"), Limits(), FormatError, "at least 1"),
    ("height-0", lambda: _raw(height=b"\x00"), Limits(), FormatError, "at least 1"),
    (
        "too-many-pixels",
        lambda: _raw(width=encode_varint(100_000), height=encode_varint(1_000)),
        Limits(),
        LimitError,
        "100000000 pixels exceeds the limit of 40000000",
    ),
    (
        "max-dimensions",
        lambda: _raw(width=encode_varint(2**32 - 1), height=encode_varint(2**32 - 1)),
        Limits(),
        LimitError,
        "too large",
    ),
    (
        "pixels-custom-limit",
        lambda: _raw(),  # 16 x 16
        Limits(max_pixels=255),
        LimitError,
        "limit of 255 pixels",
    ),
    ("zero-streams", lambda: _raw(payloads=()), Limits(), FormatError, "0 streams"),
    (
        "nine-streams",
        lambda: _raw(payloads=(b"a",) * 9),
        Limits(),
        FormatError,
        "declares 9 streams but the format allows 1 to 8",
    ),
    (
        "streams-over-limit",
        lambda: _raw(payloads=(b"a", b"b", b"c")),
        Limits(max_streams=2),
        LimitError,
        "3 streams",
    ),
    (
        "stream-over-limit",
        lambda: _raw(payloads=(b"a", b"b" * 11)),
        Limits(max_stream_bytes=10),
        LimitError,
        "stream 1 is 11 bytes",
    ),
    (
        "header-cut",
        lambda: VALID_RAW[:17],
        Limits(),
        TruncatedError,
        "header ends after 17 bytes",
    ),
    (
        "payload-cut",
        lambda: VALID_RAW[:-5],
        Limits(),
        TruncatedError,
        "truncated .s2lic file",
    ),
    (
        "length-past-end-sealed",
        lambda: _raw(lengths=b"\x02\x09"),
        Limits(),
        FormatError,
        "intact CRC32",
    ),
    (
        "huge-length-sealed",
        lambda: _raw(lengths=b"\x02\xff\xff\xff\xff\x0f"),
        Limits(),
        FormatError,
        "intact CRC32",
    ),
    (
        "huge-length-cut",
        lambda: _raw(lengths=b"\x02\xff\xff\xff\xff\x0f", seal=False),
        Limits(),
        TruncatedError,
        "cut short",
    ),
    (
        "trailing-garbage",
        lambda: VALID_RAW + b"junk",
        Limits(),
        FormatError,
        "4 bytes of trailing data",
    ),
    (
        "concatenated",
        lambda: VALID_RAW + VALID_RAW,
        Limits(),
        FormatError,
        "trailing data",
    ),
    ("bad-crc", lambda: _raw(seal=False), Limits(), ChecksumError, "CRC32 mismatch"),
    (
        "payload-flip",
        lambda: VALID_RAW[:-5] + b"\x00" + VALID_RAW[-4:],
        Limits(),
        ChecksumError,
        "file is corrupted: CRC32 mismatch",
    ),
    (
        "length-shortened",
        lambda: _raw(lengths=b"\x02\x02", seal=False),
        Limits(),
        ChecksumError,
        "CRC32 mismatch",
    ),
    (
        "non-minimal-varint",
        lambda: _raw(width=b"\x90\x00"),
        Limits(),
        FormatError,
        "width varint is not minimally encoded",
    ),
    (
        "non-minimal-varint-unsealed",
        lambda: _raw(width=b"\x90\x00", seal=False),
        Limits(),
        ChecksumError,
        "CRC32 mismatch, and the width varint",
    ),
    (
        "six-byte-varint",
        lambda: _raw(height=b"\x81\x80\x80\x80\x80\x00"),
        Limits(),
        FormatError,
        "height varint is longer than 5 bytes",
    ),
    (
        "varint-over-u32",
        lambda: _raw(lengths=b"\x02\x83\x80\x80\x80\x10"),
        Limits(),
        FormatError,
        "stream 1 length varint exceeds 2**32 - 1",
    ),
    (
        "stream-count-flipped",
        lambda: _raw(n_streams=0x82, seal=False),
        Limits(),
        ChecksumError,
        "130 streams",
    ),
]


@pytest.mark.parametrize(
    ("make", "limits", "error", "message"),
    [pytest.param(*case[1:], id=case[0]) for case in ERROR_CASES],
)
def test_unpack_errors(
    make: Callable[[], bytes],
    limits: Limits,
    error: type[S2LICError],
    message: str,
) -> None:
    with pytest.raises(S2LICError) as exc:
        unpack(make(), limits)
    assert type(exc.value) is error
    text = str(exc.value)
    assert message in text
    assert "\n" not in text
    assert text[:1].islower()  # The CLI prefixes it, e.g. "error: <message>".


@pytest.mark.parametrize(
    ("make", "limits", "error", "message"),
    [
        pytest.param(*case[1:], id=case[0])
        for case in ERROR_CASES
        # Cases that need the trailing CRC32 or the payloads, which read_header
        # does not look at.
        if case[0]
        not in {
            "payload-cut",
            "length-past-end-sealed",
            "huge-length-sealed",
            "huge-length-cut",
            "trailing-garbage",
            "concatenated",
            "bad-crc",
            "payload-flip",
            "length-shortened",
        }
    ],
)
def test_read_header_errors(
    make: Callable[[], bytes],
    limits: Limits,
    error: type[S2LICError],
    message: str,
) -> None:
    with pytest.raises(S2LICError) as exc:
        read_header(make(), limits)
    # Without the CRC32, read_header reports the specific problem even where unpack
    # reports corruption.
    if error is ChecksumError:
        assert type(exc.value) is FormatError
    else:
        assert type(exc.value) is error
        assert message in str(exc.value)


def test_valid_raw_is_valid() -> None:
    # Guards the error cases: each differs from a file that decodes.
    container = unpack(VALID_RAW)
    assert container.streams == (b"zz", b"yyy")
    assert container.header.width == container.header.height == 16
    assert pack(container) == VALID_RAW


def test_unpack_accepts_bytes_like() -> None:
    data = _golden_bytes("container-v1-rgb.s2lic")
    expected = GOLDEN["container-v1-rgb.s2lic"]
    assert unpack(bytearray(data)) == expected
    assert unpack(memoryview(data)) == expected
    assert all(type(s) is bytes for s in unpack(memoryview(data)).streams)


# --- fuzzing ------------------------------------------------------------------------


def _unpack_or_typed_error(data: bytes) -> None:
    try:
        container = unpack(data, NO_LIMITS)
    except S2LICError:
        return
    # The reader is strict, so anything it accepts is the canonical encoding.
    assert pack(container) == data


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=120))
def test_fuzz_random_bytes(data: bytes) -> None:
    _unpack_or_typed_error(data)
    try:
        read_header(data, NO_LIMITS)
    except S2LICError:
        pass


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=120))
def test_fuzz_random_bytes_after_magic(tail: bytes) -> None:
    data = MAGIC + bytes([FORMAT_VERSION, FLAG_ADAPTATION]) + tail
    _unpack_or_typed_error(data)
    try:
        read_header(data, NO_LIMITS)
    except S2LICError:
        pass


mutations = st.lists(
    st.tuples(
        st.sampled_from(["set", "insert", "delete"]),
        st.integers(0, 10_000),
        st.integers(0, 255),
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=1500, deadline=None)
@given(name=st.sampled_from(sorted(GOLDEN)), ops=mutations, reseal=st.booleans())
def test_fuzz_mutated_container(
    name: str, ops: list[tuple[str, int, int]], reseal: bool
) -> None:
    data = bytearray(pack(GOLDEN[name]))
    for op, pos, value in ops:
        i = pos % (len(data) + 1)
        if op == "insert":
            data.insert(i, value)
        elif data and op == "set":
            data[i % len(data)] = value
        elif data:
            del data[i % len(data)]
    if reseal and len(data) >= 4:
        # Recompute the CRC32 so the mutation reaches the field checks.
        data = bytearray(_seal(bytes(data[:-4])))
    _unpack_or_typed_error(bytes(data))
    for limits in (NO_LIMITS, Limits()):
        try:
            read_header(bytes(data), limits)
        except S2LICError:
            pass


# --- checksums, quality, fields -----------------------------------------------------


def test_symbol_checksum_hand_computed() -> None:
    a = np.array([1, -2], dtype=np.int64)
    b = np.array([[3], [4]], dtype=np.uint8)
    expected = zlib.crc32(bytes.fromhex("01000000feffffff0300000004000000"))
    assert expected == 0x5CB13F8F
    assert symbol_checksum(a, b) == expected
    # Values and order count, not shapes, dtypes or memory layout.
    assert symbol_checksum([1, -2, 3, 4]) == expected
    assert symbol_checksum(np.array([[1, 3], [-2, 4]], dtype=np.int16).T) == expected
    assert symbol_checksum(np.asfortranarray([[1, -2], [3, 4]])) == expected
    assert symbol_checksum(np.array([1, 99, -2, 99, 3, 99, 4])[::2]) == expected
    assert symbol_checksum(a, np.zeros((0, 5), np.int32), b) == expected
    assert symbol_checksum(b, a) != expected


def test_symbol_checksum_edges() -> None:
    assert symbol_checksum() == 0
    assert symbol_checksum(np.array([], dtype=np.float32)) == 0
    extremes = np.array([-(2**31), 2**31 - 1], dtype=np.int64)
    assert symbol_checksum(extremes) == zlib.crc32(bytes.fromhex("00000080ffffff7f"))
    with pytest.raises(ValueError, match="int32"):
        symbol_checksum(np.array([2**31]))
    with pytest.raises(ValueError, match="int32"):
        symbol_checksum(np.array([2**63], dtype=np.uint64))
    with pytest.raises(TypeError):
        symbol_checksum(np.array([1.0]))


def test_quality_codes() -> None:
    assert quality_to_code(0.0) == 0
    assert quality_to_code(1.0) == 65535
    assert quality_to_code(0.5) == 32768
    assert code_to_quality(65535) == 1.0
    assert all(quality_to_code(code_to_quality(c)) == c for c in range(65536))
    for bad in (-0.001, 1.001, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            quality_to_code(bad)
    for bad_code in (-1, 65536):
        with pytest.raises(ValueError):
            code_to_quality(bad_code)


def test_color_mode() -> None:
    assert [(m.has_alpha, m.color_channels, m.channels) for m in ColorMode] == [
        (False, 1, 1),
        (True, 1, 2),
        (False, 3, 3),
        (True, 3, 4),
    ]


_GOOD_FIELDS = {
    "model_id": 1,
    "weights_id": b"abcd",
    "coder_id": 1,
    "width": 2,
    "height": 2,
    "mode": ColorMode.L,
    "quality": 0,
    "symbol_crc": 0,
}


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("model_id", -1, ValueError),
        ("model_id", 65536, ValueError),
        ("weights_id", b"abc", ValueError),
        ("weights_id", b"abcde", ValueError),
        ("weights_id", "abcd", TypeError),
        ("coder_id", 256, ValueError),
        ("width", 0, ValueError),
        ("height", 2**32, ValueError),
        ("width", True, TypeError),
        ("height", 2.0, TypeError),
        ("mode", 0, ValueError),
        ("mode", 5, ValueError),
        ("quality", 65536, ValueError),
        ("symbol_crc", -1, ValueError),
        ("symbol_crc", 2**32, ValueError),
    ],
)
def test_header_validation(field: str, value: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        Header(**{**_GOOD_FIELDS, field: value})  # type: ignore[arg-type]


def test_header_coerces_int_mode() -> None:
    header = Header(**{**_GOOD_FIELDS, "mode": 4})  # type: ignore[arg-type]
    assert header.mode is ColorMode.RGBA


def test_container_validation() -> None:
    header = Header(**_GOOD_FIELDS)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Container(header, ())
    with pytest.raises(ValueError):
        Container(header, (b"",) * 9)
    with pytest.raises(TypeError):
        Container(header, b"abc")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Container(header, (5,))  # type: ignore[arg-type]
    streams = [bytearray(b"x")]
    assert Container(header, streams).streams == (b"x",)  # type: ignore[arg-type]


def test_limits_validation() -> None:
    with pytest.raises(ValueError):
        Limits(max_streams=9)
    with pytest.raises(ValueError):
        Limits(max_pixels=0)
    with pytest.raises(ValueError):
        Limits(max_stream_bytes=0)
