"""Tests of `s2lic.eval.classical`: the classical codecs and their registry."""

from __future__ import annotations

import dataclasses
import io
import math
import pickle
import re
from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image, UnidentifiedImageError

from s2lic.codec.metrics import psnr
from s2lic.eval import classical
from s2lic.eval.classical import (
    CODECS,
    ClassicalCodec,
    CodecUnavailableError,
    UnknownCodecError,
    get_classical,
    list_classical,
)
from tests.conftest import smooth_image


def _isobmff(*brands: bytes) -> Callable[[bytes], bool]:
    return lambda d: d[4:8] == b"ftyp" and d[8:12] in brands


MAGIC: dict[str, Callable[[bytes], bool]] = {
    "jpeg": lambda d: d[:3] == b"\xff\xd8\xff" and d[-2:] == b"\xff\xd9",
    "jpeg-444": lambda d: d[:3] == b"\xff\xd8\xff" and d[-2:] == b"\xff\xd9",
    "webp": lambda d: d[:4] == b"RIFF" and d[8:12] == b"WEBP",
    "jp2": lambda d: d[:12] == b"\x00\x00\x00\x0cjP  \r\n\x87\n",
    "avif": _isobmff(b"avif"),
    "jxl": lambda d: d[:2] == b"\xff\x0a",
    "heic": _isobmff(b"heic", b"heix"),
}


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return smooth_image(64, 96, seed=3)


@pytest.fixture(params=list_classical())
def codec(request: pytest.FixtureRequest) -> ClassicalCodec:
    c = get_classical(request.param)
    reason = c.unavailable()
    if reason is not None:
        pytest.skip(f"{c.name}: {reason}")
    return c


def test_registry() -> None:
    assert list_classical() == [
        "jpeg",
        "jpeg-444",
        "webp",
        "jp2",
        "avif",
        "jxl",
        "heic",
    ]
    assert set(MAGIC) == set(CODECS)
    for name, c in CODECS.items():
        assert c.name == name and re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", name)
        assert c.label and c.settings and "\n" not in c.settings
        assert c.version().startswith("Pillow ")
        # The grid goes from the fewest bytes to the most.
        order = sorted(c.qualities, reverse=not c.higher_is_better_quality)
        assert list(c.qualities) == order and len(set(c.qualities)) == len(order)


def test_unknown_codec() -> None:
    with pytest.raises(ValueError, match="choose from jpeg, jpeg-444, webp"):
        get_classical("bpg")
    with pytest.raises(UnknownCodecError):
        get_classical("JPEG")


def test_round_trip(codec: ClassicalCodec, image: np.ndarray) -> None:
    low, high = codec.qualities[0], codec.qualities[-1]
    data_low = codec.encode(image, low)
    data_high = codec.encode(image, high)
    assert MAGIC[codec.name](data_low) and MAGIC[codec.name](data_high)
    assert len(data_low) < len(data_high)
    decoded = codec.decode(data_high, expected_shape=image.shape)
    assert decoded.shape == image.shape and decoded.dtype == np.uint8
    value = psnr(image, decoded)
    assert math.isfinite(value) and value > 20
    # PSNR rises along the grid as the bytes do.
    assert psnr(image, codec.decode(data_low)) < value


def test_encoding_is_deterministic_and_pickles(
    codec: ClassicalCodec, image: np.ndarray
) -> None:
    """The runner sends (possibly re-gridded) codecs to worker processes."""
    q = codec.qualities[len(codec.qualities) // 2]
    copy = pickle.loads(pickle.dumps(dataclasses.replace(codec, qualities=(q,))))
    assert copy.qualities == (q,) and copy.name == codec.name
    assert copy.encode(image, q) == codec.encode(image, q)


def test_odd_size(codec: ClassicalCodec) -> None:
    odd = smooth_image(33, 47, seed=5)
    data = codec.encode(odd, codec.qualities[-1])
    assert codec.decode(data).shape == odd.shape


def test_decode_checks(codec: ClassicalCodec, image: np.ndarray) -> None:
    data = codec.encode(image, codec.qualities[-1])
    with pytest.raises(RuntimeError, match="expected"):
        codec.decode(data, expected_shape=(image.shape[0] + 1, image.shape[1], 3))
    other = "webp" if codec.name != "webp" else "jpeg"
    foreign = get_classical(other).encode(image, get_classical(other).qualities[-1])
    with pytest.raises(UnidentifiedImageError):
        codec.decode(foreign)


def test_encode_checks(codec: ClassicalCodec, image: np.ndarray) -> None:
    q = codec.qualities[0]
    with pytest.raises(ValueError, match=r"\(H, W, 3\) uint8"):
        codec.encode(image[..., 0], q)
    with pytest.raises(ValueError, match=r"\(H, W, 3\) uint8"):
        codec.encode(image.astype(np.float32), q)
    with pytest.raises(ValueError, match="outside"):
        codec.encode(image, -1)
    if codec._backend.integer_quality:
        with pytest.raises(ValueError, match="integer"):
            codec.encode(image, q + 0.5)


def test_jp2_uses_the_irreversible_wavelet(image: np.ndarray) -> None:
    jp2 = get_classical("jp2")
    if reason := jp2.unavailable():
        pytest.skip(reason)
    options = jp2._backend.save_options(24)
    assert options["irreversible"] is True and options["mct"] == 1
    # At the same byte budget (1 bpp), Pillow's default (reversible 5/3 wavelet, no
    # colour transform) is far worse.
    # Channels as correlated as in photographs, which the colour transform exploits.
    luma = smooth_image(128, 192, seed=7)[..., :1].astype(np.float64)
    smooth = np.clip(luma * [1.0, 0.85, 0.7] + [0, 20, 40], 0, 255).astype(np.uint8)
    ours = jp2.decode(jp2.encode(smooth, 24))
    buf = io.BytesIO()
    Image.fromarray(smooth).save(
        buf, format="JPEG2000", quality_mode="rates", quality_layers=[24]
    )
    default = np.asarray(Image.open(buf).convert("RGB"))
    assert psnr(smooth, ours) > psnr(smooth, default) + 1.0


def test_missing_plugin_makes_only_that_codec_unavailable(
    image: np.ndarray,
) -> None:
    jxl = get_classical("jxl")
    missing = dataclasses.replace(
        jxl,
        _backend=dataclasses.replace(
            jxl._backend,
            plugin=classical._Plugin("s2lic_no_such_plugin", "no-such-plugin"),
        ),
    )
    reason = missing.unavailable()
    assert reason is not None and reason.startswith("no-such-plugin is not installed")
    with pytest.raises(CodecUnavailableError, match="no-such-plugin is not installed"):
        missing.encode(image, 50)
    assert get_classical("jpeg").unavailable() is None


def test_missing_pillow_feature() -> None:
    jpeg = get_classical("jpeg")
    fake = dataclasses.replace(
        jpeg, _backend=dataclasses.replace(jpeg._backend, feature="no_such_feature")
    )
    reason = fake.unavailable()
    assert reason is not None and "without 'no_such_feature' support" in reason
