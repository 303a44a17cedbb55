"""Tests of the entropy-coder backends (`s2lic.entropy.coders`) on CompressAI tables."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from compressai.entropy_models import EntropyBottleneck, GaussianConditional
from hypothesis import given, settings
from hypothesis import strategies as st

from s2lic.entropy.coders import (
    DEFAULT_CODER,
    CdfTable,
    EntropyCoder,
    RansCoder,
    TorchacCoder,
    _util,
    coder_from_id,
    get_coder,
    list_coders,
    rans,
    torchac_coder,
)
from s2lic.entropy.errors import CoderError

CODER_NAMES = ["rans", "torchac"]
Call = tuple[np.ndarray, np.ndarray]


def _table(cdf: torch.Tensor, length: torch.Tensor, offset: torch.Tensor) -> CdfTable:
    return CdfTable(
        cdf=cdf.numpy().astype(np.int32),
        cdf_length=length.numpy().astype(np.int32).reshape(-1),
        offset=offset.numpy().astype(np.int32).reshape(-1),
    )


@pytest.fixture(scope="module")
def gaussian_table() -> CdfTable:
    """64 log-spaced scales from 0.11 to 256, as CompressAI's hyperprior models use."""
    gauss = GaussianConditional(None)
    gauss.update_scale_table(
        torch.exp(torch.linspace(math.log(0.11), math.log(256), 64))
    )
    gauss.update()
    return _table(gauss._quantized_cdf, gauss._cdf_length, gauss._offset)


@pytest.fixture(scope="module")
def bottleneck_table() -> CdfTable:
    """An `EntropyBottleneck` table with rows of several lengths."""
    torch.manual_seed(0)
    bottleneck = EntropyBottleneck(16)
    with torch.no_grad():
        half = torch.linspace(1.0, 30.0, 16)
        bottleneck.quantiles[:, 0, 0] = -half
        bottleneck.quantiles[:, 0, 2] = half
    bottleneck.update(force=True)
    table = _table(
        bottleneck._quantized_cdf, bottleneck._cdf_length, bottleneck._offset
    )
    assert len(set(table.cdf_length.tolist())) > 4
    return table


@pytest.fixture(params=["gaussian", "bottleneck"])
def table(
    request: pytest.FixtureRequest, gaussian_table: CdfTable, bottleneck_table: CdfTable
) -> CdfTable:
    """Each realistic table in turn."""
    return gaussian_table if request.param == "gaussian" else bottleneck_table


@pytest.fixture(params=CODER_NAMES)
def coder(request: pytest.FixtureRequest) -> EntropyCoder:
    """Each backend in turn."""
    return get_coder(request.param)


def make_call(
    table: CdfTable, rng: np.random.Generator, n: int, escapes: float = 0.01
) -> Call:
    """`n` symbols drawn from their rows' pmfs, a fraction replaced by escapes."""
    idx = rng.integers(0, table.cdf.shape[0], n).astype(np.int32)
    length = table.cdf_length[idx].astype(np.int64)
    u = rng.integers(0, 1 << 16, n)
    s = np.array(
        [
            np.searchsorted(table.cdf[r, :m], v, side="right") - 1
            for r, m, v in zip(idx, length, u, strict=True)
        ],
        dtype=np.int64,
    ).reshape(-1)
    s = np.minimum(s, length - 3)  # the escape column is not a value
    esc = rng.random(n) < escapes
    far = rng.integers(1, 10_000, n) * rng.choice([-1, 1], n)
    s = np.where(esc, np.where(far < 0, far, length - 2 + far), s)
    sym = (s + table.offset[idx]).astype(np.int32)
    if n >= 4:
        # Always include the extremes and both borders of the escape mechanism.
        sym[:4] = [10_000, -10_000, table.offset[idx[2]], table.offset[idx[3]] - 1]
    return sym, idx


def round_trip(
    coder: EntropyCoder, table: CdfTable, calls: list[Call]
) -> tuple[bytes, list[np.ndarray]]:
    """Encode `calls`, decode them back; return the bytes and the decoded calls."""
    enc = coder.encoder(table)
    for sym, idx in calls:
        enc.encode(sym, idx)
    data = enc.finish()
    dec = coder.decoder(table, data)
    return data, [dec.decode(idx) for _, idx in calls]


def assert_same(calls: list[Call], decoded: list[np.ndarray]) -> None:
    """Decoded calls equal the originals, as int32 arrays of the same shape."""
    assert len(calls) == len(decoded)
    for (sym, _), out in zip(calls, decoded, strict=True):
        assert out.dtype == np.int32
        assert out.shape == sym.shape
        np.testing.assert_array_equal(out, sym)


# --- round trips -------------------------------------------------------------------


def test_round_trip_several_calls(coder: EntropyCoder, table: CdfTable) -> None:
    rng = np.random.default_rng(1)
    calls = [make_call(table, rng, n) for n in (0, 1, 700, 3000, 0, 5, 2)]
    _, decoded = round_trip(coder, table, calls)
    assert_same(calls, decoded)


def test_round_trip_gaussian_latents(
    coder: EntropyCoder, gaussian_table: CdfTable
) -> None:
    """Symbols from the scales their indexes stand for, as a hyperprior model codes."""
    rng = np.random.default_rng(2)
    scales = np.exp(np.linspace(math.log(0.11), math.log(256), 64))
    calls = []
    for _ in range(4):
        idx = np.minimum(rng.geometric(0.08, 4000) - 1, 63).astype(np.int32)
        calls.append((np.round(rng.normal(0, scales[idx])).astype(np.int32), idx))
    _, decoded = round_trip(coder, gaussian_table, calls)
    assert_same(calls, decoded)


@pytest.mark.parametrize(
    "value",
    [
        0,
        1,
        -1,
        10_000,
        -10_000,
        _util.MAX_SYMBOL_MAGNITUDE,
        -_util.MAX_SYMBOL_MAGNITUDE,
    ],
)
def test_single_symbol(
    coder: EntropyCoder, gaussian_table: CdfTable, value: int
) -> None:
    calls = [(np.array([value], np.int32), np.array([5], np.int32))]
    _, decoded = round_trip(coder, gaussian_table, calls)
    assert_same(calls, decoded)


def test_empty_stream(coder: EntropyCoder, gaussian_table: CdfTable) -> None:
    empty = np.zeros(0, np.int32)
    data, decoded = round_trip(coder, gaussian_table, [(empty, empty), (empty, empty)])
    assert len(data) <= 1
    assert_same([(empty, empty)] * 2, decoded)


def test_far_escapes_every_row(coder: EntropyCoder, table: CdfTable) -> None:
    """Values far outside every row, and the values just around each row's range."""
    k = table.cdf.shape[0]
    idx = np.repeat(np.arange(k, dtype=np.int32), 6)
    low = table.offset.astype(np.int64)[idx]
    high = low + table.cdf_length.astype(np.int64)[idx] - 2  # escape column's value
    sym = np.stack([low - 1, low, high - 1, high, low - 10_000, high + 10_000], axis=0)
    sym = sym[:, ::6].T.reshape(-1).astype(np.int32)
    calls = [(sym, idx), (sym[::-1].copy(), idx)]
    _, decoded = round_trip(coder, table, calls)
    assert_same(calls, decoded)


def test_multidimensional_calls(coder: EntropyCoder, gaussian_table: CdfTable) -> None:
    rng = np.random.default_rng(3)
    sym, idx = make_call(gaussian_table, rng, 24)
    calls = [(sym.reshape(2, 3, 4), idx.reshape(2, 3, 4))]
    _, decoded = round_trip(coder, gaussian_table, calls)
    assert_same(calls, decoded)


def test_encoding_is_deterministic(coder: EntropyCoder, table: CdfTable) -> None:
    rng = np.random.default_rng(4)
    calls = [make_call(table, rng, 500) for _ in range(3)]
    assert round_trip(coder, table, calls)[0] == round_trip(coder, table, calls)[0]


def test_both_coders_agree(table: CdfTable) -> None:
    rng = np.random.default_rng(5)
    calls = [make_call(table, rng, n, escapes=0.001) for n in (2000, 0, 4000, 1)]
    sizes = {}
    for name in CODER_NAMES:
        data, decoded = round_trip(get_coder(name), table, calls)
        assert_same(calls, decoded)
        sizes[name] = len(data)
    # Same probabilities: only framing, flushes and escape coding differ.
    assert abs(sizes["torchac"] - sizes["rans"]) <= 0.02 * sizes["rans"] + 16


_calls_strategy = st.lists(
    st.lists(
        st.tuples(
            st.integers(0, 63),
            st.one_of(
                st.integers(-3, 3),
                st.integers(-3000, 3000),
                st.integers(-_util.MAX_SYMBOL_MAGNITUDE, _util.MAX_SYMBOL_MAGNITUDE),
            ),
        ),
        max_size=40,
    ),
    max_size=5,
)


@pytest.mark.parametrize("name", CODER_NAMES)
@settings(max_examples=40, deadline=None, derandomize=True)
@given(raw_calls=_calls_strategy)
def test_round_trip_property(
    name: str, gaussian_table: CdfTable, raw_calls: list[list[tuple[int, int]]]
) -> None:
    calls = [
        (
            np.array([v for _, v in call], dtype=np.int32),
            np.array([i for i, _ in call], dtype=np.int32),
        )
        for call in raw_calls
    ]
    _, decoded = round_trip(get_coder(name), gaussian_table, calls)
    assert_same(calls, decoded)


# --- malformed input ---------------------------------------------------------------


def _decode_all(
    coder: EntropyCoder, table: CdfTable, data: bytes, calls: list[Call]
) -> None:
    """Decode garbage: a `CoderError` or int32 arrays of the right shapes, no crash."""
    try:
        dec = coder.decoder(table, data)
        for _, idx in calls:
            out = dec.decode(idx)
            assert out.dtype == np.int32 and out.shape == idx.shape
    except CoderError:
        pass


def test_malformed_input(coder: EntropyCoder, gaussian_table: CdfTable) -> None:
    rng = np.random.default_rng(6)
    calls = [make_call(gaussian_table, rng, n, escapes=0.02) for n in (3000, 1, 2000)]
    enc = coder.encoder(gaussian_table)
    for sym, idx in calls:
        enc.encode(sym, idx)
    data = enc.finish()
    garbage = [b"", b"\x00", b"\xff" * 3, b"\x00" * 64, b"\xff" * 5000]
    garbage += [rng.bytes(n) for n in (1, 7, 8, 100, 1000, len(data))]
    garbage += [data[:n] for n in rng.integers(0, len(data), 30)]
    for _ in range(30):
        flipped = bytearray(data)
        pos = rng.integers(0, len(data), rng.integers(1, 4))
        for p in pos:
            flipped[p] ^= 1 << rng.integers(0, 8)
        garbage.append(bytes(flipped))
    for bad in garbage:
        _decode_all(coder, gaussian_table, bad, calls)


def test_malformed_input_large_request(
    coder: EntropyCoder, gaussian_table: CdfTable
) -> None:
    """Many symbols requested from a short garbage stream stay bounded."""
    idx = np.random.default_rng(7).integers(0, 64, 200_000).astype(np.int32)
    header = bytearray()
    _util.write_uvarint(header, 400 if coder.name == "torchac" else 400_000)
    for fill in (b"\xff", b"\x00", b"\xf0"):
        # Valid framing around garbage: rANS symbol count / torchac segment lengths.
        if coder.name == "torchac":
            bad = (bytes(header) + fill * 400) * 300
        else:
            bad = bytes(header) + fill * 400
        _decode_all(coder, gaussian_table, bad, [(idx, idx), (idx, idx)])


def test_rans_rejects_bad_framing(gaussian_table: CdfTable) -> None:
    coder = RansCoder()
    with pytest.raises(CoderError, match="truncated"):
        coder.decoder(gaussian_table, b"\x05" + b"\x00" * 6)  # not whole words
    with pytest.raises(CoderError, match="no symbols"):
        coder.decoder(gaussian_table, b"\x00\x01")
    dec = coder.decoder(gaussian_table, b"\x03" + b"\x00" * 8)
    with pytest.raises(CoderError, match="holds 3 symbols"):
        dec.decode(np.zeros(4, np.int32))


def test_rans_decoder_grows_capacity(
    monkeypatch: pytest.MonkeyPatch, gaussian_table: CdfTable
) -> None:
    """Beyond its initial pad the decoder re-opens with a larger one and replays."""
    monkeypatch.setattr(rans, "_INITIAL_CAPACITY", 50)
    rng = np.random.default_rng(8)
    calls = [make_call(gaussian_table, rng, n) for n in (30, 40, 500, 10, 3000)]
    _, decoded = round_trip(RansCoder(), gaussian_table, calls)
    assert_same(calls, decoded)


def test_torchac_rejects_bad_framing(gaussian_table: CdfTable) -> None:
    idx = np.zeros(3, np.int32)
    with pytest.raises(CoderError, match="truncated"):
        TorchacCoder().decoder(gaussian_table, b"\x10abc").decode(idx)
    with pytest.raises(CoderError, match="overlong"):
        TorchacCoder().decoder(gaussian_table, b"\xff" * 8).decode(idx)


# --- memory bound and table conversion of torchac ------------------------------------


def test_torchac_segments_are_bounded(gaussian_table: CdfTable) -> None:
    """A 150k-symbol call with the widest rows never gathers more than the cap."""
    rng = np.random.default_rng(9)
    idx = np.where(rng.random(150_000) < 0.5, 63, rng.integers(0, 64, 150_000))
    lengths = gaussian_table.cdf_length.astype(np.int64)[idx]
    segments = torchac_coder._plan(lengths)
    covered = np.sort(np.concatenate([pos for pos, _ in segments]))
    np.testing.assert_array_equal(covered, np.arange(idx.size))
    for pos, lp in segments:
        assert pos.size * lp <= torchac_coder._MAX_CDF_ELEMENTS
        assert lengths[pos].max() <= lp
        assert np.all(np.diff(pos) > 0)


def test_torchac_small_chunks_round_trip(
    monkeypatch: pytest.MonkeyPatch, gaussian_table: CdfTable
) -> None:
    monkeypatch.setattr(torchac_coder, "_MAX_CDF_ELEMENTS", 5000)
    monkeypatch.setattr(torchac_coder, "_SPLIT_COST", 0)
    rng = np.random.default_rng(10)
    calls = [make_call(gaussian_table, rng, n) for n in (2000, 1)]
    _, decoded = round_trip(TorchacCoder(), gaussian_table, calls)
    assert_same(calls, decoded)


def test_torchac_keeps_table_probabilities(table: CdfTable) -> None:
    """Only each row's most probable symbol loses one count (of 65536)."""
    converted = torchac_coder._TorchacTable(_util.prepare_table(table))
    cdf = converted.cdf.view(np.uint16).astype(np.int64)
    for row, length in enumerate(table.cdf_length.tolist()):
        original = np.diff(table.cdf[row, :length].astype(np.int64))[:-1]
        ours = np.diff(cdf[row, :length])[:-1]  # symbols 0 .. length - 3
        ours_esc = 65535 - cdf[row, length - 2]
        both = np.append(ours, ours_esc)
        full = np.append(original, 65536 - table.cdf[row, length - 2])
        assert np.count_nonzero(both != full) == 1
        assert both[np.argmax(full)] == full.max() - 1
        assert np.all(cdf[row, length - 1 :] == 65535)


def test_torchac_import_keeps_stdout_clean(gaussian_table: CdfTable) -> None:
    """Loading torchac's extension must not print to stdout (bitstreams go there)."""
    script = textwrap.dedent(
        """
        import numpy as np
        from s2lic.entropy.coders import CdfTable, get_coder
        table = CdfTable(np.array([[0, 30000, 65536]], np.int32),
                         np.array([3], np.int32), np.array([0], np.int32))
        enc = get_coder("torchac").encoder(table)
        enc.encode(np.array([0], np.int32), np.array([0], np.int32))
        enc.finish()
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, timeout=120, check=True
    )
    assert result.stdout == b""


# --- input validation and registry -------------------------------------------------


def test_rejects_out_of_range_indexes(
    coder: EntropyCoder, gaussian_table: CdfTable
) -> None:
    enc = coder.encoder(gaussian_table)
    with pytest.raises(ValueError, match="indexes"):
        enc.encode(np.zeros(2, np.int32), np.array([0, 64], np.int32))
    with pytest.raises(ValueError, match="indexes"):
        enc.encode(np.zeros(2, np.int32), np.array([-1, 0], np.int32))
    with pytest.raises(ValueError, match="shape"):
        enc.encode(np.zeros(2, np.int32), np.zeros(3, np.int32))
    enc.encode(np.zeros(2, np.int32), np.zeros(2, np.int32))
    dec = coder.decoder(gaussian_table, enc.finish())
    with pytest.raises(ValueError, match="indexes"):
        dec.decode(np.array([0, 64], np.int32))


def test_rejects_huge_symbols(coder: EntropyCoder, gaussian_table: CdfTable) -> None:
    enc = coder.encoder(gaussian_table)
    too_big = _util.MAX_SYMBOL_MAGNITUDE + 1
    for value in (too_big, -too_big, 2**31 - 1):
        with pytest.raises(CoderError, match="too large"):
            enc.encode(np.array([value], np.int64), np.array([0], np.int32))


def test_rejects_malformed_tables(
    coder: EntropyCoder, gaussian_table: CdfTable
) -> None:
    good = gaussian_table
    bad_tables = [
        CdfTable(good.cdf[:, ::-1].copy(), good.cdf_length, good.offset),
        CdfTable(good.cdf, good.cdf_length + 1, good.offset),
        CdfTable(good.cdf, good.cdf_length[:3], good.offset),
        CdfTable(good.cdf.astype(np.float32), good.cdf_length, good.offset),
        CdfTable(np.array([[0, 5, 5, 65536]]), np.array([4]), np.array([0])),
    ]
    for bad in bad_tables:
        with pytest.raises(ValueError):
            coder.encoder(bad)


def test_encoder_single_use(coder: EntropyCoder, gaussian_table: CdfTable) -> None:
    enc = coder.encoder(gaussian_table)
    enc.finish()
    with pytest.raises(RuntimeError):
        enc.encode(np.zeros(1, np.int32), np.zeros(1, np.int32))
    with pytest.raises(RuntimeError):
        enc.finish()


def test_registry() -> None:
    assert list_coders() == ["rans", "torchac"]
    assert DEFAULT_CODER in list_coders()
    for name in list_coders():
        coder = get_coder(name)
        assert coder.name == name
        assert coder_from_id(coder.coder_id).name == name
    assert {get_coder(n).coder_id for n in list_coders()} == {1, 2}


def test_registry_errors() -> None:
    with pytest.raises(CoderError, match="rans, torchac"):
        get_coder("huffman")
    with pytest.raises(CoderError, match="id 7"):
        coder_from_id(7)
    with pytest.raises(CoderError):
        coder_from_id(0)


# --- shared helpers ----------------------------------------------------------------


@settings(max_examples=60, deadline=None, derandomize=True)
@given(values=st.lists(st.integers(0, 2**35 - 1), max_size=50))
def test_varints_round_trip(values: list[int]) -> None:
    vectorised = _util.encode_uvarints(np.array(values, dtype=np.uint64))
    scalar = bytearray()
    for v in values:
        _util.write_uvarint(scalar, v)
    assert vectorised == bytes(scalar)
    decoded, end = _util.decode_uvarints(b"x" + vectorised, 1, len(values))
    assert decoded.tolist() == values and end == len(vectorised) + 1
    pos = 0
    for v in values:
        got, pos = _util.read_uvarint(vectorised, pos)
        assert got == v


def test_varints_reject_garbage() -> None:
    with pytest.raises(CoderError):
        _util.read_uvarint(b"\x80\x80", 0)
    with pytest.raises(CoderError):
        _util.read_uvarint(b"\xff" * 6, 0)
    with pytest.raises(CoderError):
        _util.decode_uvarints(b"\x01\x02", 0, 3)
    with pytest.raises(CoderError):
        _util.decode_uvarints(b"\xff" * 6 + b"\x01", 0, 1)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    length=st.integers(2, 4000),
    s=st.one_of(st.integers(-(2**27), -1), st.integers(0, 2**27)),
)
def test_escape_codes_round_trip(length: int, s: int) -> None:
    if 0 <= s < length - 2:
        s = length - 2 + s  # an escaped value above the range
    lengths = np.array([length], np.int64)
    codes = _util.escape_codes(np.array([s], np.int64), lengths)
    assert _util.unescape_codes(codes, lengths).tolist() == [s]
