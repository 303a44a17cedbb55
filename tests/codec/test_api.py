"""The public API: real bytes in and out, rate control, and every integrity check."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from s2lic.codec import api
from s2lic.codec.zoo import UnknownWeightsError, save_weights
from s2lic.entropy.bitstream import Container, pack, unpack
from s2lic.entropy.errors import ChecksumError, FormatError, S2LICError
from tests.conftest import smooth_image

TINY = {"model": "s2lic-tiny"}


@pytest.mark.parametrize("size", [(1, 1), (7, 3), (64, 64), (65, 130)])
@pytest.mark.parametrize("coder", ["rans", "torchac"])
def test_round_trip_any_size(size: tuple[int, int], coder: str) -> None:
    h, w = size
    img = Image.fromarray(smooth_image(h, w))
    enc = api.encode(img, quality=0.5, coder=coder, **TINY)
    assert enc.bpp == pytest.approx(8 * len(enc.data) / (h * w))
    dec = api.decode(enc.data)
    assert dec.image.size == (w, h) and dec.image.mode == "RGB"
    assert dec.header == enc.header
    # Same bytes, same image: decoding is deterministic.
    assert np.array_equal(np.asarray(api.decode(enc.data).image), np.asarray(dec.image))


def test_grayscale_and_alpha_modes() -> None:
    gray = Image.fromarray(smooth_image(40, 48)[..., 0])
    dec = api.decode(api.encode(gray, **TINY).data).image
    assert dec.mode == "L" and dec.size == gray.size
    rgba = np.dstack(
        [smooth_image(40, 48), np.tile(np.arange(48, dtype=np.uint8) * 5, (40, 1))]
    )
    out = api.decode(api.encode(Image.fromarray(rgba, "RGBA"), **TINY).data).image
    assert out.mode == "RGBA"
    assert np.array_equal(np.asarray(out)[..., 3], rgba[..., 3])  # alpha is lossless


def test_target_bpp() -> None:
    img = Image.fromarray(smooth_image(96, 128))
    low, high = (api.encode(img, quality=q, **TINY).bpp for q in (0.0, 1.0))
    target = (low + high) / 2
    enc = api.encode(img, bpp=target, **TINY)
    assert enc.bpp <= target
    # Bisection gets close: the next quality codes above would overshoot.
    assert enc.bpp > low
    with pytest.raises(ValueError, match="not both"):
        api.encode(img, quality=0.5, bpp=1.0, **TINY)


def test_quality_is_stored_exactly() -> None:
    img = Image.fromarray(smooth_image(32, 32))
    enc = api.encode(img, quality=0.3, **TINY)
    assert enc.quality == pytest.approx(0.3, abs=1 / 65535)


def test_close_rounding_calls_move_to_an_adjacent_quality(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    img = Image.fromarray(smooth_image(64, 64))
    plain = api.encode(img, quality=0.5, **TINY)
    seen: list[float] = []
    model = api.get_codec("s2lic-tiny", "cpu", None).model
    compress = model.compress_latent

    def spy(*args, **kw):  # type: ignore[no-untyped-def]
        enc = compress(*args, **kw)
        seen.append(enc.margin)
        return enc

    monkeypatch.setattr(model, "compress_latent", spy)
    monkeypatch.setattr(api, "SAFE_MARGIN", 1.0)  # no file is safe: try every nudge
    nudged = api.encode(img, quality=0.5, **TINY)
    assert len(seen) == 1 + len(api._NUDGES)
    assert abs(nudged.header.quality - plain.header.quality) <= 2
    best = max(range(len(seen)), key=seen.__getitem__)
    assert (nudged.header.quality == plain.header.quality) == (best == 0)
    dec = api.decode(nudged.data)  # whichever code was kept, it decodes
    assert dec.header == nudged.header
    seen.clear()
    monkeypatch.setattr(api, "SAFE_MARGIN", 0.0)
    assert api.encode(img, quality=0.5, **TINY).data == plain.data
    assert len(seen) == 1


def _tamper(data: bytes, **fields: object) -> bytes:
    c = unpack(data)
    return pack(Container(replace(c.header, **fields), c.streams))


def test_symbol_checksum_catches_desync() -> None:
    """A decoder whose symbols differ from the encoder's refuses instead of guessing."""
    enc = api.encode(Image.fromarray(smooth_image(64, 64)), **TINY)
    bad = _tamper(enc.data, symbol_crc=enc.header.symbol_crc ^ 1)
    with pytest.raises(ChecksumError, match="decoded symbols differ"):
        api.decode(bad)


def test_other_weights_are_refused(tmp_path: Path) -> None:
    enc = api.encode(Image.fromarray(smooth_image(64, 64)), **TINY)
    bad = _tamper(enc.data, weights_id=b"\0\0\0\0")
    with pytest.raises(UnknownWeightsError, match="no release of s2lic shipped"):
        api.decode(bad)
    # Given weights that are not the file's: refused, never decoded to garbage.
    loaded = api.get_codec("s2lic-tiny")
    path = tmp_path / "w.safetensors"
    save_weights(loaded.spec, loaded.model, path)
    with pytest.raises(api.WeightsMismatchError, match="other weights"):
        api.decode(enc.data, weights=str(path))


def test_corruption_and_truncation() -> None:
    data = api.encode(Image.fromarray(smooth_image(64, 64)), **TINY).data
    with pytest.raises(FormatError):
        api.decode(data[: len(data) // 2])
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0x10
    with pytest.raises(FormatError):
        api.decode(bytes(flipped))
    with pytest.raises(FormatError, match="PNG"):
        api.decode(b"\x89PNG\r\n\x1a\n" + bytes(40))


def test_stream_count_is_checked() -> None:
    enc = api.encode(Image.fromarray(smooth_image(64, 64)), **TINY)
    c = unpack(enc.data)
    with pytest.raises(S2LICError, match="streams"):
        api.decode(pack(Container(c.header, c.streams[:1])))


def test_describe() -> None:
    img = Image.fromarray(smooth_image(40, 56)).convert("LA")
    enc = api.encode(img, quality=0.3, model="s2lic-tiny", coder="torchac")
    info = api.describe(enc.data)
    assert (info["model"], info["model_id"]) == ("s2lic-tiny", enc.header.model_id)
    assert (info["coder"], info["width"], info["height"]) == ("torchac", 56, 40)
    assert info["mode"] == enc.header.mode.name and info["quality"] == enc.quality
    assert info["weights_id"] == enc.header.weights_id.hex()
    assert info["bytes"] == len(enc.data) and info["bpp"] == pytest.approx(enc.bpp)
    assert sum(info["streams"]) < len(enc.data) and len(info["streams"]) >= 3
    with pytest.raises(S2LICError):
        api.describe(enc.data[:-3])
