"""The ``s2lic`` command line, run in-process through `main` (plus one real process).

Every run uses the tiny model (seeded random weights) on images of a few thousand
pixels, so the whole file takes seconds. Bad inputs must each give exactly one
``s2lic: error:`` line, exit status 1, no traceback, and leave the directory as it was.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import subprocess
import sys
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from s2lic.cli import common
from s2lic.cli.__main__ import main
from s2lic.codec.api import encode as api_encode
from s2lic.codec.registry import get_spec, list_models
from s2lic.codec.zoo import save_weights
from s2lic.entropy.bitstream import read_header
from s2lic.entropy.coders import list_coders
from s2lic.entropy.errors import LimitError
from tests.conftest import smooth_image

MODEL = ("--model", "s2lic-tiny")
Run = Callable[..., tuple[int, str, str]]

# -------------------------------------------------------------------------------------
# Helpers


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Run:
    """Run ``main(args)`` and return (exit status, stdout, stderr)."""

    def run(*args: str | os.PathLike[str]) -> tuple[int, str, str]:
        code = main([os.fspath(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def assert_clean_stderr(err: str) -> None:
    """No traceback; every line is one of our one-line diagnostics."""
    assert "Traceback" not in err
    for line in err.splitlines():
        assert line.startswith("s2lic: "), err


def assert_one_error(code: int, err: str, phrase: str) -> None:
    assert code == 1, err
    assert_clean_stderr(err)
    errors = [ln for ln in err.splitlines() if ln.startswith("s2lic: error: ")]
    assert len(errors) == 1, err
    assert phrase.lower() in errors[0].lower(), errors[0]


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def rgb_image(h: int = 40, w: int = 56, seed: int = 0) -> Image.Image:
    return Image.fromarray(smooth_image(h, w, seed))


def rgba_image(h: int = 40, w: int = 56) -> Image.Image:
    yy, xx = np.mgrid[0:h, 0:w]
    alpha = (255 * (xx / (w - 1) + yy / (h - 1)) / 2).round().astype(np.uint8)
    return Image.fromarray(np.dstack([smooth_image(h, w, 1), alpha]))


def save(img: Image.Image, path: Path) -> Path:
    img.save(path)
    return path


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * math.log10(255**2 / mse) if mse else math.inf


@pytest.fixture(scope="module")
def s2lic_bytes() -> bytes:
    """A valid RGB `.s2lic` file of the tiny model."""
    return api_encode(rgb_image(), model="s2lic-tiny").data


@pytest.fixture
def s2lic_file(tmp_path: Path, s2lic_bytes: bytes) -> Path:
    path = tmp_path / "photo.s2lic"
    path.write_bytes(s2lic_bytes)
    return path


# -------------------------------------------------------------------------------------
# Round trips

ENCODE_LINE = re.compile(
    r"^(\S+) -> (\S+): [\d,]+ bytes, \d+\.\d{3} bpp, quality \d\.\d{3}, \d+\.\d{2} s$"
)
DECODE_LINE = re.compile(r"^(\S+) -> (\S+): (\d+)x(\d+) (L|LA|RGB|RGBA), \d+\.\d{2} s$")


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: rgb_image(), id="rgb-40x56"),
        pytest.param(lambda: Image.fromarray(smooth_image(40, 56)[..., 0]), id="gray"),
        pytest.param(lambda: rgba_image(), id="rgba-gradient"),
        pytest.param(lambda: rgb_image(1, 1), id="1x1"),
        pytest.param(lambda: rgb_image(65, 3), id="65x3"),
    ],
)
def test_round_trip_keeps_size_and_mode(
    cli: Run, tmp_path: Path, make: Callable[[], Image.Image]
) -> None:
    original = make()
    src = save(original, tmp_path / "photo.png")
    code, out, err = cli("encode", src, *MODEL)
    assert code == 0, err
    assert_clean_stderr(err)
    m = ENCODE_LINE.match(out.strip())
    assert m, out
    assert m.groups() == (str(src), str(tmp_path / "photo.s2lic"))

    src.rename(tmp_path / "original.png")  # the decoder's default output is photo.png
    code, out, err = cli("decode", tmp_path / "photo.s2lic")
    assert code == 0, err
    m = DECODE_LINE.match(out.strip())
    assert m, out
    assert m.group(2) == str(tmp_path / "photo.png")
    assert (int(m.group(3)), int(m.group(4)), m.group(5)) == (
        original.width,
        original.height,
        original.mode,
    )
    with Image.open(tmp_path / "photo.png") as decoded:
        assert decoded.format == "PNG"
        assert decoded.size == original.size
        assert decoded.mode == original.mode
        a, b = np.asarray(decoded), np.asarray(original)
    if original.mode == "RGBA":
        np.testing.assert_array_equal(a[..., 3], b[..., 3])  # alpha is lossless
    assert math.isfinite(psnr(a[..., :3], b[..., :3])) or np.array_equal(a, b)
    assert listing(tmp_path) == ["original.png", "photo.png", "photo.s2lic"]


@pytest.mark.parametrize("coder", list_coders())
def test_each_coder_round_trips(cli: Run, tmp_path: Path, coder: str) -> None:
    src = save(rgb_image(), tmp_path / "a.png")
    code, _, err = cli("encode", src, *MODEL, "--coder", coder, "-q", "0.3")
    assert code == 0, err
    code, out, err = cli("info", tmp_path / "a.s2lic", "--json")
    assert code == 0, err
    info = json.loads(out)
    assert info["coder"] == coder
    assert info["quality"] == pytest.approx(0.3, abs=1e-4)
    code, _, err = cli("decode", tmp_path / "a.s2lic", "-o", tmp_path / "b.png")
    assert code == 0, err
    with Image.open(tmp_path / "b.png") as img:
        assert img.size == (56, 40)


def test_bpp_target(cli: Run, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    src = save(rgb_image(), tmp_path / "a.png")
    target = 6.0
    code, out, err = cli("encode", src, *MODEL, "--bpp", str(target))
    assert code == 0, err
    assert_clean_stderr(err)
    size = (tmp_path / "a.s2lic").stat().st_size
    assert 8 * size / (40 * 56) <= target
    # Unreachable: the lowest quality is used, with a warning.
    code, out, err = cli("encode", src, *MODEL, "--bpp", "0.001", "--force")
    assert code == 0, err
    assert_clean_stderr(err)
    assert "s2lic: warning:" in err and "lowest quality" in err
    assert any(
        r.levelname == "WARNING" and "lowest quality" in r.getMessage()
        for r in caplog.records
    )
    assert "quality 0.000" in out


def test_refine(cli: Run, tmp_path: Path) -> None:
    src = save(rgb_image(), tmp_path / "a.png")
    code, out, err = cli("encode", src, *MODEL, "-q", "0.9", "--refine", "3")
    assert code == 0, err
    assert_clean_stderr(err)
    assert ENCODE_LINE.match(out.strip()), out
    plain = api_encode(Image.open(src), quality=0.9, model="s2lic-tiny")
    refined = (tmp_path / "a.s2lic").read_bytes()
    assert refined != plain.data
    assert read_header(refined).quality == plain.header.quality
    code, _, err = cli("decode", tmp_path / "a.s2lic", "-o", tmp_path / "b.png")
    assert code == 0, err


def test_effort(cli: Run, tmp_path: Path) -> None:
    src = save(rgb_image(), tmp_path / "a.png")
    code, out, err = cli("encode", src, *MODEL, "-q", "0.9", "--effort", "2")
    assert code == 0, err
    assert_clean_stderr(err)
    assert ENCODE_LINE.match(out.strip()), out
    data = (tmp_path / "a.s2lic").read_bytes()
    want = api_encode(Image.open(src), quality=0.9, model="s2lic-tiny", effort=2)
    assert data == want.data
    code, _, err = cli("decode", tmp_path / "a.s2lic", "-o", tmp_path / "b.png")
    assert code == 0, err
    code, out, err = cli("info", tmp_path / "a.s2lic")
    assert code == 0 and "adaptation:" in out
    code, _, err = cli("encode", src, *MODEL, "--effort", "9", "-f")
    assert code == 2 and "invalid choice: 9" in err


class _Bar:
    """Records what `s2lic encode` tells its progress bar."""

    def __init__(self) -> None:
        self.total = 0
        self.events: list[tuple[str, object]] = []

    @contextlib.contextmanager
    def __call__(self, total: int, label: str) -> Iterator[_Bar]:
        self.total = total
        yield self

    def start(self, name: str) -> None:
        self.events.append(("start", name))

    def advance(self, n: int = 1) -> None:
        self.events.append(("advance", n))


def test_refinement_progress_counts_steps(
    cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bar = _Bar()
    monkeypatch.setattr("s2lic.cli.common.progress", bar)
    good = save(rgb_image(), tmp_path / "a.png")
    bad = tmp_path / "b.png"
    bad.write_bytes(b"not an image")
    dest = tmp_path / "out"
    dest.mkdir()
    code, _, _ = cli("encode", good, bad, "-o", dest, *MODEL, "--refine", "3")
    assert code == 1  # b.png failed; a.png was refined and written
    assert bar.total == 6  # 2 files x 3 steps: one file alone gets a bar too
    assert bar.events == [
        ("start", "a.png"),
        *[("advance", 1)] * 3,
        ("advance", 0),
        ("start", "b.png"),
        ("advance", 3),  # a failed file counts as done
    ]
    bar.events.clear()
    code, _, _ = cli("encode", good, "-o", dest, *MODEL, "--force")
    assert code == 0 and bar.total == 1
    assert bar.events == [("start", "a.png"), ("advance", 1)]


def test_several_inputs_into_directory(cli: Run, tmp_path: Path) -> None:
    srcs = [save(rgb_image(seed=i), tmp_path / f"img{i}.png") for i in range(3)]
    dest = tmp_path / "out"
    dest.mkdir()
    code, out, err = cli("encode", *srcs, "-o", dest, *MODEL)
    assert code == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 3 and all(ENCODE_LINE.match(ln) for ln in lines)
    assert listing(dest) == ["img0.s2lic", "img1.s2lic", "img2.s2lic"]
    code, out, err = cli("decode", *sorted(dest.iterdir()), "-o", dest)
    assert code == 0, err
    assert len(out.strip().splitlines()) == 3
    assert len(listing(dest)) == 6


def test_several_inputs_need_an_output_directory(cli: Run, tmp_path: Path) -> None:
    srcs = [save(rgb_image(seed=i), tmp_path / f"img{i}.png") for i in range(2)]
    before = listing(tmp_path)
    code, _, err = cli("encode", *srcs, "-o", tmp_path / "x.s2lic", *MODEL)
    assert_one_error(code, err, "must be an existing directory")
    assert listing(tmp_path) == before


def test_a_failing_file_does_not_stop_the_others(cli: Run, tmp_path: Path) -> None:
    good = [save(rgb_image(seed=i), tmp_path / f"g{i}.png") for i in range(2)]
    code, out, err = cli("encode", good[0], tmp_path / "missing.png", good[1], *MODEL)
    assert code == 1
    assert_clean_stderr(err)
    assert len(out.strip().splitlines()) == 2
    assert (tmp_path / "g0.s2lic").is_file() and (tmp_path / "g1.s2lic").is_file()
    errors = [ln for ln in err.splitlines() if ln.startswith("s2lic: error:")]
    assert len(errors) == 2  # the file, then the summary
    assert "missing.png" in errors[0] and "no such file" in errors[0]
    assert "1 of 3 files failed" in errors[1]


# -------------------------------------------------------------------------------------
# Bad inputs


def _not_an_image(p: Path) -> Path:
    p.write_text("hello, this is text\n")
    return p


def _empty(p: Path) -> Path:
    p.write_bytes(b"")
    return p


def _directory(p: Path) -> Path:
    p.mkdir()
    return p


@pytest.mark.parametrize(
    ("make", "extra", "phrase"),
    [
        (lambda p: p, (), "no such file"),
        (_directory, (), "directory"),
        (_not_an_image, (), "not an image"),
        (_empty, (), "empty"),
        (lambda p: save(rgb_image(), p), ("--max-pixels", "1000"), "above the limit"),
    ],
    ids=["missing", "directory", "not-an-image", "empty", "max-pixels"],
)
def test_encode_bad_input(
    cli: Run,
    tmp_path: Path,
    make: Callable[[Path], Path],
    extra: tuple[str, ...],
    phrase: str,
) -> None:
    src = make(tmp_path / "in.png")
    before = listing(tmp_path)
    code, out, err = cli("encode", src, *MODEL, *extra)
    assert_one_error(code, err, phrase)
    assert out == ""
    assert listing(tmp_path) == before


def test_encode_refuses_an_s2lic_file(
    cli: Run, tmp_path: Path, s2lic_file: Path
) -> None:
    code, _, err = cli("encode", s2lic_file, *MODEL, "-o", tmp_path / "x.s2lic")
    assert_one_error(code, err, "s2lic decode")
    assert listing(tmp_path) == ["photo.s2lic"]


def _flip_bit(data: bytes) -> bytes:
    b = bytearray(data)
    b[len(b) // 2] ^= 0x10
    return bytes(b)


def _other_weights_id(data: bytes) -> bytes:
    b = bytearray(data[:-4])
    b[8:12] = bytes(x ^ 0xFF for x in b[8:12])  # weights_id, see docs/format.md
    return bytes(b) + zlib.crc32(b).to_bytes(4, "little")


@pytest.mark.parametrize(
    ("mutate", "phrase"),
    [
        (lambda d: d[: len(d) // 2], "truncated"),
        (_flip_bit, "corrupted"),
        (lambda d: b"", "empty"),
        (lambda d: os.urandom(300), "not an .s2lic file"),
        (_other_weights_id, "no release of s2lic shipped weights of s2lic-tiny"),
    ],
    ids=["truncated", "bit-flip", "empty", "random-bytes", "weights-id"],
)
def test_decode_bad_file(
    cli: Run,
    tmp_path: Path,
    s2lic_bytes: bytes,
    mutate: Callable[[bytes], bytes],
    phrase: str,
) -> None:
    src = tmp_path / "bad.s2lic"
    src.write_bytes(mutate(s2lic_bytes))
    code, out, err = cli("decode", src)
    assert_one_error(code, err, phrase)
    assert "bad.s2lic" in err
    assert out == ""
    assert listing(tmp_path) == ["bad.s2lic"]


def test_decode_png_input(cli: Run, tmp_path: Path) -> None:
    src = save(rgb_image(), tmp_path / "photo.png")
    code, _, err = cli("decode", src, "-o", tmp_path / "out.png")
    assert_one_error(code, err, "looks like a PNG image")
    assert listing(tmp_path) == ["photo.png"]


@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_decode_missing_or_directory(cli: Run, tmp_path: Path, kind: str) -> None:
    src = tmp_path / "in.s2lic"
    if kind == "directory":
        src.mkdir()
    code, _, err = cli("decode", src)
    assert_one_error(code, err, "no such file" if kind == "missing" else "directory")
    assert listing(tmp_path) == ([] if kind == "missing" else ["in.s2lic"])


def test_decode_max_pixels(cli: Run, tmp_path: Path, s2lic_file: Path) -> None:
    code, _, err = cli("decode", s2lic_file, "--max-pixels", "1000")
    assert_one_error(code, err, "use --max-pixels")
    assert listing(tmp_path) == ["photo.s2lic"]


def test_verbose_shows_debug(cli: Run, tmp_path: Path) -> None:
    src = save(rgb_image(), tmp_path / "a.png")
    code, _, err = cli("encode", src, *MODEL, "-v")
    assert code == 0, err
    assert_clean_stderr(err)
    assert "s2lic: debug: model s2lic-tiny on cpu" in err
    code, _, err = cli("encode", src, *MODEL, "-o", tmp_path / "b.s2lic")
    assert "debug" not in err


def test_decode_with_other_weights_file(
    cli: Run, tmp_path: Path, s2lic_file: Path
) -> None:
    spec = get_spec("s2lic-tiny")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        model = spec.factory(spec.config)
    weights = tmp_path / "other.safetensors"
    save_weights(spec, model, weights)
    code, _, err = cli("decode", s2lic_file, "--weights", weights)
    assert_one_error(code, err, "other weights")
    assert listing(tmp_path) == ["other.safetensors", "photo.s2lic"]


def test_missing_weights_file(cli: Run, tmp_path: Path) -> None:
    src = save(rgb_image(), tmp_path / "a.png")
    code, _, err = cli("encode", src, *MODEL, "--weights", tmp_path / "no.safetensors")
    assert_one_error(code, err, "missing")
    assert listing(tmp_path) == ["a.png"]


def test_decode_input_size_is_checked_before_reading(tmp_path: Path) -> None:
    big = tmp_path / "big.s2lic"
    big.write_bytes(b"S2LC" + bytes(100))
    with pytest.raises(LimitError, match="above the limit"):
        common.read_input(big, limit=50)


# -------------------------------------------------------------------------------------
# Outputs


def test_existing_output_needs_force(cli: Run, tmp_path: Path) -> None:
    src = save(rgb_image(), tmp_path / "a.png")
    out = tmp_path / "a.s2lic"
    out.write_bytes(b"keep me")
    code, stdout, err = cli("encode", src, *MODEL)
    assert_one_error(code, err, "already exists")
    assert "--force" in err and stdout == ""
    assert out.read_bytes() == b"keep me"
    assert listing(tmp_path) == ["a.png", "a.s2lic"]

    code, _, err = cli("encode", src, *MODEL, "--force")
    assert code == 0, err
    assert read_header(out.read_bytes()).width == 56
    assert listing(tmp_path) == ["a.png", "a.s2lic"]

    png = tmp_path / "a.png"  # decoding next to the source image: exists
    code, _, err = cli("decode", out)
    assert_one_error(code, err, "already exists")
    code, _, err = cli("decode", out, "--force")
    assert code == 0, err
    with Image.open(png) as img:
        assert img.size == (56, 40)


def test_output_is_input(cli: Run, tmp_path: Path) -> None:
    src = save(rgb_image(), tmp_path / "a.png")
    before = src.read_bytes()
    code, _, err = cli("encode", src, *MODEL, "-o", src, "--force")
    assert_one_error(code, err, "is the input file")
    assert src.read_bytes() == before


def test_unwritable_output(cli: Run, tmp_path: Path, s2lic_file: Path) -> None:
    src = save(rgb_image(), tmp_path / "a.png")
    code, _, err = cli("encode", src, *MODEL, "-o", tmp_path / "nodir" / "a.s2lic")
    assert_one_error(code, err, "cannot write")
    code, _, err = cli("decode", s2lic_file, "-o", tmp_path / "a.png" / "x.png")
    assert_one_error(code, err, "cannot write")
    assert listing(tmp_path) == ["a.png", "photo.s2lic"]


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes anywhere"
)
def test_read_only_output_directory(cli: Run, tmp_path: Path) -> None:
    src = save(rgb_image(), tmp_path / "a.png")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        code, _, err = cli("encode", src, *MODEL, "-o", locked)
        assert_one_error(code, err, "permission denied")
        assert listing(locked) == []
    finally:
        locked.chmod(0o755)


def test_output_formats(cli: Run, tmp_path: Path) -> None:
    src = tmp_path / "a.s2lic"
    src.write_bytes(api_encode(rgba_image(), model="s2lic-tiny").data)
    code, _, err = cli("decode", src, "-o", tmp_path / "a.webp")
    assert code == 0, err
    with Image.open(tmp_path / "a.webp") as img:
        assert img.mode == "RGBA"
    code, _, err = cli("decode", src, "-o", tmp_path / "a.jpg")
    assert_one_error(code, err, "cannot write a RGBA image as JPEG")
    code, _, err = cli("decode", src, "-o", tmp_path / "a.xyz")
    assert_one_error(code, err, "use .png")
    assert listing(tmp_path) == ["a.s2lic", "a.webp"]


def test_lossy_output_warns(cli: Run, tmp_path: Path, s2lic_file: Path) -> None:
    code, out, err = cli("decode", s2lic_file, "-o", tmp_path / "a.jpg")
    assert code == 0, err
    assert_clean_stderr(err)
    assert "s2lic: warning:" in err and "lossy" in err
    assert "a.jpg: 56x40 RGB" in out


def test_atomic_write_publish_race(tmp_path: Path) -> None:
    dst = tmp_path / "out.bin"
    common.check_output(tmp_path / "in.png", dst, force=False)
    dst.write_bytes(b"someone else's")  # appears between the check and the publish
    with pytest.raises(common.OutputExistsError):
        common.atomic_write(dst, b"ours", force=False)
    assert dst.read_bytes() == b"someone else's"
    assert listing(tmp_path) == ["out.bin"]
    common.atomic_write(dst, b"ours", force=True)
    assert dst.read_bytes() == b"ours"
    assert listing(tmp_path) == ["out.bin"]


def test_interrupt_leaves_nothing(
    cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = save(rgb_image(), tmp_path / "a.png")

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)  # in the middle of the write
    code, out, err = cli("encode", src, *MODEL)
    assert code == 130 and out == ""
    assert "Traceback" not in err and "interrupted" in err
    assert listing(tmp_path) == ["a.png"]


# -------------------------------------------------------------------------------------
# Options


@pytest.mark.parametrize(
    ("args", "phrase"),
    [
        (("-q", "1.5"), "must be in [0, 1]"),
        (("-q", "nan"), "finite"),
        (("--bpp", "0"), "must be positive"),
        (("-q", "0.5", "--bpp", "1"), "not allowed with"),
        (("--model", "nope"), "invalid choice"),
        (("--max-pixels", "0"), "at least 1"),
        (("--refine", "0"), "at least 1"),
        (("--device", "tpu"), "cpu, cuda"),
    ],
)
def test_usage_errors(
    cli: Run, tmp_path: Path, args: tuple[str, ...], phrase: str
) -> None:
    code, out, err = cli("encode", tmp_path / "a.png", *args)
    assert code == 2 and out == ""
    assert phrase in err and "Traceback" not in err
    assert listing(tmp_path) == []


def test_no_command_is_a_usage_error(cli: Run) -> None:
    code, _, err = cli()
    assert code == 2 and "usage:" in err


# -------------------------------------------------------------------------------------
# info and models


def test_info_text_and_json(cli: Run, tmp_path: Path, s2lic_file: Path) -> None:
    code, out, err = cli("info", s2lic_file)
    assert code == 0, err
    header = read_header(s2lic_file.read_bytes())
    size = s2lic_file.stat().st_size
    assert "s2lic-tiny (id 3)" in out
    assert header.weights_id.hex() in out
    assert "56x40" in out and "RGB" in out
    assert f"{header.quality_value:.3f}" in out
    assert f"{size:,} bytes" in out

    code, out, err = cli("info", s2lic_file, "--json")
    assert code == 0, err
    info = json.loads(out)
    assert info["model"] == "s2lic-tiny" and info["model_id"] == 3
    assert info["weights_id"] == header.weights_id.hex()
    assert (info["width"], info["height"], info["mode"]) == (56, 40, "RGB")
    assert info["coder"] in list_coders()
    assert info["quality"] == pytest.approx(0.75, abs=1e-4)
    assert info["bytes"] == size and len(info["streams"]) == 2
    assert sum(info["streams"]) < size
    assert info["bpp"] == pytest.approx(8 * size / (56 * 40))

    copy = tmp_path / "copy.s2lic"
    copy.write_bytes(s2lic_file.read_bytes())
    code, out, err = cli("info", s2lic_file, copy, "--json")
    assert code == 0, err
    assert [i["file"] for i in json.loads(out)] == [str(s2lic_file), str(copy)]


def test_info_corrupt_and_unknown_model(
    cli: Run, tmp_path: Path, s2lic_bytes: bytes
) -> None:
    bad = tmp_path / "bad.s2lic"
    bad.write_bytes(_flip_bit(s2lic_bytes))
    code, out, err = cli("info", bad)
    assert_one_error(code, err, "corrupted")
    assert out == ""

    b = bytearray(s2lic_bytes[:-4])
    b[6:8] = (999).to_bytes(2, "little")  # model_id
    odd = tmp_path / "odd.s2lic"
    odd.write_bytes(bytes(b) + zlib.crc32(b).to_bytes(4, "little"))
    code, out, err = cli("info", odd)
    assert code == 0, err
    assert "unknown (id 999)" in out


def test_models(cli: Run) -> None:
    code, out, err = cli("models")
    assert code == 0, err
    for name in ("s2lic-paper", "s2lic-s", "s2lic-tiny"):
        assert name in out
    code, out, err = cli("-v", "models", "--json")
    assert code == 0, err
    rows = json.loads(out)
    assert [r["name"] for r in rows] == list_models()
    tiny = next(r for r in rows if r["name"] == "s2lic-tiny")
    assert tiny["id"] == 3 and 0 < tiny["parameters"] < 1_000_000
    assert isinstance(tiny["trained"], bool) and tiny["description"]


def test_console_script_runs(tmp_path: Path, s2lic_file: Path) -> None:
    """The installed ``s2lic`` entry point, in a real process (one, it is slow)."""
    bad = tmp_path / "x.s2lic"
    bad.write_bytes(b"not a codec file")
    script = Path(sys.executable).with_name("s2lic")
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "s2lic.cli"]
    proc = subprocess.run(
        [*cmd, "info", str(s2lic_file), str(bad)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 1
    assert "s2lic-tiny (id 3)" in proc.stdout
    assert proc.stderr.strip().splitlines() == [
        f"s2lic: error: '{bad}': not an .s2lic file (bad magic)"
    ]


def test_refine_advice_is_the_same_in_help_and_readme(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """One source for the --refine advice: codec.refine.ADVICE."""
    from s2lic.cli.encode import ADVICE

    assert main(["encode", "--help"]) == 0
    help_text = " ".join(capsys.readouterr().out.split())
    assert ADVICE[1:] in help_text
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    assert ADVICE in " ".join(readme.split())
