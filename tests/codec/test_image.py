"""Tests of `s2lic.codec.image`: loading, mode mapping, padding."""

from __future__ import annotations

import logging
import os
import struct
import time
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageCms

from s2lic.codec import image as image_mod
from s2lic.codec.image import (
    ImageError,
    Planes,
    crop,
    from_planes,
    load_image,
    pad_to_multiple,
    to_planes,
    to_tensor,
    to_uint8,
)
from s2lic.entropy.bitstream import ColorMode
from s2lic.entropy.errors import LimitError, S2LICError

LOGGER = "s2lic.codec.image"


def rng_array(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def png_bytes(
    width: int,
    height: int,
    depth: int,
    color_type: int,
    rows: bytes,
    extra: bytes = b"",
) -> bytes:
    """A hand-made PNG: IHDR, optional extra chunks, one IDAT, IEND."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + extra
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def chunk_bytes(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def png16(
    tmp_path: Path, values: np.ndarray, color_type: int, extra: bytes = b""
) -> Path:
    """Write a 16-bit PNG of (H, W, C) samples (filter None on every row)."""
    height, width = values.shape[:2]
    big = values.astype(">u2").reshape(height, -1)
    rows = b"".join(b"\0" + big[y].tobytes() for y in range(height))
    path = tmp_path / f"wide{color_type}.png"
    path.write_bytes(png_bytes(width, height, 16, color_type, rows, extra))
    return path


def round257(v: np.ndarray) -> np.ndarray:
    return np.rint(v.astype(np.float64) / 257).astype(np.uint8)


def roundtrip(img: Image.Image) -> tuple[Planes, Image.Image]:
    planes = to_planes(img)
    return planes, from_planes(planes)


# --------------------------------------------------------------------------------------
# to_planes / from_planes


@pytest.mark.parametrize(
    ("mode", "shape", "color_mode"),
    [
        ("L", (5, 7), ColorMode.L),
        ("LA", (5, 7, 2), ColorMode.LA),
        ("RGB", (5, 7, 3), ColorMode.RGB),
        ("RGBA", (5, 7, 4), ColorMode.RGBA),
    ],
)
def test_native_modes_round_trip_exactly(mode, shape, color_mode):
    data = rng_array(shape)
    img = Image.fromarray(data)
    assert img.mode == mode
    planes, back = roundtrip(img)
    assert planes.mode == color_mode
    assert planes.rgb.shape == (5, 7, 3) and planes.rgb.dtype == np.uint8
    assert back.mode == mode
    np.testing.assert_array_equal(np.asarray(back), data)
    if mode in ("L", "LA"):
        gray = data if mode == "L" else data[..., 0]
        for c in range(3):
            np.testing.assert_array_equal(planes.rgb[..., c], gray)
    if mode in ("LA", "RGBA"):
        np.testing.assert_array_equal(planes.alpha, data[..., -1])
    else:
        assert planes.alpha is None


def test_opaque_alpha_is_kept():
    data = rng_array((4, 4, 4))
    data[..., 3] = 255
    planes, back = roundtrip(Image.fromarray(data))
    assert planes.mode == ColorMode.RGBA
    assert back.mode == "RGBA"
    la = Image.fromarray(np.stack([data[..., 0], data[..., 3]], axis=-1))
    assert to_planes(la).mode == ColorMode.LA


def test_bilevel_becomes_gray():
    bits = rng_array((6, 9)) > 127
    img = Image.fromarray(bits)
    assert img.mode == "1"
    planes, back = roundtrip(img)
    assert planes.mode == ColorMode.L
    np.testing.assert_array_equal(np.asarray(back), np.where(bits, 255, 0))


def test_palette_without_transparency_becomes_rgb():
    img = Image.fromarray(rng_array((8, 8, 3))).quantize(16)
    assert img.mode == "P"
    planes, back = roundtrip(img)
    assert planes.mode == ColorMode.RGB
    np.testing.assert_array_equal(np.asarray(back), np.asarray(img.convert("RGB")))


def test_palette_with_transparency_becomes_rgba(tmp_path):
    img = Image.fromarray(rng_array((8, 8, 3))).quantize(16)
    img.info["transparency"] = 3
    path = tmp_path / "pal.png"
    img.save(path)
    loaded = load_image(path)
    assert loaded.mode == "P"
    planes, back = roundtrip(loaded)
    assert planes.mode == ColorMode.RGBA
    indexes = np.asarray(img)
    np.testing.assert_array_equal(planes.alpha, np.where(indexes == 3, 0, 255))
    np.testing.assert_array_equal(np.asarray(back), np.asarray(img.convert("RGBA")))


def test_palette_with_alpha_palette_becomes_rgba():
    img = Image.new("P", (3, 2))
    img.putpalette([0, 0, 0, 0, 255, 0, 0, 128], rawmode="RGBA")
    img.putpixel((1, 1), 1)
    planes = to_planes(img)
    assert planes.mode == ColorMode.RGBA
    assert planes.alpha[1, 1] == 128 and planes.alpha[0, 0] == 0


def test_color_key_transparency_becomes_alpha(tmp_path):
    rgb = rng_array((6, 6, 3))
    rgb[2, 3] = (10, 20, 30)
    path = tmp_path / "key.png"
    Image.fromarray(rgb).save(path, transparency=(10, 20, 30))
    planes = to_planes(load_image(path))
    assert planes.mode == ColorMode.RGBA
    assert planes.alpha[2, 3] == 0
    assert (planes.alpha == 0).sum() == np.all(rgb == (10, 20, 30), axis=-1).sum()

    gray = rng_array((6, 6))
    gray[0, 0] = 77
    path = tmp_path / "key_l.png"
    Image.fromarray(gray).save(path, transparency=77)
    planes = to_planes(load_image(path))
    assert planes.mode == ColorMode.LA
    np.testing.assert_array_equal(planes.alpha, np.where(gray == 77, 0, 255))


def test_premultiplied_modes_are_unpremultiplied():
    data = rng_array((4, 5, 4))
    data[..., 3] = 255  # exact under premultiplication
    data[0, 0, 3] = 0
    rgba = Image.fromarray(data)
    planes = to_planes(rgba.convert("RGBa"))
    assert planes.mode == ColorMode.RGBA
    np.testing.assert_array_equal(planes.rgb[1:], data[1:, :, :3])
    np.testing.assert_array_equal(planes.alpha, data[..., 3])
    planes = to_planes(rgba.convert("LA").convert("La"))
    assert planes.mode == ColorMode.LA
    np.testing.assert_array_equal(planes.alpha, data[..., 3])


@pytest.mark.parametrize("mode", ["CMYK", "YCbCr", "LAB", "HSV", "RGBX"])
def test_other_color_spaces_become_rgb(mode):
    img = Image.fromarray(rng_array((6, 5, 3))).convert(mode)
    planes, back = roundtrip(img)
    assert planes.mode == ColorMode.RGB
    np.testing.assert_array_equal(np.asarray(back), np.asarray(img.convert("RGB")))


def test_palette_alpha_mode_becomes_rgba():
    img = Image.fromarray(rng_array((4, 4, 4))).convert("PA")
    planes = to_planes(img)
    assert planes.mode == ColorMode.RGBA
    np.testing.assert_array_equal(planes.alpha, np.asarray(img)[..., 1])


def test_16bit_gray_is_reduced_with_warning(caplog):
    values = np.array([[0, 128, 129, 257], [32896, 65406, 65407, 65535]], np.uint16)
    img = Image.fromarray(values)
    assert img.mode == "I;16"
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        planes, back = roundtrip(img)
    assert "8 bits" in caplog.text
    assert planes.mode == ColorMode.L
    expected = np.array([[0, 0, 1, 1], [128, 254, 255, 255]], np.uint8)
    np.testing.assert_array_equal(np.asarray(back), expected)
    np.testing.assert_array_equal(expected, round257(values))


def test_32bit_int_and_float_gray(caplog):
    # Mode I is taken as 16-bit, out-of-range values are clipped.
    img = Image.new("I", (5, 1))
    img.putdata([0, 257, 65535, 70000, -5])
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        planes = to_planes(img)
    assert "8 bits" in caplog.text
    assert planes.mode == ColorMode.L
    np.testing.assert_array_equal(planes.rgb[..., 0], [[0, 1, 255, 255, 0]])

    unit = Image.fromarray(np.array([[0.0, 0.5, 1.0]], np.float32))
    assert unit.mode == "F"
    np.testing.assert_array_equal(to_planes(unit).rgb[..., 0], [[0, 128, 255]])
    scaled = Image.fromarray(np.array([[0.0, 12.4, 300.0, np.nan]], np.float32))
    np.testing.assert_array_equal(to_planes(scaled).rgb[..., 0], [[0, 12, 255, 0]])


def test_from_planes_gray_is_rounded_channel_mean():
    rgb = np.array([[[10, 10, 11], [10, 11, 11], [0, 0, 0], [255, 255, 254]]], np.uint8)
    gray = from_planes(Planes(rgb, ColorMode.L))
    np.testing.assert_array_equal(np.asarray(gray), [[10, 11, 0, 255]])
    alpha = np.array([[1, 2, 3, 4]], np.uint8)
    la = from_planes(Planes(rgb, ColorMode.LA, alpha))
    assert la.mode == "LA"
    np.testing.assert_array_equal(np.asarray(la)[..., 1], alpha)


def test_planes_validation():
    rgb = rng_array((2, 3, 3))
    with pytest.raises(ValueError):
        Planes(rgb, ColorMode.RGBA)
    with pytest.raises(ValueError):
        Planes(rgb, ColorMode.RGB, rng_array((2, 3)))
    with pytest.raises(ValueError):
        Planes(rgb, ColorMode.LA, rng_array((3, 2)))
    with pytest.raises(ValueError):
        Planes(rng_array((2, 3, 4)), ColorMode.RGB)
    with pytest.raises(TypeError):
        Planes(rgb.astype(np.float32), ColorMode.RGB)
    planes = Planes(rgb, 3)  # type: ignore[arg-type]
    assert planes.mode is ColorMode.RGB
    assert (planes.height, planes.width) == (2, 3)


# --------------------------------------------------------------------------------------
# load_image


@pytest.mark.parametrize("shape", [(9, 11), (9, 11, 2), (9, 11, 3), (9, 11, 4)])
def test_png_file_round_trip(tmp_path, shape):
    data = rng_array(shape, seed=3)
    path = tmp_path / "img.png"
    Image.fromarray(data).save(path)
    img = load_image(path)
    np.testing.assert_array_equal(np.asarray(from_planes(to_planes(img))), data)


def test_exif_orientation_is_applied(tmp_path):
    # Stored 40 wide x 20 high: top half red, bottom half blue. Orientation 6 means
    # "rotate 90 degrees clockwise to display": red ends up on the right.
    data = np.zeros((20, 40, 3), np.uint8)
    data[:10] = (255, 0, 0)
    data[10:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6
    jpeg = tmp_path / "rotated.jpg"
    Image.fromarray(data).save(jpeg, quality=95, exif=exif)
    img = load_image(jpeg)
    assert img.size == (20, 40)
    pixels = np.asarray(img).astype(int)
    assert pixels[20, 17, 0] > 200 and pixels[20, 17, 2] < 60  # right: red
    assert pixels[20, 2, 2] > 200 and pixels[20, 2, 0] < 60  # left: blue
    assert img.getexif().get(0x0112, 1) == 1

    # Exact check on a lossless file.
    noise = rng_array((5, 8, 3))
    png = tmp_path / "rotated.png"
    Image.fromarray(noise).save(png, exif=exif)
    np.testing.assert_array_equal(np.asarray(load_image(png)), np.rot90(noise, k=-1))


def test_16bit_gray_png(tmp_path, caplog):
    values = np.random.default_rng(1).integers(0, 65536, (6, 7)).astype(np.uint16)
    path = tmp_path / "gray16.png"
    Image.fromarray(values).save(path)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        planes = to_planes(load_image(path))
    assert "8 bits" in caplog.text
    assert planes.mode == ColorMode.L
    np.testing.assert_array_equal(planes.rgb[..., 0], round257(values))


@pytest.mark.parametrize(
    ("color_type", "channels", "mode"),
    [(2, 3, ColorMode.RGB), (6, 4, ColorMode.RGBA), (4, 2, ColorMode.LA)],
)
def test_16bit_color_png(tmp_path, caplog, color_type, channels, mode):
    values = np.random.default_rng(2).integers(0, 65536, (5, 6, channels))
    path = png16(tmp_path, values, color_type)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        img = load_image(path)
    assert "wide" in caplog.text and "8 bits" in caplog.text
    planes = to_planes(img)
    assert planes.mode == mode
    expected = round257(values)
    color = channels - 1 if mode != ColorMode.RGB else 3
    if color == 1:
        for c in range(3):
            np.testing.assert_array_equal(planes.rgb[..., c], expected[..., 0])
    else:
        np.testing.assert_array_equal(planes.rgb, expected[..., :3])
    if mode != ColorMode.RGB:
        np.testing.assert_array_equal(planes.alpha, expected[..., -1])


def test_16bit_png_falls_back_to_high_bytes(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise ValueError("unknown raw mode")

    monkeypatch.setattr(image_mod, "_decode_again", broken)
    values = np.random.default_rng(4).integers(0, 65536, (3, 4, 2))
    planes = to_planes(load_image(png16(tmp_path, values, 4)))
    assert planes.mode == ColorMode.LA
    np.testing.assert_array_equal(planes.rgb[..., 0], values[..., 0] >> 8)
    np.testing.assert_array_equal(planes.alpha, values[..., 1] >> 8)


def test_image_from_bytes(tmp_path):
    """Bytes (standard input) load like the file, 16-bit re-decoding included."""
    values = np.random.default_rng(6).integers(0, 65536, (5, 4, 4))
    path = png16(tmp_path, values, 6)
    from_file, from_bytes = load_image(path), load_image(path.read_bytes())
    assert from_bytes.mode == from_file.mode == "RGBA"
    np.testing.assert_array_equal(np.asarray(from_bytes), np.asarray(from_file))
    with pytest.raises(ImageError, match="'<stdin>': the file is empty"):
        load_image(b"", name="<stdin>")
    with pytest.raises(ImageError, match="'<bytes>': not an image"):
        load_image(b"GIF89a?")


def _swapped_profile() -> bytes:
    """sRGB with the red and green primaries swapped: a profile that is not sRGB."""
    data = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    (count,) = struct.unpack(">I", data[128:132])
    entries = {
        bytes(data[132 + 12 * i : 136 + 12 * i]): 136 + 12 * i for i in range(count)
    }
    r, g = entries[b"rXYZ"], entries[b"gXYZ"]
    data[r : r + 8], data[g : g + 8] = data[g : g + 8], data[r : r + 8]
    return bytes(data)


def test_colour_profiles_are_converted_to_srgb(tmp_path, caplog):
    rgba = np.zeros((2, 3, 4), np.uint8)
    rgba[0, 0] = (255, 0, 0, 77)  # red, seen through the swapped profile: green
    rgba[1, 2] = (128, 128, 128, 255)
    path = tmp_path / "swapped.png"
    Image.fromarray(rgba).save(path, icc_profile=_swapped_profile())
    with caplog.at_level(logging.WARNING):
        img = load_image(path)
    assert "converted to sRGB" in caplog.text and "swapped.png" in caplog.text
    assert img.mode == "RGBA" and "icc_profile" not in img.info
    got = np.asarray(img)
    np.testing.assert_array_equal(got[0, 0], (0, 255, 0, 77))
    np.testing.assert_array_equal(got[1, 2], (128, 128, 128, 255))
    # An sRGB profile changes nothing (no rounding), and says nothing.
    caplog.clear()
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    noise = np.random.default_rng(7).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    Image.fromarray(noise).save(path, icc_profile=srgb)
    with caplog.at_level(logging.WARNING):
        np.testing.assert_array_equal(np.asarray(load_image(path)), noise)
    assert caplog.text == ""
    # A broken profile: the raw values, and a warning.
    Image.fromarray(noise).save(path, icc_profile=b"not a profile" * 20)
    with caplog.at_level(logging.WARNING):
        np.testing.assert_array_equal(np.asarray(load_image(path)), noise)
    assert "unusable colour profile" in caplog.text


def test_16bit_png_color_key(tmp_path):
    values = np.random.default_rng(5).integers(0, 65536, (4, 4, 3))
    values[1, 2] = (1000, 2000, 3000)
    values[3, 3] = (1000, 2000, 3001)  # same high bytes, different key
    trns = chunk_bytes(b"tRNS", struct.pack(">HHH", 1000, 2000, 3000))
    planes = to_planes(load_image(png16(tmp_path, values, 2, trns)))
    assert planes.mode == ColorMode.RGBA
    assert planes.alpha[1, 2] == 0 and planes.alpha[3, 3] == 255
    assert (planes.alpha == 0).sum() == 1


def test_multiframe_gif_gives_first_frame(tmp_path, caplog):
    frames = [Image.new("RGB", (8, 6), color) for color in ("red", "green", "blue")]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=50)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        img = load_image(path)
    assert "anim.gif" in caplog.text and "3 frames" in caplog.text
    rgb = to_planes(img).rgb
    np.testing.assert_array_equal(rgb, np.broadcast_to([255, 0, 0], rgb.shape))


def test_multipage_tiff_gives_first_page(tmp_path, caplog):
    pages = [Image.fromarray(rng_array((4, 5, 3), seed=s)) for s in range(2)]
    path = tmp_path / "pages.tiff"
    pages[0].save(path, save_all=True, append_images=pages[1:])
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        img = load_image(path)
    assert "2 frames" in caplog.text
    np.testing.assert_array_equal(np.asarray(img), np.asarray(pages[0]))


def test_loaded_image_is_detached_from_file(tmp_path):
    path = tmp_path / "img.png"
    Image.fromarray(rng_array((4, 4, 3))).save(path)
    img = load_image(path)
    os.remove(path)  # the file is closed and the pixels are in memory
    assert to_planes(img).rgb.shape == (4, 4, 3)


def expect_image_error(path: Path, *words: str) -> ImageError:
    with pytest.raises(ImageError) as info:
        load_image(path)
    message = str(info.value)
    assert f"'{path}'" in message
    for word in words:
        assert word in message
    assert isinstance(info.value, S2LICError)
    return info.value


def test_missing_file(tmp_path):
    expect_image_error(tmp_path / "nope.png", "no such file")


def test_directory(tmp_path):
    expect_image_error(tmp_path, "directory")


def test_text_file(tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("this is not an image\n")
    expect_image_error(path, "not an image Pillow can open")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    expect_image_error(path, "empty")


def test_truncated_png(tmp_path):
    path = tmp_path / "cut.png"
    Image.fromarray(rng_array((64, 64, 3))).save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    expect_image_error(path, "truncated")


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads anything"
)
def test_unreadable_file(tmp_path):
    path = tmp_path / "secret.png"
    Image.new("RGB", (2, 2)).save(path)
    path.chmod(0)
    expect_image_error(path, "permission denied")


def test_huge_declared_size_fails_before_decoding(tmp_path):
    # 100000 x 100000 declared, a few bytes of data: decoding would allocate 10 GP.
    path = tmp_path / "bomb.png"
    path.write_bytes(png_bytes(100_000, 100_000, 8, 2, b"\0" * 64))
    start = time.perf_counter()
    with pytest.raises(LimitError) as info:
        load_image(path)
    assert time.perf_counter() - start < 1.0
    message = str(info.value)
    assert "'" + str(path) + "'" in message
    assert "100000x100000" in message and "40.0 MP" in message


def test_max_pixels_is_enforced_and_replaces_pillows_limit(tmp_path, monkeypatch):
    path = tmp_path / "small.png"
    Image.fromarray(rng_array((100, 50, 3))).save(path)
    with pytest.raises(LimitError, match="50x100 = 0.0 MP"):
        load_image(path, max_pixels=4999)
    assert load_image(path, max_pixels=5000).size == (50, 100)
    # Pillow alone would refuse 5000 > 2 * 1000 pixels as a decompression bomb.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    assert load_image(path, max_pixels=5000).size == (50, 100)
    assert Image.MAX_IMAGE_PIXELS == 1000
    with pytest.raises(ValueError):
        load_image(path, max_pixels=0)


# --------------------------------------------------------------------------------------
# Tensors


@pytest.mark.parametrize(("height", "width"), [(1, 1), (1, 7), (63, 65), (64, 64)])
def test_pad_and_crop(height, width):
    x = torch.rand(2, 3, height, width)
    padded, hw = pad_to_multiple(x, 64)
    assert hw == (height, width)
    assert padded.shape[-2] % 64 == 0 and padded.shape[-1] % 64 == 0
    assert padded.shape[-2] - height < 64 and padded.shape[-1] - width < 64
    # Replicate padding: the padded area repeats the last row and column.
    torch.testing.assert_close(
        padded[..., height:, :width],
        x[..., -1:, :].expand(-1, -1, padded.shape[-2] - height, -1),
    )
    torch.testing.assert_close(padded[..., -1, -1], x[..., -1, -1])
    torch.testing.assert_close(crop(padded, hw), x, rtol=0, atol=0)


def test_pad_checks():
    x = torch.rand(1, 3, 5, 5)
    assert pad_to_multiple(x, 1)[0] is x
    with pytest.raises(ValueError):
        pad_to_multiple(x, 0)
    with pytest.raises(ValueError):
        pad_to_multiple(x[0], 8)
    with pytest.raises(ValueError):
        crop(x, (6, 5))


def test_tensor_round_trip():
    rgb = rng_array((13, 17, 3))
    x = to_tensor(rgb)
    assert x.shape == (1, 3, 13, 17) and x.dtype == torch.float32
    assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0
    np.testing.assert_array_equal(to_uint8(x), rgb)
    np.testing.assert_array_equal(to_uint8(x[0]), rgb)


def test_read_only_and_strided_arrays_convert_silently():
    rgb = rng_array((13, 17, 3))
    frozen = np.asarray(Image.fromarray(rgb))  # Pillow's arrays are read-only
    assert not frozen.flags.writeable
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for a in (frozen, np.ascontiguousarray(rgb[:, ::-1])[:, ::-1]):
            np.testing.assert_array_equal(to_uint8(to_tensor(a)), rgb)
        pixel = np.asarray(Image.fromarray(rgb[:1, :1]))  # its planes are contiguous
        np.testing.assert_array_equal(to_uint8(to_tensor(pixel)), rgb[:1, :1])
    assert not frozen.flags.writeable  # the caller's array is left alone


def test_to_uint8_clamps_and_rounds():
    x = torch.tensor([-0.5, 0.0, 0.3 / 255, 0.7 / 255, 1.0, 2.0, float("nan")])
    x = x.view(1, 1, 1, -1).expand(1, 3, 1, -1)
    out = to_uint8(x)
    assert out.shape == (1, 7, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[0, :, 0], [0, 0, 0, 1, 255, 255, 0])
    with pytest.raises(ValueError):
        to_uint8(torch.rand(2, 3, 4, 4))
    with pytest.raises(ValueError):
        to_tensor(rng_array((4, 4)))


def test_low_depth_gray_color_key(tmp_path):
    # 2-bit gray: samples 0..3 are scaled to 0, 85, 170, 255; the tRNS key is not.
    samples = [0, 1, 2, 3, 1, 1, 0, 3]
    packed = bytes(
        [(samples[0] << 6) | (samples[1] << 4) | (samples[2] << 2) | samples[3]]
    ) + bytes([(samples[4] << 6) | (samples[5] << 4) | (samples[6] << 2) | samples[7]])
    rows = b"\0" + packed[:1] + b"\0" + packed[1:]
    trns = chunk_bytes(b"tRNS", struct.pack(">H", 1))
    path = tmp_path / "gray2.png"
    path.write_bytes(png_bytes(4, 2, 2, 0, rows, trns))
    planes = to_planes(load_image(path))
    assert planes.mode == ColorMode.LA
    np.testing.assert_array_equal(
        planes.rgb[..., 0], [[0, 85, 170, 255], [85, 85, 0, 255]]
    )
    np.testing.assert_array_equal(planes.alpha, [[255, 0, 255, 255], [0, 0, 255, 255]])
