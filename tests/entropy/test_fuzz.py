"""Fuzzing the container parser and the full decoder (short version for CI).

Hostile input must end in a typed `S2LICError` (or, for a benign change, a decoded
image of the size and mode its header declares): never another exception, a hang or
a huge allocation. Raw mutations test `unpack`; *sealed* mutations (``tests/fuzzing``)
recompute the file's CRC32 so that corrupted streams reach the entropy decoders and
the networks of the tiny model. ``benchmarks/fuzz_decoder.py`` is the long run.
"""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from s2lic.cli.__main__ import main
from s2lic.codec import api
from s2lic.codec.image import to_planes
from s2lic.codec.memory import decode_memory_bytes
from s2lic.codec.registry import get_spec
from s2lic.entropy.bitstream import (
    MAGIC,
    Container,
    Limits,
    pack,
    read_header,
    unpack,
)
from s2lic.entropy.errors import FormatError, LimitError, S2LICError
from tests.fuzzing import (
    MUTATORS,
    Mutator,
    _encode_varint_any,
    make_seeds,
    reseal,
)

TINY = "s2lic-tiny"
# Decodes of mutated headers may declare large images; this keeps each fuzzed decode
# of the tiny model well under a second and a few hundred MB.
FUZZ_LIMITS = Limits(max_decode_bytes=256 * 2**20)
RAW = [m for m in MUTATORS if not m.sealed]
SEALED = [m for m in MUTATORS if m.sealed]


def fuzz(examples: int) -> settings:
    """Bounded, reproducible runs (CI must not flake); no per-example deadline."""
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow],
    )


def _encode(image: object, **kw: object) -> bytes:
    return api.encode(image, model=TINY, **kw).data  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def seeds() -> list[tuple[bytes, np.ndarray]]:
    """Valid tiny-model files (all modes, both coders) and their decoded pixels."""
    files = make_seeds(_encode, 8, seed=1)
    return [(f, np.asarray(api.decode(f).image)) for f in files]


def _check_decoded(data: bytes, result: api.DecodeResult) -> None:
    header = unpack(data, FUZZ_LIMITS).header
    assert result.image.size == (header.width, header.height)
    assert to_planes(result.image).mode == header.mode


def test_seeds_decode_bit_exactly(seeds: list[tuple[bytes, np.ndarray]]) -> None:
    """The fuzzer's starting points are valid: they repack and decode identically."""
    for data, pixels in seeds:
        assert pack(unpack(data)) == data
        assert np.array_equal(np.asarray(api.decode(data).image), pixels)


@fuzz(300)
@given(st.binary(max_size=200), st.booleans())
def test_parser_random_bytes(data: bytes, with_magic: bool) -> None:
    if with_magic:
        data = MAGIC + b"\x01" + data
    for parse in (unpack, read_header):
        try:
            parse(data)
        except S2LICError:
            pass
    # A sealed body gets past the CRC32, so its fields are checked one by one.
    try:
        unpack(reseal(data))
    except S2LICError:
        pass


@fuzz(300)
@given(st.integers(0, 2**32 - 1), st.sampled_from(RAW))
def test_parser_raw_mutations_are_rejected(
    seeds: list[tuple[bytes, np.ndarray]], rnd: int, mutator: Mutator
) -> None:
    """Truncations, bit flips, splices and trailing data never pass the container."""
    rng = random.Random(rnd)
    seed = seeds[rnd % len(seeds)][0]
    data = mutator.fn(rng, seed)
    if data == seed:
        return
    with pytest.raises(FormatError):
        unpack(data)
    with pytest.raises(FormatError):
        api.decode(data)


@fuzz(1200)
@given(st.integers(0, 2**32 - 1), st.sampled_from(SEALED))
def test_decoder_sealed_mutations(
    seeds: list[tuple[bytes, np.ndarray]], rnd: int, mutator: Mutator
) -> None:
    """Corrupted streams and fields behind a valid CRC32: a typed error or an image."""
    rng = random.Random(rnd)
    seed = seeds[rnd % len(seeds)][0]
    data = mutator.fn(rng, seed)
    try:
        result = api.decode(data, limits=FUZZ_LIMITS)
    except S2LICError:
        return
    _check_decoded(data, result)


def _abusive(seed: bytes, width: int, height: int, model_id: int = 3) -> bytes:
    """`seed` resized in its header, with streams that claim 2**34 symbols each.

    Such streams get past the coders' symbol-count checks, so without a memory check
    the decoder would go on to allocate tensors for the whole declared image.
    """
    c = unpack(seed)
    streams = tuple(
        _encode_varint_any(2**34) + b"\x00\x00\x00\x80" * 4 for _ in c.streams
    )
    header = replace(c.header, width=width, height=height, model_id=model_id)
    return pack(Container(header, streams))


def test_thin_image_is_refused_before_allocating(
    seeds: list[tuple[bytes, np.ndarray]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: 1 x 1e6 pixels is far under max_pixels, but padded to 64 x 1e6 its
    decode needed ~25 GB (torch raised RuntimeError, or the process was killed)."""
    seed = next(d for d, px in seeds if px.ndim == 3 and px.shape[2] == 3)
    data = _abusive(seed, 1, 1_000_000)

    def no_model(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model must not be loaded")

    monkeypatch.setattr(api, "get_codec", no_model)
    with pytest.raises(LimitError, match="GiB of memory"):
        api.decode(data, limits=Limits(max_decode_bytes=2**30))
    # The default limit is the machine's memory; this one would need ~1 TB.
    with pytest.raises(LimitError, match="memory"):
        api.decode(_abusive(seed, 1, 39_000_000))
    # The check runs before any model, also a large one, is loaded.
    with pytest.raises(LimitError, match="s2lic-paper"):
        api.decode(_abusive(seed, 4000, 3000, model_id=1), limits=FUZZ_LIMITS)


def test_abusive_streams_within_the_memory_limit_fail_cleanly(
    seeds: list[tuple[bytes, np.ndarray]],
) -> None:
    """Under the limit the same garbage decodes as far as the symbol checksum."""
    seed = seeds[0][0]
    with pytest.raises(S2LICError):
        api.decode(_abusive(seed, 200, 150), limits=FUZZ_LIMITS)


def test_memory_estimate_bounds_measurements() -> None:
    """The estimate stays above the peaks measured in docs/reliability.md."""
    measured = {"s2lic-tiny": 330, "s2lic-s": 990}  # bytes per padded pixel
    for name, per_pixel in measured.items():
        cfg = get_spec(name).config
        assert decode_memory_bytes(cfg, 1024, 1024) >= per_pixel * 1024 * 1024
        assert decode_memory_bytes(cfg, 1024, 1024) < 3 * per_pixel * 1024 * 1024
        assert decode_memory_bytes(cfg, 64, 128) == pytest.approx(
            2 * decode_memory_bytes(cfg, 64, 64), rel=1e-6
        )


def test_max_decode_bytes_is_validated() -> None:
    assert Limits().max_decode_bytes is None
    with pytest.raises(ValueError):
        Limits(max_decode_bytes=0)
    with pytest.raises(TypeError):
        Limits(max_decode_bytes=1.5)  # type: ignore[arg-type]


def test_wrong_stream_count_is_a_format_error(
    seeds: list[tuple[bytes, np.ndarray]],
) -> None:
    c = unpack(seeds[0][0])
    extra = pack(Container(c.header, (*c.streams, b"", b"")))
    with pytest.raises(FormatError, match="streams"):
        api.decode(extra)


def test_cli_reports_memory_limit_in_one_line(
    seeds: list[tuple[bytes, np.ndarray]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`s2lic decode` turns the memory refusal into its one-line error, exit 1."""
    path = tmp_path / "thin.s2lic"
    path.write_bytes(_abusive(seeds[0][0], 1, 39_000_000))
    assert main(["decode", str(path), "-o", str(tmp_path / "out.png")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("s2lic: error: ")
    assert "memory" in err and "Traceback" not in err
    assert not (tmp_path / "out.png").exists()
