"""Shipping weights: the better-than-shipped rule and the manifest it writes."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from s2lic.codec.registry import get_spec
from s2lic.codec.zoo import load_model, read_manifest, save_weights
from s2lic.eval.curves import Curve
from s2lic.train.ship import (
    average_weights,
    compare,
    kodak_record,
    record,
    ship,
)
from tests.conftest import tiny_variant


def _curve(bpp: list[float], psnr: list[float]) -> Curve:
    n = len(bpp)
    nan = (math.nan,) * n
    return Curve(
        "k", "k", "", tuple(bpp), tuple(psnr), nan, nan, nan, True, tuple(range(n))
    )


BASE = _curve([0.1, 0.3, 0.6, 1.0], [26.0, 29.0, 32.0, 35.0])


def test_nothing_shipped_accepts() -> None:
    assert compare(BASE, None).better


def test_fewer_bits_wins_and_more_loses() -> None:
    better = _curve([0.09, 0.27, 0.54, 0.9], list(BASE.psnr))
    worse = _curve([0.11, 0.33, 0.66, 1.1], list(BASE.psnr))
    win, lose = compare(better, BASE), compare(worse, BASE)
    assert win.better and win.bd_rate == pytest.approx(-10.0)
    assert not lose.better and lose.bd_rate == pytest.approx(10.0)


def test_a_gain_below_the_minimum_waits() -> None:
    slightly = _curve([0.0995, 0.2985, 0.597, 0.995], list(BASE.psnr))  # -0.5 %
    small = compare(slightly, BASE)
    assert not small.better and small.bd_rate == pytest.approx(-0.5)
    assert compare(slightly, BASE, min_gain=0.4).better


def test_psnr_ranges_apart_fall_back_to_bd_psnr() -> None:
    higher = _curve(list(BASE.bpp), [40.0, 43.0, 46.0, 49.0])
    verdict = compare(higher, BASE)
    assert verdict.better and verdict.bd_rate is None
    assert verdict.bd_psnr == pytest.approx(14.0)
    apart = _curve([5.0, 6.0], [60.0, 61.0])
    assert not compare(apart, BASE).better


def test_kodak_record_says_where_jpeg_is_ahead() -> None:
    jpeg = _curve([0.2, 0.5, 1.0, 2.0], [25.0, 30.0, 34.0, 38.0])
    ours = _curve([0.1, 0.5, 1.0, 1.5], [26.0, 31.0, 34.5, 36.0])
    kodak = kodak_record({"candidate": ours, "jpeg": jpeg})
    assert kodak["bd_rate_vs_jpeg"] < 0 and "bd_rate_vs_webp" not in kodak
    ahead, behind = kodak["vs_jpeg_at_equal_rate"]
    assert ahead["bpp"][0] == 0.2 and ahead["bpp"][1] == behind["bpp"][0]
    assert behind["bpp"][1] == 1.5
    assert ahead["psnr_db"] > 0 > behind["psnr_db"]


def test_average_weights(tmp_path: Path) -> None:
    loaded = load_model("s2lic-tiny")
    files = []
    for i, shift in enumerate((0.0, 0.25, 0.25)):
        with torch.no_grad():
            for p in loaded.model.parameters():
                p.add_(shift)
        files.append(tmp_path / f"w{i}.safetensors")
        save_weights(loaded.spec, loaded.model, files[-1])
    out = average_weights(files, "s2lic-tiny", tmp_path / "avg.safetensors")
    states = [load_file(f) for f in (*files, out)]
    names = [n for n, _ in loaded.model.named_parameters()]
    for name in names:
        mean = sum(s[name].float() for s in states[:3]) / 3
        torch.testing.assert_close(states[3][name].float(), mean, atol=2e-3, rtol=1e-3)
    # Offsets 0, 0.25 and 0.5 from the first: the mean is the middle file.
    for name in names:
        torch.testing.assert_close(
            states[3][name].float(), states[1][name].float(), atol=2e-3, rtol=1e-3
        )
    averaged = load_model("s2lic-tiny", "cpu", out)  # a valid weights file
    assert averaged.trained
    with pytest.raises(ValueError, match="no weights"):
        average_weights([], "s2lic-tiny", tmp_path / "none.safetensors")


def test_ship_and_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("S2LIC_WEIGHTS", str(tmp_path))
    (tmp_path / "manifest.toml").write_text("# header comment kept\n")
    loaded = load_model("s2lic-tiny")
    names = []
    for step in (0.1, 0.2):
        with torch.no_grad():
            next(loaded.model.parameters()).add_(step)
        candidate = tmp_path / "cand.safetensors"
        save_weights(loaded.spec, loaded.model, candidate)
        names.append(ship(candidate, "s2lic-tiny", tmp_path))
    (first, sha1), (name, sha) = names
    assert name == f"s2lic-tiny-{sha[:8]}.safetensors" and (tmp_path / name).is_file()
    assert (tmp_path / first).is_file()  # shipping keeps the weights shipped before
    kodak = {"bpp": [0.2], "psnr_rgb": [30.0], "bd_rate_vs_jpeg": -12.5}
    round1 = {"steps": 100, "minutes": 5.0, "where": "here", "trained_on": "cpu"}
    record("s2lic-tiny", first, sha1, round1, kodak, tmp_path, release="0.9.0")
    round2 = {**round1, "steps": 50, "minutes": 2.5, "trained_on": "gpu"}
    path = record("s2lic-tiny", name, sha, round2, {**kodak, "bpp": [0.1]}, tmp_path)
    assert path.read_text().startswith("# header comment kept")
    entry = read_manifest(tmp_path)["s2lic-tiny"]
    assert entry["default"] == sha[:8] and list(entry) == ["default", "weights"]
    old, new = entry["weights"][sha1[:8]], entry["weights"][sha[:8]]
    assert old["release"] == "0.9.0" and old["kodak"]["bpp"] == [0.2]
    assert new["parent"] == sha1[:8] and new["rounds"] == [round2]
    assert new["total_steps"] == 150 and len(old["rounds"]) == 1
    assert new["total_cpu_minutes"] == 5.0 and new["total_gpu_minutes"] == 2.5
    with pytest.raises(ValueError, match="trained_on"):
        record("s2lic-tiny", name, sha, {"steps": 1, "minutes": 1.0}, kodak, tmp_path)
    assert new["kodak"]["bd_rate_vs_jpeg"] == -12.5
    # The zoo now loads the newest weights by default, verified by sha256.
    shipped = load_model("s2lic-tiny")
    assert shipped.trained and shipped.weights_id == bytes.fromhex(sha)[:4]


def test_record_keeps_the_design_of_the_weights(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The manifest records the design a weights file was built as, not the
    registry's current one (they differ when a model's design moved on)."""
    monkeypatch.setenv("S2LIC_WEIGHTS", str(tmp_path))
    model = tiny_variant("v1")
    candidate = tmp_path / "cand.safetensors"
    save_weights(get_spec("s2lic-tiny"), model, candidate)
    name, sha = ship(candidate, "s2lic-tiny", tmp_path)
    round_ = {"steps": 1, "minutes": 1.0, "trained_on": "cpu"}
    record("s2lic-tiny", name, sha, round_, {"bd_rate_vs_jpeg": -1.0}, tmp_path)
    entry = read_manifest(tmp_path)["s2lic-tiny"]["weights"][sha[:8]]
    stored = json.loads(entry["config"])
    assert stored["entropy"]["contexts"] == "v1"
    registry = get_spec("s2lic-tiny").config.entropy
    assert stored["entropy"]["num_slices"] == 4 != registry.num_slices
    assert load_model("s2lic-tiny").spec.config.entropy.contexts == "v1"
