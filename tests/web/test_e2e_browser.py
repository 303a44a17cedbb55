"""The web demo end to end: ``s2lic web`` in a process, driven by headless Chromium.

Needs Playwright (the ``test`` extra) and a Chromium binary (Debian's ``chromium``
package; Playwright's own browser download is not used). Without them the tests are
skipped with the reason, so a developer machine still runs the rest of the suite;
the CI installs both.

``S2LIC_SCREENSHOT=1`` also renders ``docs/img/web-demo.png`` from the bundled kitten
with the default model (``S2LIC_SCREENSHOT_MODEL`` to choose another).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from s2lic.codec.api import encode as api_encode
from s2lic.codec.registry import DEFAULT_MODEL
from s2lic.entropy.bitstream import MAGIC, read_header
from s2lic.web.comparison import DEFAULT_WEB_MAX_EFFORT

pytest.importorskip("gradio", reason="the web extra is not installed")
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (the test extra)"
)

CHROMIUM = os.environ.get("S2LIC_CHROMIUM") or shutil.which("chromium")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None or not os.access(CHROMIUM, os.X_OK),
    reason="no chromium executable (apt-get install chromium, or set S2LIC_CHROMIUM)",
)

# Headless on a closed network: without the background-networking switches Chromium
# keeps trying to reach Google's services.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
MODEL = "s2lic-tiny"
W, H = 256, 192
START_TIMEOUT_S = 120.0
CODING_TIMEOUT_MS = 120_000
REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _test_image() -> np.ndarray:
    """A smooth synthetic photo: enough detail to compress, quick for AVIF."""
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    channels = [
        128
        + 90 * np.sin(xx / 17 + c) * np.cos(yy / 11 - c)
        + 20 * np.sin(xx * yy / 900)
        for c in range(3)
    ]
    return np.clip(np.stack(channels, axis=-1), 0, 255).astype(np.uint8)


@contextlib.contextmanager
def _server(model: str, log_path: Path) -> Iterator[str]:
    """``s2lic web`` in a child process; yields its URL once it answers."""
    port = _free_port()
    env = {
        **os.environ,
        "GRADIO_ANALYTICS_ENABLED": "False",
        # The tests share the machine: one thread per process is plenty for them.
        "OMP_NUM_THREADS": "1",
        "PYTHONUNBUFFERED": "1",
    }
    cmd = [sys.executable, "-m", "s2lic.cli", "web", "--model", model]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [*cmd, "--host", "127.0.0.1", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"s2lic web exited: {log_path.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"s2lic web did not start: {log_path.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with _server(MODEL, tmp_path_factory.mktemp("server") / "log.txt") as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        # `launch` gives every run a fresh temporary profile.
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, server: str) -> Iterator[Any]:
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, accept_downloads=True
    )
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(server)
    page.wait_for_selector("#compress")
    yield page
    context.close()


@pytest.fixture(scope="module")
def image_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("in") / "garden.png"
    Image.fromarray(_test_image()).save(path)
    return path


def _table(page: Any) -> list[list[str]]:
    """The cells of the results table, row by row (the header row left out)."""
    rows = page.locator("#results-table [role=row]")
    cells = [
        rows.nth(i).locator("[role=gridcell]").all_inner_texts()
        for i in range(rows.count())
    ]
    return [[c.strip() for c in row] for row in cells if row]


def _number(text: str) -> float:
    return float(text.replace(",", "").replace("\u2212", "-"))


def _error_toast(page: Any) -> str:
    toast = page.locator("[data-testid=toast-body].error").first
    toast.wait_for(state="visible")
    return str(toast.inner_text())


def _compress(page: Any, path: Path, size: str) -> None:
    page.set_input_files("#input-file input[type=file]", str(path))
    page.wait_for_selector(f"#input-info:has-text('{size}')")
    page.locator("#compress").click()
    page.wait_for_selector(
        "#download-s2lic", state="visible", timeout=CODING_TIMEOUT_MS
    )


def test_compress_and_compare(page: Any, image_file: Path) -> None:
    notice = page.locator("#model-notice").inner_text()
    assert MODEL in notice
    _compress(page, image_file, f"{W}x{H}")

    # The slider shows two images: the original and s2lic's.
    slider_images = page.locator("#compare-slider img")
    assert slider_images.count() == 2
    assert all(slider_images.nth(i).get_attribute("src") for i in range(2)), (
        "slider images have no source"
    )

    rows = _table(page)
    names = ["s2lic", "JPEG 4:2:0", "WebP", "AVIF", "JPEG XL"]
    assert len(rows) == len(names)
    assert all(row[0].startswith(name) for row, name in zip(rows, names, strict=True))
    pixels = W * H
    s2lic_bytes = _number(rows[0][1])
    for row in rows:
        size, bpp, psnr = _number(row[1]), _number(row[2]), _number(row[5])
        assert size > 0 and bpp > 0
        assert bpp == pytest.approx(8 * size / pixels, abs=1e-3)
        assert 0 < psnr < 100
        assert 0 < _number(row[6]) <= 1  # MS-SSIM: both sides are >= 161 px
    # The classical files are matched to s2lic's size (at most its size unless the
    # table says the codec cannot get there).
    for row in rows[1:]:
        assert _number(row[1]) <= s2lic_bytes or "lowest quality" in row[3], row

    status = page.locator("#status").inner_text()
    assert f"{int(s2lic_bytes):,} bytes" in status

    # Zoom: the original and every codec, 4x.
    assert page.locator("#zoom img").count() == 1 + len(rows)

    # Download of the .s2lic file: a valid file of the uploaded image.
    with page.expect_download() as info:
        page.locator("#download-s2lic").click()
    download = info.value
    assert download.suggested_filename == "garden.s2lic"
    data = Path(download.path()).read_bytes()
    assert data[: len(MAGIC)] == MAGIC and len(data) == s2lic_bytes
    header = read_header(data)
    assert (header.width, header.height) == (W, H)
    with page.expect_download() as info:
        page.locator("#download-png").click()
    with Image.open(info.value.path()) as png:
        assert png.size == (W, H)

    # Another pair in the slider: JPEG on the left.
    before = slider_images.nth(0).get_attribute("src")
    page.locator("#left input").click()
    page.get_by_role("option", name="JPEG", exact=True).click()
    page.wait_for_function(
        "src => document.querySelector('#compare-slider img').src !== src", arg=before
    )


def test_compress_at_an_effort_level(page: Any, image_file: Path) -> None:
    # The server runs with the default limit: levels 0 to 2 are offered.
    rng = page.locator("#effort input[type=range]")
    assert rng.get_attribute("min") == "0"
    assert rng.get_attribute("max") == str(DEFAULT_WEB_MAX_EFFORT)
    number = page.locator("#effort input[type=number]")
    number.fill("1")
    number.press("Enter")
    _compress(page, image_file, f"{W}x{H}")
    rows = _table(page)
    assert rows[0][0] == f"s2lic ({MODEL}, effort 1)"
    status = page.locator("#status").inner_text()
    assert "at encoder effort 1 (docs/effort.md)" in status
    assert f"{int(_number(rows[0][1])):,} bytes" in status
    # The classical files are matched to the size of the effort-1 file.
    for row in rows[1:]:
        assert _number(row[1]) <= _number(rows[0][1]) or "lowest quality" in row[3]


def test_decode_an_s2lic_file(page: Any, tmp_path: Path) -> None:
    path = tmp_path / "from-api.s2lic"
    image = Image.fromarray(_test_image()[:96, :128])
    path.write_bytes(api_encode(image, quality=0.4, model=MODEL).data)

    page.get_by_role("tab", name="Decode .s2lic").click()
    page.set_input_files("#decode-file input[type=file]", str(path))
    page.wait_for_selector("#download-decoded", state="visible")
    header = page.locator("#decode-header").inner_text()
    for text in (MODEL, "128x96", "from-api.s2lic", f"{path.stat().st_size:,} bytes"):
        assert text in header
    assert page.locator("#decoded img").count() == 1

    # A corrupted copy: a message in the page, and the page keeps working.
    corrupt = tmp_path / "corrupt.s2lic"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    corrupt.write_bytes(bytes(data))
    page.locator("#decode-file button[aria-label='Clear']").click()
    page.set_input_files("#decode-file input[type=file]", str(corrupt))
    assert "corrupted" in _error_toast(page)


def test_a_non_image_shows_an_error(page: Any, tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not an image\n")
    page.set_input_files("#input-file input[type=file]", str(text))
    assert "'notes.txt': not an image" in _error_toast(page)
    # Compressing it anyway: the same message again, no result.
    page.locator("#compress").click()
    # Gradio groups equal messages in one toast.
    errors = page.locator("[data-testid=toast-text]", has_text="not an image")
    sync_api.expect(errors).to_have_count(2)
    assert page.locator("#download-s2lic").is_hidden()


@pytest.mark.skipif(
    os.environ.get("S2LIC_SCREENSHOT") != "1",
    reason="renders docs/img/web-demo.png only with S2LIC_SCREENSHOT=1",
)
def test_screenshot_for_the_docs(browser: Any, tmp_path: Path) -> None:
    model = os.environ.get("S2LIC_SCREENSHOT_MODEL", DEFAULT_MODEL)
    with _server(model, tmp_path / "log.txt") as url:
        context = browser.new_context(
            viewport={"width": 1280, "height": 900}, accept_downloads=True
        )
        page = context.new_page()
        page.goto(url)
        page.get_by_text("kitten.jpg", exact=True).click()
        page.wait_for_selector("#input-info:has-text('756x512')", timeout=60_000)
        page.locator("#compress").click()
        page.wait_for_selector(
            "#download-s2lic", state="visible", timeout=10 * CODING_TIMEOUT_MS
        )
        # Zoom into the kitten's face.
        before = page.locator("#zoom").inner_text()
        box = page.locator("#preview img").bounding_box()
        page.locator("#preview img").click(
            position={"x": box["width"] * 0.47, "y": box["height"] * 0.38}
        )
        page.wait_for_function(
            "text => { const t = document.querySelector('#zoom').innerText;"
            " return t !== text && t.includes('Original (')"
            " && [...document.querySelectorAll('[data-testid=status-tracker]')]"
            ".every(e => e.classList.contains('hide')); }",
            arg=before,
        )
        # Gallery images load lazily: scroll them into view, wait until decoded.
        page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        page.wait_for_function(
            "() => [...document.querySelectorAll('#zoom img')]"
            ".every(i => i.complete && i.naturalWidth > 0)"
        )
        page.evaluate("window.scrollTo(0, 0)")
        shot = tmp_path / "shot.png"
        page.screenshot(path=str(shot), full_page=True)
        out = REPO / "docs" / "img" / "web-demo.png"
        out.parent.mkdir(parents=True, exist_ok=True)
        # A dithered 256-colour palette halves the committed file; the photo
        # stays free of banding.
        with Image.open(shot) as im:
            rgb = im.convert("RGB")
        palette = rgb.quantize(256, method=Image.Quantize.MEDIANCUT)
        rgb.quantize(palette=palette, dither=Image.Dither.FLOYDSTEINBERG).save(
            out, optimize=True
        )
        context.close()
