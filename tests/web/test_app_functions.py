"""The web demo without a browser: equal-size matching and the app's functions.

`s2lic.eval.match` is tested on real JPEG and WebP files of a generated image
(against an exhaustive search over the quality) and on synthetic size curves. The
demo's functions (`s2lic.web.comparison`, `views` and the `app` handlers) run the tiny
model (seeded random weights) on images of a few thousand pixels; every bad input must
end as a `gr.Error` with a one-line message, never as another exception.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

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


def test_compress_with_refinement(
    image_file: Path, settings: DemoSettings, compressed: dict[str, object]
) -> None:
    out = app.on_compress(
        str(image_file), "quality", 0.5, None, ["jpeg"], settings, refine=3.0
    )
    comparison = out["comparison"]
    plain = compressed["comparison"]
    assert comparison.refine == 3 and plain.refine == 0
    assert "3 steps of encoder-side refinement" in out["status"]
    assert "refinement" not in compressed["status"]
    assert out["rows"][0][0] == f"s2lic ({MODEL}, refined x3)"
    assert comparison.s2lic.data != plain.s2lic.data
    assert _rd_cost(comparison, 0.5) < _rd_cost(plain, 0.5)
    # JPEG is matched to the refined file's size.
    assert out["rows"][1][1] <= comparison.s2lic.size
    assert (
        read_header(out["s2lic_path"].read_bytes()).quality
        == read_header(plain.s2lic.data).quality
    )


def test_refinement_reports_its_steps(image_file: Path, settings: DemoSettings) -> None:
    reports: list[tuple[float, str]] = []
    image = load_upload(image_file, settings.max_pixels)
    compare(
        image,
        settings,
        quality=0.5,
        codecs=["jpeg"],
        refine=2,
        report=lambda *a: reports.append(a),
    )
    messages = [m for _, m in reports]
    assert messages[0] == f"encoding with {MODEL}, refining its latent (2 steps)"
    assert messages[1:3] == [
        "refining s2lic's latent: step 1 of 2",
        "refining s2lic's latent: step 2 of 2",
    ]
    fractions = [f for f, _ in reports]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        (-1, "whole number >= 0"),
        (1.5, "whole number >= 0"),
        (math.nan, "whole number >= 0"),
        (21, "at most 20 refinement steps"),
    ],
)
def test_compress_rejects_bad_refinement(
    image_file: Path, settings: DemoSettings, steps: float, message: str
) -> None:
    with pytest.raises(gr.Error) as excinfo:
        app.on_compress(
            str(image_file), "quality", 0.5, None, ["jpeg"], settings, refine=steps
        )
    assert message in _error_text(excinfo)


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
    assert {"download-s2lic", "zoom", "decode-file", "model-notice", "refine"} <= ids


@pytest.mark.parametrize("max_refine", [0, 7])
def test_refinement_control_follows_the_server_limit(
    settings: DemoSettings, max_refine: int
) -> None:
    demo = app.build_app(replace(settings, max_refine=max_refine))
    (props,) = [
        c["props"]
        for c in demo.get_config_file()["components"]
        if c.get("props", {}).get("elem_id") == "refine"
    ]
    assert props["visible"] is (max_refine > 0)
    assert props["value"] == 0
    if max_refine:
        assert props["maximum"] == max_refine


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
    assert "--max-refine" in out and "(default 20;" in out
    assert main(["web", "--max-refine", "-1"]) == 2
    assert "must be at least 0" in capsys.readouterr().err
    assert main(["web", "--port", "70000"]) == 1
    assert "--port must be at most 65535" in capsys.readouterr().err
    assert main(["web", "--model", "nope"]) == 2
