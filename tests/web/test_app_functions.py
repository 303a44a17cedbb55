"""The web demo without a browser: equal-size matching and the app's functions.

`s2lic.eval.match` is tested on real JPEG and WebP files of a generated image
(against an exhaustive search over the quality) and on synthetic size curves. The
demo's functions (`s2lic.web.comparison`, `views` and the `app` handlers) run the tiny
model (seeded random weights) on images of a few thousand pixels; every bad input must
end as a `gr.Error` with a one-line message, never as another exception.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from s2lic.codec.adapt.levels import EFFORTS, MAX_EFFORT
from s2lic.codec.api import decode as api_decode
from s2lic.codec.api import encode as api_encode
from s2lic.codec.api import get_codec
from s2lic.codec.objective import RateDistortion
from s2lic.entropy.bitstream import MAGIC, read_header
from s2lic.eval.classical import get_classical
from s2lic.eval.match import (
    MatchStatus,
    match_classical,
    match_size,
    quality_range,
)
from s2lic.web.comparison import (
    DEFAULT_WEB_MAX_EFFORT,
    ORIGINAL,
    Comparison,
    DemoSettings,
    compare,
    example_paths,
    load_upload,
    model_notice,
)
from s2lic.web.views import TABLE_HEADERS, mark_zoom, table_rows, view_pair, zoom_crops
from tests.conftest import smooth_image

gr = pytest.importorskip("gradio", reason="the web extra is not installed")
app = pytest.importorskip("s2lic.web.app")

MODEL = "s2lic-tiny"
H, W = 192, 256  # MS-SSIM needs sides of at least 161 pixels


# -------------------------------------------------------------------------------------
# Equal-size matching


@pytest.fixture(scope="module")
def rgb() -> np.ndarray:
    return smooth_image(H, W, seed=3)


def _exhaustive(name: str, rgb: np.ndarray) -> dict[int, int]:
    """Size of the file at every integer quality of the codec."""
    codec = get_classical(name)
    low, high, _ = quality_range(codec)
    return {q: len(codec.encode(rgb, q)) for q in range(int(low), int(high) + 1)}


@pytest.fixture(scope="module")
def jpeg_sizes(rgb: np.ndarray) -> dict[int, int]:
    return _exhaustive("jpeg", rgb)


def test_jpeg_match_is_the_nearest_size_below_the_target(
    rgb: np.ndarray, jpeg_sizes: dict[int, int]
) -> None:
    low, high = min(jpeg_sizes.values()), max(jpeg_sizes.values())
    for target in np.geomspace(low * 1.05, high * 0.95, 7).astype(int):
        best = max(s for s in jpeg_sizes.values() if s <= target)
        exact = match_classical(get_classical("jpeg"), rgb, int(target), tolerance=0)
        assert exact.status is MatchStatus.MATCHED
        assert exact.size == best, (target, exact.quality)
        assert exact.tries <= 12
        # With the default 1 % tolerance: not above, and at most 1 % below, unless
        # no JPEG lies in that 1 % (then still the nearest one below).
        fast = match_classical(get_classical("jpeg"), rgb, int(target))
        assert fast.size <= target
        assert fast.size >= min(best, 0.99 * target)
        assert len(fast.data) == fast.size and fast.data[:2] == b"\xff\xd8"


def test_webp_match_is_within_tolerance_or_best_grid_point(rgb: np.ndarray) -> None:
    webp = get_classical("webp")
    sizes = _exhaustive("webp", rgb)
    for target in (1500, 4000, 9000):
        # WebP takes fractional qualities: the search may beat every integer one.
        best_integer = max(s for s in sizes.values() if s <= target)
        m = match_classical(webp, rgb, target)
        assert m.status is MatchStatus.MATCHED
        assert m.size <= target
        assert m.size >= 0.99 * target or m.size >= best_integer
        assert webp.decode(m.data).shape == rgb.shape
        assert m.message.startswith("\u2212")  # "−0.4 %": below the target


@pytest.mark.parametrize("name", ["jpeg", "webp"])
def test_match_is_monotone_in_the_target(name: str, rgb: np.ndarray) -> None:
    codec = get_classical(name)
    sizes = [match_classical(codec, rgb, t).size for t in range(1200, 12001, 1200)]
    assert sizes == sorted(sizes)
    assert len(set(sizes)) > 5


def test_target_below_the_minimum_returns_the_smallest_file(rgb: np.ndarray) -> None:
    for name in ("jpeg", "webp"):
        codec = get_classical(name)
        low, _, _ = quality_range(codec)
        m = match_classical(codec, rgb, 50)
        assert m.status is MatchStatus.BELOW_MINIMUM
        assert m.quality == low
        assert m.data == codec.encode(rgb, low)
        assert m.size > 50 and m.relative_difference > 0
        assert m.message.startswith("+") and m.message.endswith("(lowest quality)")


def test_target_above_the_maximum_returns_the_largest_file(rgb: np.ndarray) -> None:
    codec = get_classical("jpeg")
    m = match_classical(codec, rgb, 10**8)
    assert m.status is MatchStatus.ABOVE_MAXIMUM
    assert m.quality == 100
    assert m.message.endswith("(highest quality)")
    assert m.tries == 2  # the middle, then the top


def _fake_codec(
    curve: Callable[[float], float], log: list[float]
) -> Callable[[float], bytes]:
    def encode(q: float) -> bytes:
        log.append(q)
        return b"x" * max(1, int(curve(q)))

    return encode


@pytest.mark.parametrize("integer", [True, False])
def test_match_size_on_a_smooth_curve(integer: bool) -> None:
    log: list[float] = []
    encode = _fake_codec(lambda q: 200 * math.exp(q / 15), log)
    for target in (250, 1000, 5000, 40000, 150000):
        log.clear()
        m = match_size(encode, target, 0, 100, integer=integer, tolerance=0.005)
        assert m.size <= target and m.status is MatchStatus.MATCHED
        if integer:
            # The exact answer: the next quality up is too large.
            assert 200 * math.exp((m.quality + 1) / 15) > target
            assert all(q == int(q) for q in log)
        else:
            assert m.size >= 0.995 * target
        # Interpolation finds it in far fewer encodes than plain bisection.
        assert len(log) == m.tries <= 8, (target, log)


def test_match_size_survives_a_non_monotone_curve() -> None:
    log: list[float] = []
    # A staircase with dips, like WebP's sizes over its quality.
    encode = _fake_codec(lambda q: 1000 + 40 * q - (60 if int(q) % 7 == 0 else 0), log)
    m = match_size(encode, 3000, 0, 100, integer=True, tolerance=0)
    assert m.size <= 3000
    sizes = {q: 1000 + 40 * q - (60 if q % 7 == 0 else 0) for q in range(101)}
    assert m.size >= max(s for s in sizes.values() if s <= 3000) - 60


def test_match_size_rejects_bad_arguments() -> None:
    encode = _fake_codec(lambda q: 100 + q, [])
    with pytest.raises(ValueError, match="at least 1 byte"):
        match_size(encode, 0, 0, 100, integer=True)
    with pytest.raises(ValueError, match="empty quality range"):
        match_size(encode, 10, 5, 1, integer=True)
    with pytest.raises(ValueError, match="quality knob"):
        quality_range(get_classical("jp2"))


def test_quality_ranges_are_lossy() -> None:
    # libjxl refuses quality 100 in lossy mode.
    assert quality_range(get_classical("jxl"))[1] < 100
    assert quality_range(get_classical("jpeg")) == (1.0, 100.0, True)
    assert quality_range(get_classical("webp")) == (0.0, 100.0, False)


# -------------------------------------------------------------------------------------
# The app's functions


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> DemoSettings:
    return DemoSettings(
        model=MODEL, max_pixels=100_000, workdir=tmp_path_factory.mktemp("web")
    )


@pytest.fixture(scope="module")
def image_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("in") / "photo.png"
    Image.fromarray(smooth_image(H, W, seed=5)).save(path)
    return path


@pytest.fixture(scope="module")
def compressed(image_file: Path, settings: DemoSettings) -> dict[str, object]:
    return app.on_compress(
        str(image_file), "quality", 0.5, None, ["jpeg", "webp"], settings
    )


def test_compress_table_rows(compressed: dict[str, object]) -> None:
    comparison = compressed["comparison"]
    assert isinstance(comparison, Comparison)
    rows = compressed["rows"]
    assert rows == table_rows(comparison)
    assert [r[0] for r in rows] == [
        f"s2lic ({MODEL})",
        "JPEG 4:2:0 (libjpeg-turbo)",
        "WebP (libwebp)",
    ]
    assert all(len(r) == len(TABLE_HEADERS) for r in rows)
    s2lic_bytes = rows[0][1]
    for row, result in zip(rows, comparison.results, strict=True):
        _, size, bpp, vs, quality, psnr_text, ms_ssim_text, enc_ms, dec_ms = row
        # Bytes and bpp come from the real files.
        assert size == len(result.data) > 0
        assert bpp == pytest.approx(8 * size / (H * W), abs=1e-4)
        assert math.isfinite(float(psnr_text)) and float(psnr_text) > 0
        assert 0 < float(ms_ssim_text) <= 1
        assert enc_ms >= 0 and dec_ms >= 0
        assert quality
        if result.key == "s2lic":
            assert vs == "reference"
            assert result.data[: len(MAGIC)] == MAGIC
        else:
            assert result.match is not None
            if result.match.status is MatchStatus.MATCHED:
                assert size <= s2lic_bytes
            assert vs == result.match.message
    assert f"{s2lic_bytes:,} bytes" in compressed["status"]
    assert "no trained weights" in compressed["status"]


def test_compress_decoded_images_and_metrics(compressed: dict[str, object]) -> None:
    comparison = compressed["comparison"]
    assert comparison.original.shape == (H, W, 3)
    for r in comparison.results:
        assert r.decoded.shape == (H, W, 3) and r.decoded.dtype == np.uint8
    jpeg = comparison.results[1]
    left, right = compressed["slider"]
    assert left is comparison.original and right is comparison.s2lic.decoded
    assert comparison.names() == [ORIGINAL, "s2lic", "JPEG", "WebP"]
    a, b = view_pair(comparison, "JPEG", "s2lic")
    assert a is jpeg.decoded
    with pytest.raises(ValueError, match="no result named"):
        view_pair(comparison, "BMP", "s2lic")


def test_downloads(compressed: dict[str, object], image_file: Path) -> None:
    s2lic_path, png_path = compressed["s2lic_path"], compressed["png_path"]
    assert s2lic_path.name == "photo.s2lic" and png_path.name == "photo.s2lic.png"
    data = s2lic_path.read_bytes()
    assert data == compressed["comparison"].s2lic.data
    header = read_header(data)
    assert (header.width, header.height) == (W, H)
    with Image.open(png_path) as png:
        assert np.array_equal(np.asarray(png), compressed["comparison"].s2lic.decoded)


def test_zoom_crops(compressed: dict[str, object]) -> None:
    comparison = compressed["comparison"]
    crops = compressed["crops"]
    assert len(crops) == 1 + len(comparison.results)
    for pixels, caption in crops:
        assert pixels.shape == (96 * 4, 96 * 4, 3)
        assert caption
    assert "crop PSNR" in crops[1][1]
    # A corner click moves the square inside the image; the crop is 4x nearest.
    (orig, caption), *_ = zoom_crops(comparison, (0, 0))
    assert caption.startswith(f"{ORIGINAL} (0,0)")
    assert np.array_equal(orig[::4, ::4], comparison.original[:96, :96])
    (corner, _), *_ = zoom_crops(comparison, (W + 50, H + 50))
    assert np.array_equal(corner[::4, ::4], comparison.original[-96:, -96:])
    marked = mark_zoom(comparison.original, (10, 10))
    assert marked.shape == comparison.original.shape
    assert not np.array_equal(marked, comparison.original)
    zoomed, _ = app.on_zoom(comparison, (30.0, 40.0))
    assert len(zoomed) == len(crops)


def test_compress_to_a_target_bpp(image_file: Path, settings: DemoSettings) -> None:
    out = app.on_compress(str(image_file), "target bpp", 0.5, 2.0, ["jpeg"], settings)
    s2lic = out["comparison"].s2lic
    assert 0 < 8 * s2lic.size / (H * W) <= 2.0
    assert out["rows"][1][1] <= s2lic.size


def _rd_cost(comparison: Comparison, quality: float) -> float:
    """The training objective of s2lic's file: λ of `quality` * MSE + bpp."""
    s = comparison.s2lic
    mse = float(np.mean((s.decoded.astype(np.float64) - comparison.original) ** 2))
    lam = float(RateDistortion().lambda_of(torch.tensor(quality)))
    return lam * mse + 8 * s.size / comparison.pixels


def test_compress_at_an_effort_level(
    image_file: Path, settings: DemoSettings, compressed: dict[str, object]
) -> None:
    out = app.on_compress(
        str(image_file), "quality", 0.5, None, ["jpeg"], settings, effort=1.0
    )
    comparison = out["comparison"]
    plain = compressed["comparison"]
    assert comparison.effort == 1 and plain.effort == 0
    assert "at encoder effort 1 (docs/effort.md)" in out["status"]
    assert "effort" not in compressed["status"]
    assert out["rows"][0][0] == f"s2lic ({MODEL}, effort 1)"
    assert compressed["rows"][0][0] == f"s2lic ({MODEL})"
    assert comparison.s2lic.data != plain.s2lic.data
    assert _rd_cost(comparison, 0.5) < _rd_cost(plain, 0.5)
    # The file is what the API makes at that level, and it decodes to the pixels
    # the page shows.
    image = load_upload(image_file, settings.max_pixels)
    assert (
        api_encode(image, quality=0.5, model=MODEL, effort=1).data
        == comparison.s2lic.data
    )
    assert np.array_equal(
        np.asarray(api_decode(out["s2lic_path"].read_bytes()).image.convert("RGB")),
        comparison.s2lic.decoded,
    )
    # JPEG is matched to the size of that file.
    assert out["rows"][1][1] <= comparison.s2lic.size
    assert (
        read_header(out["s2lic_path"].read_bytes()).quality
        == read_header(plain.s2lic.data).quality
    )


def test_effort_reports_its_refinement_steps(
    image_file: Path, settings: DemoSettings
) -> None:
    reports: list[tuple[float, str]] = []
    image = load_upload(image_file, settings.max_pixels)
    steps = EFFORTS[1].refine
    compare(
        image,
        settings,
        quality=0.5,
        codecs=["jpeg"],
        effort=1,
        report=lambda *a: reports.append(a),
    )
    messages = [m for _, m in reports]
    assert messages[0] == f"encoding with {MODEL} at encoder effort 1"
    assert messages[1 : 1 + steps] == [
        f"encoder effort 1: refinement step {i} of {steps}" for i in range(1, steps + 1)
    ]
    fractions = [f for f, _ in reports]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


@pytest.mark.parametrize(
    ("level", "message"),
    [
        (-1, "encoder effort must be a whole number from 0 to 2, got -1"),
        (1.5, "encoder effort must be a whole number from 0 to 2, got 1.5"),
        (math.nan, "encoder effort must be a whole number"),
        (math.inf, "encoder effort must be a whole number"),
        (3, "encoder effort 3 is not offered: at most 2 on this server"),
        (MAX_EFFORT + 1, "at most 2 on this server"),
    ],
)
def test_compress_rejects_bad_effort_levels(
    image_file: Path, settings: DemoSettings, level: float, message: str
) -> None:
    assert settings.max_effort == DEFAULT_WEB_MAX_EFFORT == 2
    with pytest.raises(gr.Error) as excinfo:
        app.on_compress(
            str(image_file), "quality", 0.5, None, ["jpeg"], settings, effort=level
        )
    assert message in _error_text(excinfo)


def test_compress_rejects_levels_above_the_server_limit(
    image_file: Path, settings: DemoSettings
) -> None:
    with pytest.raises(gr.Error) as excinfo:
        app.on_compress(
            str(image_file),
            "quality",
            0.5,
            None,
            ["jpeg"],
            replace(settings, max_effort=0),
            effort=1,
        )
    assert "at most 0 on this server" in _error_text(excinfo)


def test_small_images_have_no_ms_ssim(tmp_path: Path, settings: DemoSettings) -> None:
    path = tmp_path / "small.png"
    Image.fromarray(smooth_image(48, 64)).save(path)
    out = app.on_compress(str(path), "quality", 0.2, None, ["jpeg"], settings)
    assert all(row[6].startswith("n/a") for row in out["rows"])
    assert all(math.isfinite(float(row[5])) for row in out["rows"])
    # 96-pixel crops of a 64x48 image are the whole image.
    assert out["crops"][0][0].shape == (48 * 4, 64 * 4, 3)


def test_unavailable_codecs_are_skipped(
    image_file: Path, settings: DemoSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    webp = get_classical("webp")
    monkeypatch.setattr(type(webp), "unavailable", lambda self: "not here")
    image = load_upload(image_file, settings.max_pixels)
    comparison = compare(image, settings, codecs=["webp"], quality=0.1)
    assert len(comparison.results) == 1
    assert comparison.skipped == ("WebP: not here",)


# -------------------------------------------------------------------------------------
# Bad inputs: a message in the page, never another exception


def _error_text(excinfo: pytest.ExceptionInfo[BaseException]) -> str:
    assert type(excinfo.value) is gr.Error
    message = excinfo.value.message
    assert "\n" not in message and "Traceback" not in message
    assert "/tmp" not in message and str(Path.home()) not in message
    return message


def test_compress_rejects_bad_uploads(tmp_path: Path, settings: DemoSettings) -> None:
    def compress(path: str | None, **kw: object) -> pytest.ExceptionInfo[BaseException]:
        with pytest.raises(gr.Error) as excinfo:
            app.on_compress(path, "quality", 0.5, None, ["jpeg"], settings, **kw)
        return excinfo

    text = tmp_path / "notes.txt"
    text.write_bytes(b"these are not pixels\n")
    assert "'notes.txt': not an image" in _error_text(compress(str(text)))
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    assert "empty" in _error_text(compress(str(empty)))
    truncated = tmp_path / "cut.png"
    full = tmp_path / "full.png"
    Image.fromarray(smooth_image(64, 64)).save(full)
    truncated.write_bytes(full.read_bytes()[:200])
    assert "cut.png" in _error_text(compress(str(truncated)))
    assert "upload an image first" in _error_text(compress(None))
    big = tmp_path / "big.png"
    Image.new("RGB", (400, 300)).save(big)  # 120,000 pixels, above 100,000
    message = _error_text(compress(str(big)))
    assert "above the limit" in message and "--max-pixels" not in message
    s2lic_file = tmp_path / "a.s2lic"
    s2lic_file.write_bytes(api_encode(Image.new("RGB", (8, 8)), model=MODEL).data)
    assert "decode it" in _error_text(compress(str(s2lic_file)))
    with pytest.raises(gr.Error, match="positive"):
        app.on_compress(str(full), "target bpp", 0.5, -1.0, ["jpeg"], settings)


def test_upload_preview(
    image_file: Path, tmp_path: Path, settings: DemoSettings
) -> None:
    preview, info = app.on_upload(str(image_file), settings)
    assert preview.shape == (H, W, 3)
    assert "256x192" in info and "photo.png" in info
    assert app.on_upload(None, settings) == (None, "")
    bad = tmp_path / "x.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(gr.Error) as excinfo:
        app.on_upload(str(bad), settings)
    assert "x.jpg" in _error_text(excinfo)


def test_internal_errors_become_messages(
    image_file: Path, settings: DemoSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(app, "compare", broken)
    with pytest.raises(gr.Error) as excinfo:
        app.on_compress(str(image_file), "quality", 0.5, None, ["jpeg"], settings)
    assert _error_text(excinfo) == "internal error: RuntimeError: boom"


@pytest.fixture(scope="module")
def s2lic_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("s2lic") / "made-by-api.s2lic"
    image = Image.fromarray(smooth_image(40, 56, seed=9))
    path.write_bytes(api_encode(image, quality=0.3, model=MODEL).data)
    return path


def test_decode_upload(s2lic_file: Path, settings: DemoSettings) -> None:
    header, image, png = app.on_decode(str(s2lic_file), settings)
    assert isinstance(image, Image.Image) and image.size == (56, 40)
    assert png.is_file() and png.name == "made-by-api.png"
    for text in (MODEL, "56x40", "made-by-api.s2lic", "rans", "0.300"):
        assert text in header
    size = s2lic_file.stat().st_size
    assert f"{size:,} bytes" in header
    assert "| adaptation | none (container v1) |" in header


def test_effort_2_file_carries_decoder_tools(
    image_file: Path, settings: DemoSettings
) -> None:
    # Level 2 fits a FiLM update of the decoder and keeps it in the file when it
    # lowers the real cost: the download is a version-2 file that the Decode tab
    # decodes to the pixels the comparison showed.
    out = app.on_compress(str(image_file), "quality", 0.5, None, [], settings, effort=2)
    comparison = out["comparison"]
    assert out["rows"][0][0] == f"s2lic ({MODEL}, effort 2)"
    assert "at encoder effort 2 (docs/effort.md)" in out["status"]
    header, image, _ = app.on_decode(str(out["s2lic_path"]), settings)
    assert np.array_equal(np.asarray(image.convert("RGB")), comparison.s2lic.decoded)
    tools = r"\| adaptation \| [0-9,]+ bytes of per-image decoder tools"
    assert re.search(tools + r" \(container v2\) \|", header), header


def test_decode_rejects_bad_files(
    s2lic_file: Path, image_file: Path, tmp_path: Path, settings: DemoSettings
) -> None:
    def decode(path: Path | None) -> str:
        with pytest.raises(gr.Error) as excinfo:
            app.on_decode(None if path is None else str(path), settings)
        return _error_text(excinfo)

    data = s2lic_file.read_bytes()
    corrupt = tmp_path / "corrupt.s2lic"
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0x55
    corrupt.write_bytes(bytes(flipped))
    assert "corrupt" in decode(corrupt)
    truncated = tmp_path / "short.s2lic"
    truncated.write_bytes(data[: len(data) - 7])
    assert "truncated" in decode(truncated) or "corrupt" in decode(truncated)
    text = tmp_path / "notes.txt"
    text.write_bytes(b"hello")
    assert decode(text) == "'notes.txt' is not an .s2lic file"
    assert "compress it" in decode(image_file)
    assert "upload an .s2lic file" in decode(None)
    # A file that declares more pixels than this server accepts.
    big = tmp_path / "big.s2lic"
    big.write_bytes(api_encode(Image.new("RGB", (400, 300)), model=MODEL).data)
    assert "pixels" in decode(big)


# -------------------------------------------------------------------------------------
# Page, examples and the command line


def test_model_notice_says_when_weights_are_untrained(
    settings: DemoSettings,
) -> None:
    notice = model_notice(settings)
    assert MODEL in notice
    loaded = get_codec(MODEL, "cpu", None)
    assert ("no trained weights" in notice) == (not loaded.trained)


def test_example_images() -> None:
    paths = example_paths()
    assert [p.name for p in paths] == ["kitten.jpg"]
    with Image.open(paths[0]) as im:
        assert im.size == (756, 512)


def test_build_app(settings: DemoSettings) -> None:
    demo = app.build_app(settings)
    assert isinstance(demo, gr.Blocks)
    config = demo.get_config_file()
    ids = {c.get("props", {}).get("elem_id") for c in config["components"]}
    assert {"input-file", "compress", "compare-slider", "results-table"} <= ids
    assert {"download-s2lic", "zoom", "decode-file", "model-notice", "effort"} <= ids


@pytest.mark.parametrize("max_effort", [0, 1, MAX_EFFORT])
def test_effort_control_follows_the_server_limit(
    settings: DemoSettings, max_effort: int
) -> None:
    demo = app.build_app(replace(settings, max_effort=max_effort))
    (props,) = [
        c["props"]
        for c in demo.get_config_file()["components"]
        if c.get("props", {}).get("elem_id") == "effort"
    ]
    assert props["visible"] is (max_effort > 0)
    assert props["value"] == 0
    assert props["step"] == 1
    assert props["label"] == "encoder effort (0 = fastest)"
    if max_effort:
        assert props["maximum"] == max_effort
        # The help names the time of every level offered, and of none above.
        assert f" at {max_effort} " in props["info"]
        assert f" at {max_effort + 1} " not in props["info"]


@pytest.fixture
def no_gradio(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # None in sys.modules makes `import gradio` fail as if it were not installed.
    monkeypatch.setitem(sys.modules, "gradio", None)
    monkeypatch.delitem(sys.modules, "s2lic.web.app", raising=False)
    yield


def test_cli_without_gradio_says_what_to_install(
    no_gradio: None, capsys: pytest.CaptureFixture[str]
) -> None:
    from s2lic.cli.__main__ import main

    assert main(["web", "--model", MODEL]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith("s2lic: error:") and "pip install 's2lic[web]'" in err


def test_cli_web_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    from s2lic.cli.__main__ import main

    assert main(["web", "--help"]) == 0
    out = capsys.readouterr().out
    for option in ("--host", "--port", "--device", "--model", "--max-pixels"):
        assert option in out
    assert "--max-effort" in out and "--max-refine" not in out
    assert f"(default {DEFAULT_WEB_MAX_EFFORT};" in out
    assert main(["web", "--max-effort", "-1"]) == 2
    assert "must be at least 0" in capsys.readouterr().err
    assert main(["web", "--max-effort", str(MAX_EFFORT + 1)]) == 2
    assert f"must be at most {MAX_EFFORT}" in capsys.readouterr().err
    assert main(["web", "--max-effort", "1.5"]) == 2
    assert "not an integer" in capsys.readouterr().err
    assert main(["web", "--port", "70000"]) == 1
    assert "--port must be at most 65535" in capsys.readouterr().err
    assert main(["web", "--model", "nope"]) == 2
