"""Signed exponential-Golomb codes of the adaptation section."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from s2lic.entropy import golomb
from s2lic.entropy.errors import FormatError

values = st.lists(st.integers(-5000, 5000), max_size=200)


@settings(max_examples=200, deadline=None)
@given(values=values, k=st.integers(0, golomb.MAX_ORDER))
def test_round_trip(values: list[int], k: int) -> None:
    data = golomb.encode(values, k)
    assert golomb.decode(data, len(values), k).tolist() == values


def test_codes_follow_the_definition() -> None:
    # zig-zag 0, -1, 1 -> 0, 2, 1; order 0: "1", "011", "010" -> 1011 010 + padding.
    assert golomb.encode([0, -1, 1], 0) == bytes([0b10110100])
    # order 2 of 0 is "100"; of 5 (zig-zag 9 -> 13 = 1101): "0" + "1101".
    assert golomb.encode([0, 5], 2) == bytes([0b10001101])


def test_best_order_is_the_shortest() -> None:
    rng = np.random.default_rng(0)
    v = np.round(rng.laplace(0, 20, 500)).astype(int)
    k = golomb.best_order(v)
    sizes = [len(golomb.encode(v, o)) for o in range(golomb.MAX_ORDER + 1)]
    assert len(golomb.encode(v, k)) == min(sizes)
    assert 3 <= k <= 5  # a Laplacian of scale 20 codes best near log2(20)


@pytest.mark.parametrize(
    ("data", "count", "k", "match"),
    [
        (b"", 1, 0, "end early"),
        (bytes([0b10000000]), 2, 0, "end early"),
        (bytes([0b10000000, 0]), 1, 0, "bytes after"),
        (bytes([0b10000001]), 1, 0, "bytes after"),
        (bytes(4) + b"\x80", 1, 0, "impossible"),
        (b"\x80", 1, 16, "order 16"),
    ],
)
def test_bad_data_is_a_format_error(
    data: bytes, count: int, k: int, match: str
) -> None:
    with pytest.raises(FormatError, match=match):
        golomb.decode(data, count, k)


def test_writer_refuses_what_it_cannot_code() -> None:
    with pytest.raises(ValueError, match="order"):
        golomb.encode([1], 16)
    with pytest.raises(ValueError, match="within"):
        golomb.encode([golomb.MAX_MAGNITUDE + 1], 0)
    with pytest.raises(TypeError, match="integers"):
        golomb.encode(np.array([0.5]), 0)
