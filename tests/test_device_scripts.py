"""The GPU machine's commands (scripts/gpu_round.sh, scripts/gpu_checks.sh) run without
the packages that machine lacks (`tests/device_sim.py`), on tiny inputs on the CPU.

A device session has minutes, not hours: an import of a package that is only installed
here (rich, gradio, tomli_w, ...) must fail in CI, not on the GPU.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import smooth_image

ROOT = Path(__file__).resolve().parents[1]
SIM = ROOT / "tests" / "device_sim.py"


def run_on_device(*args: str | Path, timeout: float = 300) -> str:
    """Run `args` through the hider; stdout + stderr, asserting exit status 0."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(
        [sys.executable, str(SIM), *map(str, args)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    return out


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("device")
    for i in range(3):
        Image.fromarray(smooth_image(72, 96, seed=i)).save(folder / f"img{i}.png")
    return folder


def test_hider_hides() -> None:
    """The simulation itself: a hidden package is not importable, others are."""
    code = "import rich"
    proc = subprocess.run(
        [sys.executable, str(SIM), "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert "No module named 'rich'" in proc.stderr


def test_training_round_command(images: Path, tmp_path: Path) -> None:
    """gpu_round.sh's `s2lic train` call (tiny model, a few steps, a data worker).

    The second call of a round passes its own ``--data`` after the script's: the last
    one counts (here the first names a folder that does not exist).
    """
    out = tmp_path / "run"
    log = run_on_device(
        "-m", "s2lic.cli", "train", "--model", "s2lic-tiny",
        "--data", tmp_path / "not-this-run's-data",
        "--out", out, "--steps", "2", "--crop", "64", "--batch", "2",
        "--workers", "1", "--val-every", "1", "--log-every", "1", "--holdout", "1",
        "--device", "cpu", "--schedule-minutes", "12", "--data", images,
    )  # fmt: skip
    for name in ("last.safetensors", "run.json", "log.csv", "val.csv"):
        assert (out / name).stat().st_size > 0, name
    # round.log shows the precision, and that the second call resumed the first.
    assert "s2lic: info: training s2lic-tiny on cpu (" in log, log
    assert "s2lic: info: stopped at step 2" in log and "resumed" not in log, log
    log = run_on_device(
        "-m", "s2lic.cli", "train", "--model", "s2lic-tiny", "--data", images,
        "--out", out, "--steps", "3", "--crop", "64", "--batch", "2",
        "--workers", "0", "--holdout", "1", "--device", "cpu",
    )  # fmt: skip
    assert "s2lic: info: resumed" in log and "at step 2" in log, log
    assert "stopped at step 3" in log and "debug" not in log, log


def test_check_commands(images: Path) -> None:
    """gpu_checks.sh's determinism and speed benchmarks (the CPU stands in for CUDA)."""
    out = run_on_device(
        "benchmarks/determinism.py", images, "--qualities", "0.5", "--limit", "1",
        "--encode-device", "cpu", "--decode-device", "cpu",
    )  # fmt: skip
    assert "1 / 1 files decoded to identical symbols" in out, out
    out = run_on_device(
        "benchmarks/codec_speed.py", images, "--device", "cpu", "--coders", "rans",
        "--limit", "1",
    )  # fmt: skip
    assert "img0.png" in out, out
    out = run_on_device(
        "benchmarks/codec_speed.py", images, "--device", "cpu", "--coders", "rans",
        "--limit", "1", "--quality", "1", "--refine", "2",
    )  # fmt: skip
    assert "refine 2" in out and "img0.png" in out, out


def test_refine_lr_benchmark(images: Path) -> None:
    """benchmarks/refine_lr.py, the step-size sweep behind `refine.LR`."""
    out = run_on_device(
        "benchmarks/refine_lr.py", images / "img0.png", "--model", "s2lic-tiny",
        "--qualities", "0.5", "--lrs", "0.01,0.02", "--steps", "2",
        "--crop", "64", "64",
    )  # fmt: skip
    row = [line for line in out.splitlines() if line.startswith("| img0.png")]
    assert len(row) == 1 and row[0].count("(step ") == 2, out


def test_train_step_benchmark() -> None:
    """benchmarks/train_step.py, the batch-size sweep a GPU round can start with."""
    out = run_on_device(
        "benchmarks/train_step.py", "--model", "s2lic-tiny", "--device", "cpu",
        "--crop", "64", "--batches", "1,2", "--steps", "1", "--warmup", "0", "--ops",
    )  # fmt: skip
    rows = [line for line in out.splitlines() if line.startswith("| ")]
    assert [r.split("|")[1].strip() for r in rows[1:]] == ["1", "2"], out
    assert "leaf operators in one step" in out, out


def test_golden_files_collect_without_the_absent_packages() -> None:
    """gpu_checks.sh decodes the golden files with pytest on the GPU machine, which
    lacks tomli_w, rich and hypothesis (so no hypothesis plugin either)."""
    out = run_on_device(
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:hypothesispytest",
        "tests/codec/test_releases.py",
        "-k",
        "golden_files",
    )
    assert "passed" in out and "error" not in out.lower()
