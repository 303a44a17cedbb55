"""``s2lic eval`` run in-process on two tiny generated images.

The tiny model at two qualities and JPEG at three, one worker (in-process) so that
monkeypatched codecs take effect. Bad arguments must each give one ``s2lic: error:``
line and exit status 1 before anything is measured.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from s2lic.cli.__main__ import main
from s2lic.eval import codecs as lineup
from s2lic.eval import runner
from s2lic.eval.classical import ClassicalCodec
from tests.conftest import smooth_image

FAST = ("--codecs", "s2lic-tiny,jpeg", "--qualities", "0.25,0.75")
JPEG = ("--qualities", "jpeg=10,50,90", "--workers", "1")
Run = Callable[..., tuple[int, str, str]]
OUTPUTS = {
    runner.CSV_NAME,
    "s2lic-tiny.json",
    "jpeg.json",
    "results.md",
    "rd-psnr.png",
    "rd-psnr.svg",
    "rd-ms-ssim.png",
    "rd-ms-ssim.svg",
}


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Run:
    """Run ``main(args)`` and return (exit status, stdout, stderr)."""

    def run(*args: str | os.PathLike[str]) -> tuple[int, str, str]:
        code = main(["eval", *(os.fspath(a) for a in args)])
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    """Two 48x64 PNGs in ``tmp_path/data/tiny``."""
    folder = tmp_path / "data" / "tiny"
    folder.mkdir(parents=True)
    for i in range(2):
        Image.fromarray(smooth_image(48, 64, seed=i)).save(folder / f"im{i}.png")
    return folder


@pytest.fixture
def references(tmp_path: Path) -> Path:
    """A reference folder with one VTM-like curve (no MS-SSIM, no times)."""
    folder = tmp_path / "reference"
    folder.mkdir()
    doc = {
        "name": "VTM",
        "results": {"bpp": [0.5, 1, 2, 4], "psnr-rgb": [30, 33, 37, 42]},
    }
    (folder / "vtm.json").write_text(json.dumps(doc))
    return folder


def assert_one_error(code: int, err: str, pattern: str) -> None:
    assert code == 1
    errors = [line for line in err.splitlines() if line.startswith("s2lic: error: ")]
    assert len(errors) == 1 and pattern in errors[0], err
    assert "Traceback" not in err


def test_eval_writes_every_output_and_resumes(
    cli: Run,
    dataset: Path,
    references: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = tmp_path / "out"
    code, stdout, err = cli(
        dataset, *FAST, *JPEG, "--out", out, "--reference", references
    )
    assert code == 0, err
    assert "Traceback" not in err
    assert set(os.listdir(out)) == OUTPUTS
    assert f"results in '{out}'" in stdout
    assert "| s2lic-tiny (ours, random weights) |" in stdout
    assert "vs VTM" in stdout  # the reference table
    doc = json.loads((out / "jpeg.json").read_text())
    assert len(doc["results"]["bpp"]) == len(doc["results"]["psnr-rgb"]) == 3
    csv_lines = (out / runner.CSV_NAME).read_text().splitlines()
    assert len(csv_lines) == 1 + 2 * (2 + 3)
    md = (out / "results.md").read_text()
    assert "BD-rate PSNR vs jpeg" in md and "vs VTM" in md
    assert "WARNING: s2lic-tiny has no trained weights" in md
    before = {name: (out / name).read_bytes() for name in OUTPUTS - {"results.md"}}

    def boom(*args: object) -> bytes:
        raise AssertionError("a finished point was encoded again")

    monkeypatch.setattr(lineup.S2LICCodec, "encode", boom)
    monkeypatch.setattr(ClassicalCodec, "encode", boom)
    code, stdout, err = cli(
        dataset, *FAST, *JPEG, "--out", out, "--reference", references
    )
    assert code == 0, err
    assert "measured 0 new points" in stdout
    assert {name: (out / name).read_bytes() for name in before} == before


@pytest.mark.parametrize("name", ["tiny", "kodak"])
def test_published_curves_need_the_same_images(
    cli: Run, dataset: Path, references: Path, tmp_path: Path, name: str
) -> None:
    """A run on part of a dataset gets no BD-rates against its published curves."""
    dataset = dataset.rename(dataset.with_name(name))
    whole = 24 if name == "kodak" else 2  # Kodak's published curves: 24 images
    args = ("--codecs", "jpeg", *JPEG, "--reference", references)
    code, stdout, err = cli(dataset, *args, "--limit", "1", "--out", tmp_path / "a")
    assert code == 0, err
    note = f"measured on {whole} images, this evaluation on 1"
    assert "vs VTM" not in stdout and note in stdout
    md = (tmp_path / "a" / "results.md").read_text()
    assert "vs VTM" not in md and note in md
    code, stdout, err = cli(dataset, *args, "--out", tmp_path / "b")
    assert code == 0, err
    assert ("vs VTM" in stdout) == (name == "tiny")
    assert ("measured on 24 images, this evaluation on 2" in stdout) == (
        name == "kodak"
    )


def test_limit_and_default_out(
    cli: Run,
    dataset: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    code, stdout, err = cli(
        dataset, "--codecs", "jpeg", "--qualities", "jpeg=20,80", "--limit", "1"
    )
    assert code == 0, err
    lines = (tmp_path / "eval-tiny" / runner.CSV_NAME).read_text().splitlines()
    assert len(lines) == 1 + 2 and all(",im0.png," in line for line in lines[1:])
    assert "1 images, 1 codecs" in stdout


def test_missing_library_is_skipped(
    cli: Run,
    dataset: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ClassicalCodec, "unavailable", lambda self: "libfake missing")
    code, _, err = cli(dataset, *FAST, *JPEG, "--anchor", "jpeg", "--out", tmp_path)
    assert_one_error(code, err, "--anchor jpeg cannot run here: libfake missing")
    code, stdout, err = cli(dataset, *FAST, *JPEG, "--out", tmp_path / "o")
    assert code == 0, err
    assert "s2lic: warning: skipping jpeg: libfake missing" in err
    assert not (tmp_path / "o" / "jpeg.json").exists()
    assert (
        "jpeg not measured**: libfake missing"
        in (tmp_path / "o" / "results.md").read_text()
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--codecs", "jpeg,gif"), "unknown codec 'gif'"),
        (("--codecs", "jpeg", "--qualities", "0.5"), "applies to the s2lic models"),
        (("--codecs", "jpeg", "--qualities", "webp=50"), "not among the codecs"),
        (("--codecs", "s2lic-tiny", "--qualities", "0.5,1.5"), "must be in [0, 1]"),
        (("--codecs", "jpeg", "--anchor", "vtm"), "--anchor 'vtm' is neither"),
        (("--codecs", "jpeg", "--reference", "nowhere"), "does not exist"),
    ],
)
def test_bad_arguments(
    cli: Run,
    dataset: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: tuple[str, ...],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)  # relative paths such as 'nowhere' resolve here
    code, _, err = cli(dataset, *args, "--out", tmp_path / "o")
    assert_one_error(code, err, message)
    assert not (tmp_path / "o" / runner.CSV_NAME).exists()


def test_bad_dataset_and_output(cli: Run, tmp_path: Path, dataset: Path) -> None:
    code, _, err = cli(tmp_path / "missing", "--codecs", "jpeg")
    assert_one_error(code, err, "does not exist")
    (tmp_path / "empty").mkdir()
    code, _, err = cli(tmp_path / "empty", "--codecs", "jpeg")
    assert_one_error(code, err, "no images in")
    (tmp_path / "file").write_text("x")
    code, _, err = cli(dataset, "--codecs", "jpeg", "--out", tmp_path / "file" / "o")
    assert_one_error(code, err, "cannot create output directory")
    code, _, err = cli(dataset, "--codecs", "jpeg", "--out", dataset)
    assert_one_error(code, err, "must not be the dataset directory")


def test_quality_syntax_is_a_usage_error(cli: Run, dataset: Path) -> None:
    code, _, err = cli(dataset, "--qualities", "jpeg=ten")
    assert code == 2 and "expected [CODEC=]Q,Q,..." in err
