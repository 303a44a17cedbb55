"""Every `.s2lic` file a release wrote decodes with every later version.

Golden files of the shipped weights decode to their recorded pixels; files name their
weights by id and the decoder picks them; retired weights give a one-line error that
says how to restore them, and ``s2lic weights restore`` does it from git history.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
import torch
from PIL import Image

from s2lic.cli.__main__ import main
from s2lic.codec import api, releases
from s2lic.codec.zoo import UnknownWeightsError, load_model, read_manifest, save_weights
from s2lic.entropy.bitstream import FORMAT_VERSIONS, read_header
from tests.conftest import smooth_image

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden"
INDEX = tomllib.loads((GOLDEN / "GOLDEN.toml").read_text())
SHIPPED = read_manifest(ROOT / "weights")

sys.path.insert(0, str(ROOT / "scripts"))
from make_golden import pixel_digest  # noqa: E402


def test_every_release_is_installed_with_a_golden_file() -> None:
    """A weights file the manifest lists as released must be in the tree, whole."""
    for model, entry in SHIPPED.items():
        assert entry["default"] in entry["weights"], model
        for wid, rec in entry["weights"].items():
            path = ROOT / "weights" / rec["file"]
            assert path.is_file(), f"released weights {path.name} are missing"
            assert hashlib.sha256(path.read_bytes()).hexdigest() == rec["sha256"]
            assert rec["sha256"].startswith(wid)
            goldens = [
                g for g in INDEX.values() if (g["model"], g["weights"]) == (model, wid)
            ]
            assert goldens, f"no golden file for {model} weights {wid}"
            if wid == entry["default"]:
                versions = {g["container"] for g in goldens}
                assert versions == set(FORMAT_VERSIONS), (wid, versions)
        for wid, rec in entry.get("retired", {}).items():
            assert rec["sha256"].startswith(wid) and len(rec["commit"]) == 40


DEVICES = ["cpu", *(["cuda"] if torch.cuda.is_available() else [])]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", sorted(INDEX))
def test_golden_files_decode_to_their_pixels(name: str, device: str) -> None:
    """On every device here (scripts/gpu_checks.sh runs it on a lent GPU)."""
    golden = INDEX[name]
    data = (GOLDEN / name).read_bytes()
    header = read_header(data)
    assert header.weights_id.hex() == golden["weights"]
    # The weights are picked by the header's id.
    image = api.decode(data, device=device).image
    assert pixel_digest(image) == golden["pixels_sha256"]


def _ship_tiny(folder: Path, seed: int) -> tuple[str, Path]:
    """Other weights of s2lic-tiny in `folder`: (id, file)."""
    loaded = load_model("s2lic-tiny")
    with torch.no_grad():
        g = torch.Generator().manual_seed(seed)
        for p in loaded.model.parameters():
            p.add_(0.01 * torch.randn(p.shape, generator=g))
    path = folder / f"tiny-{seed}.safetensors"
    sha = save_weights(loaded.spec, loaded.model, path)
    final = folder / f"s2lic-tiny-{sha[:8]}.safetensors"
    path.rename(final)
    return sha[:8], final


def _record(folder: Path, file: Path) -> str:
    from s2lic.train.ship import record  # tomli_w: not on the GPU machine

    sha = hashlib.sha256(file.read_bytes()).hexdigest()
    round_ = {"steps": 1, "minutes": 1.0, "trained_on": "cpu", "where": "test"}
    record("s2lic-tiny", file.name, sha, round_, {"bd_rate_vs_jpeg": -1.0}, folder)
    return sha[:8]


def test_decode_picks_the_weights_a_file_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("S2LIC_WEIGHTS", str(tmp_path))
    img = Image.fromarray(smooth_image(48, 64))
    first = _record(tmp_path, _ship_tiny(tmp_path, 1)[1])
    old = api.encode(img, model="s2lic-tiny")
    second = _record(tmp_path, _ship_tiny(tmp_path, 2)[1])
    new = api.encode(img, model="s2lic-tiny")
    assert old.header.weights_id.hex() == first != second
    assert new.header.weights_id.hex() == second  # encoding: the newest
    entry = read_manifest(tmp_path)["s2lic-tiny"]
    assert entry["default"] == second and entry["weights"][second]["parent"] == first
    assert entry["weights"][second]["total_steps"] == 2  # the parent's + its round
    assert entry["weights"][first]["kodak"] == {"bd_rate_vs_jpeg": -1.0}  # kept
    for enc in (old, new):
        assert api.decode(enc.data).image.size == img.size
    with pytest.raises(api.WeightsMismatchError, match="other weights"):
        api.decode(old.data, weights=str(tmp_path / entry["weights"][second]["file"]))
    with pytest.raises(ValueError, match="recorded already"):
        _record(tmp_path, tmp_path / entry["weights"][second]["file"])


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def test_retired_weights_say_how_to_restore_them_and_restore_works(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A file of weights only in git history: one error line with the restore
    command; `s2lic weights restore` takes them out of the history, checked."""
    repo, installed = tmp_path / "repo", tmp_path / "installed"
    (repo / "weights").mkdir(parents=True)
    installed.mkdir()
    wid, file = _ship_tiny(repo / "weights", 3)
    _git(repo, "init", "-q")
    _git(repo, "add", "weights")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "ship")
    commit = _git(repo, "rev-parse", "HEAD")
    sha = hashlib.sha256(file.read_bytes()).hexdigest()
    retired = {"file": file.name, "sha256": sha, "date": "2026-11-27", "commit": commit}
    (installed / "manifest.toml").write_text(
        f"[s2lic-tiny.retired.{wid}]\n"
        + "".join(f'{k} = "{v}"\n' for k, v in retired.items())
    )
    monkeypatch.setenv("S2LIC_WEIGHTS", str(installed))
    monkeypatch.setenv("S2LIC_RESTORED", str(tmp_path / "restored"))
    enc = api.encode(
        Image.fromarray(smooth_image(48, 64)), weights=str(file), model="s2lic-tiny"
    )
    expected = api.decode(enc.data, weights=str(file)).image
    (tmp_path / "a.s2lic").write_bytes(enc.data)
    args = ["decode", str(tmp_path / "a.s2lic"), "-o", str(tmp_path / "a.png")]
    assert main(args) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0]
    assert f"s2lic weights restore {wid}" in err[0] and commit[:10] in err[0]
    assert f"git show {commit[:10]}:weights/{file.name}" in err[0]
    assert not (tmp_path / "a.png").exists()
    # A corrupted history file is refused; the right one restored and used.
    bad = releases.Release("s2lic-tiny", wid, file.name, "0" * 64, "", commit, {})
    with pytest.raises(releases.RestoreError, match="sha256"):
        releases.restore(bad, repo)
    restore = ["weights", "restore", wid, "--model", "s2lic-tiny", "--repo", str(repo)]
    assert main(restore) == 0
    assert (tmp_path / "restored" / file.name).read_bytes() == file.read_bytes()
    assert main(args) == 0
    capsys.readouterr()
    decoded = Image.open(tmp_path / "a.png")
    assert pixel_digest(decoded.convert(expected.mode)) == pixel_digest(expected)
    # Not a git checkout, or an id no release shipped: one clear line each.
    assert main([*restore[:-1], str(tmp_path / "installed")]) == 1
    assert "git cannot read" in capsys.readouterr().err
    assert main(["weights", "restore", "deadbeef", "--model", "s2lic-tiny"]) == 1
    assert "no release shipped" in capsys.readouterr().err


def test_an_id_no_release_shipped_is_a_clear_error() -> None:
    with pytest.raises(UnknownWeightsError, match="no release of s2lic shipped"):
        load_model("s2lic-tiny", weights_id=b"\0\0\0\0")


def test_models_lists_every_release(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    assert main(["models", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    history = rows["s2lic-s"]["releases"]
    entry = SHIPPED["s2lic-s"]
    assert {w["id"] for w in history} == {*entry["weights"], *entry["retired"]}
    default = next(w for w in history if w["default"])
    assert default["id"] == entry["default"] and default["status"] == "installed"
    assert (
        default["bd_rate_vs_jpeg"]
        == entry["weights"][entry["default"]]["kodak"]["bd_rate_vs_jpeg"]
    )
    assert all(w["date"] for w in history)
