"""Inputs for fuzzing the `.s2lic` reader and decoder, shared by tests and benchmarks.

Every `.s2lic` file ends with a CRC32 of everything before it, so random mutations are
nearly all rejected by `unpack` at the checksum. Besides such *raw* mutations this
module makes *sealed* ones: it mutates header fields, stream counts, varints and stream
payloads and then recomputes the CRC32, so that the entropy decoders and the networks
see corrupted data that the container accepts.

Each mutator takes a `random.Random` and a valid seed file and returns new bytes; the
`Mutator` records whether its output can get past `unpack` (so it is worth running
through the full decoder) or is meant for the parser only.
"""

from __future__ import annotations

import random
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image

from s2lic.entropy import golomb
from s2lic.entropy.bitstream import (
    MAGIC,
    MAX_STREAMS,
    Container,
    Header,
    encode_varint,
    pack,
    unpack,
)

__all__ = [
    "MUTATORS",
    "Mutator",
    "make_seeds",
    "mutate",
    "reseal",
    "seed_image",
]

_U32_MAX = 0xFFFF_FFFF
# Model ids 1 and 2 would load the paper-size or shipped model (seconds, hundreds of
# MB) only to report other weights; the fuzzer keeps to the tiny model and unknown ids.
_MODEL_IDS = (3, 3, 3, 0, 4, 999, 0xFFFF)


def seed_image(rng: np.random.Generator, h: int, w: int, mode: str) -> Image.Image:
    """A random image of `mode` (L, LA, RGB, RGBA): smooth gradients plus noise."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    planes = [
        128
        + 90 * np.sin(xx / rng.uniform(3, 12) + c) * np.cos(yy / rng.uniform(3, 12))
        + rng.normal(0, 12, (h, w))
        for c in range(len(mode))
    ]
    arr = np.clip(np.stack(planes, -1), 0, 255).astype(np.uint8)
    return Image.fromarray(arr[..., 0] if mode == "L" else arr, mode)


def make_seeds(encode: Callable[..., bytes], count: int, seed: int = 0) -> list[bytes]:
    """`count` valid files: images 16x16..48x40 in every mode, both coders, every
    third one with an adaptation section (container v2).

    Args:
        encode: ``encode(image, quality=, coder=) -> bytes`` (e.g. the tiny model).
        count: number of files.
        seed: makes the set reproducible.
    """
    rng = np.random.default_rng(seed)
    modes = ("RGB", "L", "RGBA", "LA")
    out = []
    for i in range(count):
        h, w = int(rng.integers(16, 49)), int(rng.integers(16, 41))
        img = seed_image(rng, h, w, modes[i % len(modes)])
        coder = "rans" if i % 3 != 2 else "torchac"
        data = encode(img, quality=float(rng.uniform(0, 1)), coder=coder)
        if i % 3 == 1:
            c = unpack(data)
            section = adaptation_section(random.Random(i), scale=1.0)
            data = pack(Container(c.header, c.streams, section))
        out.append(data)
    return out


def reseal(body: bytes) -> bytes:
    """`body` followed by its CRC32: what a writer would produce for these bytes."""
    return body + struct.pack("<I", zlib.crc32(body))


def _flip_bits(rng: random.Random, data: bytes, max_flips: int = 8) -> bytes:
    if not data:
        return data
    out = bytearray(data)
    for _ in range(rng.randint(1, max_flips)):
        out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
    return bytes(out)


def _splice(rng: random.Random, data: bytes) -> bytes:
    """Overwrite, insert or delete a few bytes at a random place."""
    out = bytearray(data)
    pos = rng.randint(0, len(out))
    n = rng.randint(1, 8)
    op = rng.randrange(3)
    if op == 0:
        out[pos : pos + n] = rng.randbytes(n)
    elif op == 1:
        out[pos:pos] = rng.randbytes(n)
    else:
        del out[pos : pos + n]
    return bytes(out)


def _special_u32(rng: random.Random) -> int:
    return rng.choice(
        (0, 1, 2, 63, 64, 65, 127, 128, 16383, 16384, 2**21, 2**28, 2**31, _U32_MAX)
    )


# --- raw mutations: the trailing CRC32 is left as it is ------------------------------


def _raw_random(rng: random.Random, seed: bytes) -> bytes:
    data = rng.randbytes(rng.randint(0, 120))
    return MAGIC + b"\x01" + data if rng.random() < 0.5 else data


def _raw_truncate(rng: random.Random, seed: bytes) -> bytes:
    return seed[: rng.randrange(len(seed))]


def _raw_flip(rng: random.Random, seed: bytes) -> bytes:
    return _flip_bits(rng, seed)


def _raw_splice(rng: random.Random, seed: bytes) -> bytes:
    return _splice(rng, seed)


def _raw_trailing(rng: random.Random, seed: bytes) -> bytes:
    return seed + (seed if rng.random() < 0.3 else rng.randbytes(rng.randint(1, 16)))


# --- sealed mutations: the CRC32 is recomputed --------------------------------------


def _sealed_flip(rng: random.Random, seed: bytes) -> bytes:
    """Bit flips anywhere (header included), then a valid CRC32."""
    return reseal(_flip_bits(rng, seed[:-4], 3))


def _sealed_splice(rng: random.Random, seed: bytes) -> bytes:
    return reseal(_splice(rng, seed[:-4]))


def _sealed_truncate(rng: random.Random, seed: bytes) -> bytes:
    """Cut the body and seal it: lengths now point past the end."""
    return reseal(seed[: rng.randrange(len(seed) - 4)])


def _sealed_varints(rng: random.Random, seed: bytes) -> bytes:
    """Rewrite the header from `stream_count` on with abusive counts and varints."""
    c = unpack(seed)
    head = pack(c)[:14]
    h = c.header
    ints = [rng.choice((h.width, _special_u32(rng))), rng.choice((h.height, 1, 2**16))]
    varints = b"".join(encode_varint(v) for v in ints)
    if rng.random() < 0.3:  # overlong, non-minimal or above 2**32 - 1
        varints = rng.choice((b"\xff" * 6, b"\x80\x00", b"\xff\xff\xff\xff\x1f"))
    count = rng.choice((0, 1, 2, 3, MAX_STREAMS, MAX_STREAMS + 1, 255))
    lengths = [rng.choice((0, 1, len(s), _special_u32(rng))) for s in c.streams]
    lengths = (lengths * MAX_STREAMS)[: min(count, 64)]
    mid = struct.pack("<HIB", h.quality, h.symbol_crc, count)
    payload = b"".join(c.streams)
    return reseal(
        head + varints + mid + b"".join(map(encode_varint, lengths)) + payload
    )


def _with_header(rng: random.Random, h: Header) -> Header:
    """`h` with one to three fields changed to plausible or extreme values."""
    fields: dict[str, object] = {}
    for _ in range(rng.randint(1, 3)):
        name = rng.choice(
            ("width", "height", "mode", "quality", "coder_id", "model_id", "crc", "wid")
        )
        if name in ("width", "height"):
            old = getattr(h, name)
            fields[name] = rng.choice(
                (
                    max(1, old + rng.randint(-70, 70)),
                    rng.randint(1, 200),
                    rng.randint(1, 100_000),
                    _U32_MAX,
                )
            )
        elif name == "mode":
            fields["mode"] = rng.randint(1, 4)
        elif name == "quality":
            fields["quality"] = rng.choice((0, 0xFFFF, rng.randrange(0x10000)))
        elif name == "coder_id":
            fields["coder_id"] = rng.choice((1, 2, 1, 2, 0, 3, 255))
        elif name == "model_id":
            fields["model_id"] = rng.choice(_MODEL_IDS)
        elif name == "crc":
            fields["symbol_crc"] = rng.randrange(_U32_MAX + 1)
        else:
            fields["weights_id"] = rng.randbytes(4)
    return replace(h, **fields)  # type: ignore[arg-type]


def _mutate_stream(rng: random.Random, s: bytes) -> bytes:
    op = rng.randrange(8)
    if op == 0:
        return _flip_bits(rng, s, 4)
    if op == 1:
        return s[: rng.randint(0, len(s))]
    if op == 2:
        return s + rng.randbytes(rng.randint(1, 64))
    if op == 3:
        return rng.randbytes(rng.randint(0, 2 * len(s) + 8))
    if op == 4:
        return rng.choice((b"", b"\x00", b"\xff" * rng.randint(1, 64)))
    if op == 5:  # a huge symbol count in front of rANS data (varint abuse)
        n = rng.choice((2**20, 2**28, 2**35 - 1, rng.randrange(2**32)))
        return bytes(_encode_varint_any(n)) + s[1:]
    if op == 6:
        return _splice(rng, s)
    return bytes(b ^ 0xFF for b in s)


def _encode_varint_any(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _structured(rng: random.Random, seed: bytes) -> bytes:
    """Change header fields and/or streams through `Container`, then `pack`."""
    c = unpack(seed)
    header, streams = c.header, list(c.streams)
    if rng.random() < 0.4:
        header = _with_header(rng, header)
    if rng.random() < 0.7 or header == c.header:
        for _ in range(rng.randint(1, 2)):
            i = rng.randrange(len(streams))
            streams[i] = _mutate_stream(rng, streams[i])
    if rng.random() < 0.15:
        op = rng.randrange(3)
        if op == 0 and len(streams) > 1:
            streams.pop(rng.randrange(len(streams)))
        elif op == 1 and len(streams) < MAX_STREAMS:
            streams.append(rng.randbytes(rng.randint(0, 32)))
        else:
            streams[0], streams[-1] = streams[-1], streams[0]
    room = MAX_STREAMS - (c.adaptation is not None)
    return pack(Container(header, tuple(streams[:room]), c.adaptation))


# The tiny model's synthesis stage widths: a FiLM section's size depends on them.
_TINY_SYNTHESIS = (32, 16, 16)


def adaptation_section(rng: random.Random, scale: float = 3.0) -> bytes:
    """A valid adaptation section for the tiny model: a FiLM of random stages, a
    post-filter, or both, with Laplacian-ish parameters (docs/format.md)."""
    tools = []
    kinds = rng.choice(((1,), (2,), (1, 2)))
    for kind in kinds:
        if kind == 1:
            mask = rng.randint(1, 7)
            count = sum(2 * c for i, c in enumerate(_TINY_SYNTHESIS) if mask >> i & 1)
            arg = mask
        else:
            arg = rng.randint(1, 8)
            count = 3 * 3 * 9 + 3 + arg * 3 * 9 + arg + 3 * arg * 9 + 3
        values = [round(rng.gauss(0, scale)) for _ in range(count)]
        order = golomb.best_order(values)
        codes = golomb.encode(values, order)
        tools.append(
            bytes([kind, arg, rng.randint(6, 12), order])
            + encode_varint(len(codes))
            + codes
        )
    return bytes([1, len(tools)]) + b"".join(tools)


def _adapted(rng: random.Random, seed: bytes) -> bytes:
    """`seed` with an adaptation section: valid, corrupted or absurd."""
    c = unpack(seed)
    section = adaptation_section(rng)
    op = rng.randrange(8)
    if op == 1:
        section = _flip_bits(rng, section, 3)
    elif op == 2:
        section = section[: rng.randrange(len(section))]
    elif op == 3:
        section = _splice(rng, section)
    elif op == 4:  # an absurd code length or tool count
        section = section[:6] + _encode_varint_any(_special_u32(rng)) + section[7:]
    elif op == 5:
        section = bytes([rng.choice((0, 2, 255)), *section[1:]])
    elif op == 6:
        section = rng.randbytes(rng.randint(0, 64))
    elif op == 7:  # a FiLM of stage 0 (64 values) whose first value is too large
        bits = "0" * 25 + "1" * 26 + "1" * 63
        bits += "0" * (-len(bits) % 8)
        codes = int(bits, 2).to_bytes(len(bits) // 8, "big")
        section = bytes([1, 1, 1, 1, 8, 0]) + encode_varint(len(codes)) + codes
    room = MAX_STREAMS - 1
    return pack(Container(c.header, c.streams[:room], section))


@dataclass(frozen=True)
class Mutator:
    """A named mutation; `sealed` outputs can reach the decoder behind `unpack`."""

    name: str
    fn: Callable[[random.Random, bytes], bytes]
    sealed: bool


MUTATORS: tuple[Mutator, ...] = (
    Mutator("raw-random", _raw_random, False),
    Mutator("raw-truncate", _raw_truncate, False),
    Mutator("raw-flip", _raw_flip, False),
    Mutator("raw-splice", _raw_splice, False),
    Mutator("raw-trailing", _raw_trailing, False),
    Mutator("sealed-flip", _sealed_flip, True),
    Mutator("sealed-splice", _sealed_splice, True),
    Mutator("sealed-truncate", _sealed_truncate, True),
    Mutator("sealed-varints", _sealed_varints, True),
    Mutator("structured", _structured, True),
    Mutator("adaptation", _adapted, True),
)


def mutate(rng: random.Random, seed: bytes, mutator: Mutator | None = None) -> bytes:
    """One mutated input from `seed` (a random mutator unless one is given)."""
    m = mutator or rng.choice(MUTATORS)
    return m.fn(rng, seed)
