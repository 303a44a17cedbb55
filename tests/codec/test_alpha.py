"""Tests of `s2lic.codec.alpha`: lossless alpha planes, corrupt streams, bombs."""

from __future__ import annotations

import io
import lzma
import struct
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image, ImageDraw

from s2lic.codec import alpha as alpha_mod
from s2lic.codec.alpha import decode_alpha, encode_alpha
from s2lic.codec.image import ImageError
from tests.codec.test_image import rng_array


def binary_mask(height: int = 96, width: int = 128) -> np.ndarray:
    img = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(img)
    draw.ellipse((10, 8, 90, 80), fill=255)
    draw.rectangle((70, 40, 120, 90), fill=255)
    return np.asarray(img).copy()


ALPHA_CASES = {
    "random": rng_array((37, 53), seed=7),
    "opaque": np.full((40, 30), 255, np.uint8),
    "transparent": np.zeros((3, 5), np.uint8),
    "binary": binary_mask(),
    "gradient": np.tile(np.linspace(0, 255, 70).round().astype(np.uint8), (20, 1)),
    "one_pixel": np.array([[17]], np.uint8),
    "row": rng_array((1, 9), seed=8),
    "column": rng_array((9, 1), seed=9),
}


@pytest.mark.parametrize("name", sorted(ALPHA_CASES))
def test_alpha_round_trip(name):
    alpha = ALPHA_CASES[name]
    data = encode_alpha(alpha)
    back = decode_alpha(data, alpha.shape[1], alpha.shape[0])
    assert back.dtype == np.uint8 and back.shape == alpha.shape
    np.testing.assert_array_equal(back, alpha)


def test_alpha_constant_plane_is_tiny():
    assert encode_alpha(np.full((300, 400), 255, np.uint8)) == b"\x00\xff"


def test_alpha_beats_png_on_a_mask():

    mask = binary_mask(384, 512)
    png = io.BytesIO()
    Image.fromarray(mask).save(png, "PNG", optimize=True)
    assert len(encode_alpha(mask)) < len(png.getvalue())


@pytest.mark.parametrize("filter_type", [0, 1, 2, 3, 4])
def test_every_png_filter_decodes(filter_type):
    # Our numpy filters must match PNG's definition that Pillow's decoder undoes.
    alpha = np.concatenate([binary_mask(20, 30), rng_array((20, 30), seed=11)])
    lines = alpha_mod._scanlines(alpha, filter_type)
    payload = lzma.compress(
        lines.tobytes(),
        format=lzma.FORMAT_RAW,
        filters=alpha_mod._LZMA_ENCODE_FILTERS,
    )
    data = struct.pack("<BI", 1, zlib.crc32(alpha.tobytes())) + payload
    np.testing.assert_array_equal(decode_alpha(data, 30, 40), alpha)


@settings(max_examples=25, deadline=None)
@given(
    hnp.arrays(
        np.uint8,
        hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=24),
        elements=st.sampled_from([0, 1, 128, 254, 255]),
    )
)
def test_alpha_round_trip_property(alpha):
    data = encode_alpha(alpha)
    np.testing.assert_array_equal(
        decode_alpha(data, alpha.shape[1], alpha.shape[0]), alpha
    )


def corrupt_cases() -> dict[str, tuple[bytes, int, int]]:
    alpha = binary_mask(48, 64)
    good = encode_alpha(alpha)
    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 0x10
    wrong_crc = bytearray(good)
    wrong_crc[1] ^= 1
    return {
        "empty": (b"", 64, 48),
        "unknown_method": (b"\x07" + good[1:], 64, 48),
        "short_constant": (b"\x00", 64, 48),
        "long_constant": (b"\x00\xff\xff", 64, 48),
        "header_only": (good[:4], 64, 48),
        "truncated": (good[: len(good) // 2], 64, 48),
        "trailing": (good + b"\x00", 64, 48),
        "bit_flip": (bytes(flipped), 64, 48),
        "wrong_crc": (bytes(wrong_crc), 64, 48),
        "garbage": (b"\x01" + rng_array((200,), seed=5).tobytes(), 64, 48),
        "too_small": (good, 64, 47),
        "too_large": (good, 65, 48),
        "png_file": (b"\x01\x00\x00\x00\x00\x89PNG\r\n\x1a\n", 64, 48),
    }


@pytest.mark.parametrize("name", sorted(corrupt_cases()))
def test_corrupt_alpha_streams(name):
    data, width, height = corrupt_cases()[name]
    with pytest.raises(ImageError, match="alpha stream is corrupted"):
        decode_alpha(data, width, height)


def test_alpha_bomb_is_bounded():
    # ~3 KB of LZMA that inflates to 16 MB; the decoder must stop at 4x4.
    payload = lzma.compress(
        bytes(16 << 20), format=lzma.FORMAT_RAW, filters=alpha_mod._LZMA_ENCODE_FILTERS
    )
    assert len(payload) < 8192
    with pytest.raises(ImageError, match="more than"):
        decode_alpha(struct.pack("<BI", 1, 0) + payload, 4, 4)


def test_alpha_argument_checks():
    with pytest.raises(ValueError):
        encode_alpha(np.zeros((2, 2), np.uint16))  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        encode_alpha(np.zeros((2, 2, 1), np.uint8))
    with pytest.raises(ValueError):
        decode_alpha(b"\x00\x00", 0, 3)
