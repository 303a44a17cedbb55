"""Registry constraints and weights: verified loading, clear errors, shipping size."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import tomllib
import torch
from safetensors.torch import load_file, save_file

from s2lic.codec import zoo
from s2lic.codec.models.s2lic import S2LICConfig
from s2lic.codec.registry import UnknownModelError, get_spec, list_models, spec_from_id
from s2lic.codec.zoo import (
    WeightsError,
    config_from_json,
    config_json,
    load_model,
    read_manifest,
    save_weights,
)

ROOT = Path(__file__).resolve().parents[2]


def test_registry_ids_and_names() -> None:
    names = list_models()
    assert names == ["s2lic-paper", "s2lic-s", "s2lic-tiny"]
    for n in names:
        assert spec_from_id(get_spec(n).model_id).name == n
    with pytest.raises(UnknownModelError, match="choose from"):
        get_spec("s2lic-xl")
    with pytest.raises(UnknownModelError, match="id 999"):
        spec_from_id(999)


def test_shipped_model_budget(tmp_path: Path) -> None:
    """s2lic-s: <= 8 M parameters and an fp16 weights file <= 16 MiB."""
    loaded = load_model("s2lic-s")
    assert sum(p.numel() for p in loaded.model.parameters()) <= 8_000_000
    path = tmp_path / "s.safetensors"
    save_weights(loaded.spec, loaded.model, path)
    assert path.stat().st_size <= 16 * 2**20


def test_paper_model_size() -> None:
    spec = get_spec("s2lic-paper")
    cfg = spec.config
    assert (cfg.entropy.latent_channels, cfg.entropy.num_slices) == (320, 10)
    assert cfg.analysis.depths == (1, 2, 3) and cfg.synthesis.depths == (3, 2, 1)
    assert cfg.analysis.heads == (4, 8, 16) and cfg.analysis.window_size == 8
    # The paper's modules everywhere (tests/codec/test_paper_modules.py).
    assert (cfg.entropy.contexts, cfg.entropy.hyperprior) == ("paper", "paper")
    assert (cfg.enhancement.design, cfg.enhancement.channels) == ("paper", 64)
    assert not cfg.analysis.stage_conv and not cfg.synthesis.stage_conv
    assert cfg.entropy.ep_hidden == (320, 256, 128)  # g_ep in assets/arch.png
    with torch.device("meta"):
        model = spec.factory(cfg)
    assert 75e6 < sum(p.numel() for p in model.parameters()) < 90e6


def test_random_weights_are_reproducible() -> None:
    a, b = load_model("s2lic-tiny"), load_model("s2lic-tiny")
    assert not a.trained and a.weights_id == b.weights_id
    for (ka, va), (kb, vb) in zip(
        a.model.state_dict().items(), b.model.state_dict().items(), strict=True
    ):
        assert ka == kb and torch.equal(va, vb)


def test_exported_metadata_is_in_key_order(tmp_path: Path) -> None:
    # safetensors orders it by a per-process hash seed; sorted, the same weights
    # get the same sha256 whichever process exports them
    tiny = load_model("s2lic-tiny")
    path = tmp_path / "tiny.safetensors"
    sha = save_weights(tiny.spec, tiny.model, path)
    raw = path.read_bytes()
    size = int.from_bytes(raw[:8], "little")
    keys = list(json.loads(raw[8 : 8 + size])["__metadata__"])
    assert keys == sorted(keys) and len(keys) >= 3
    assert save_weights(tiny.spec, tiny.model, tmp_path / "again.safetensors") == sha


def test_weights_round_trip(tmp_path: Path) -> None:
    src = load_model("s2lic-tiny")
    with torch.no_grad():
        for p in src.model.parameters():
            p.add_(0.01)
    path = tmp_path / "tiny.safetensors"
    sha = save_weights(src.spec, src.model, path)
    loaded = load_model("s2lic-tiny", weights=path)
    assert loaded.trained and loaded.weights_id == bytes.fromhex(sha)[:4]
    src.model.entropy.update(force=True)  # the file has tables built like this
    for (k, a), b in zip(
        src.model.state_dict().items(), loaded.model.state_dict().values(), strict=True
    ):
        tol = 1e-2 if a.is_floating_point() else 0  # shipped as fp16
        torch.testing.assert_close(b, a, atol=tol, rtol=1e-3, msg=k)


def test_manifest_entry_is_verified(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = load_model("s2lic-tiny")
    path = tmp_path / "tiny.safetensors"
    sha = save_weights(src.spec, src.model, path)
    (tmp_path / "manifest.toml").write_text(
        f'[s2lic-tiny]\ndefault = "{sha[:8]}"\n'
        f'[s2lic-tiny.weights.{sha[:8]}]\nfile = "tiny.safetensors"\nsha256 = "{sha}"\n'
    )
    monkeypatch.setenv("S2LIC_WEIGHTS", str(tmp_path))
    assert load_model("s2lic-tiny").trained
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="sha256"):
        load_model("s2lic-tiny")
    path.unlink()
    with pytest.raises(WeightsError, match="missing"):
        load_model("s2lic-tiny")


def test_wrong_weights_are_refused(tmp_path: Path) -> None:
    other = get_spec("s2lic-s")
    tiny = load_model("s2lic-tiny")
    path = tmp_path / "tiny.safetensors"
    save_weights(tiny.spec, tiny.model, path)
    with pytest.raises(WeightsError, match="no s2lic weights for model 's2lic-s'"):
        load_model(other.name, weights=path)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not safetensors at all")
    with pytest.raises(WeightsError, match="cannot read"):
        load_model("s2lic-tiny", weights=junk)


def test_config_fields_added_later_default_to_the_old_behaviour() -> None:
    spec = get_spec("s2lic-s")
    stored = json.loads(config_json(spec.config))
    assert config_from_json(json.dumps(stored), S2LICConfig) == spec.config
    # Weights saved before these fields existed get the first design's modules.
    for group, name in [
        ("enhancement", "attention"),
        ("enhancement", "design"),
        ("entropy", "contexts"),
        ("entropy", "hyperprior"),
        ("analysis", "stage_conv"),
    ]:
        del stored[group][name]
    assert config_from_json(json.dumps(stored), S2LICConfig) == spec.config
    stored["entropy"]["unknown_field"] = 1
    with pytest.raises(ValueError, match="unknown_field"):
        config_from_json(json.dumps(stored), S2LICConfig)
    with pytest.raises(ValueError):
        config_from_json("not json", S2LICConfig)


def test_weights_are_built_as_the_design_they_were_trained_with(
    tmp_path: Path,
) -> None:
    """Weights carry their design: those of an older design still load and code
    after the registry's default design changed."""
    spec = get_spec("s2lic-tiny")
    assert spec.config.entropy.contexts == "paper"
    old = dataclasses.replace(
        spec.config,
        entropy=dataclasses.replace(spec.config.entropy, contexts="v1"),
    )
    model = spec.factory(old)
    model.entropy.update(force=True)
    path = tmp_path / "old-design.safetensors"
    save_weights(spec, model.eval(), path, half=False)
    loaded = load_model("s2lic-tiny", weights=path)
    assert loaded.spec.config == old
    assert type(loaded.model.entropy.ac).__name__ == "AdaptiveChannelContextV1"
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(x, 0.5).x_hat, model(x, 0.5).x_hat)
    # A design this version does not know is refused in one line.
    meta = json.loads(config_json(spec.config))
    meta["entropy"]["contexts_v9"] = "future"
    state = load_file(str(path))
    future = tmp_path / "future.safetensors"
    save_file(
        state,
        str(future),
        metadata={
            "format": "s2lic-weights-1",
            "model": "s2lic-tiny",
            "config": json.dumps(meta),
        },
    )
    with pytest.raises(WeightsError, match="cannot build .*upgrade s2lic"):
        load_model("s2lic-tiny", weights=future)


def test_shipped_manifest_parses() -> None:
    manifest = read_manifest(ROOT / "weights")
    for name, entry in manifest.items():
        assert name in list_models()
        for rec in entry["weights"].values():
            assert (ROOT / "weights" / rec["file"]).is_file()


def test_pyproject_lists_every_package() -> None:
    """A package folder missing from pyproject would vanish from wheel installs."""
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    mapping = cfg["package-dir"]
    found = set()
    for pkg, folder in mapping.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join((pkg, *rel)))
    assert found == set(cfg["packages"])


def test_saving_leaves_the_model_alone(tmp_path: Path) -> None:
    """The coding tables are rebuilt for the file only: here they grow with the
    quantiles, while the model keeps its own (an EMA of it needs their shapes)."""
    src = load_model("s2lic-tiny")
    with torch.no_grad():
        src.model.entropy.entropy_bottleneck.quantiles.mul_(3)
    before = {k: v.clone() for k, v in src.model.state_dict().items()}
    path = tmp_path / "tiny.safetensors"
    save_weights(src.spec, src.model, path)
    name = "entropy.entropy_bottleneck._quantized_cdf"
    saved = load_model("s2lic-tiny", weights=path).model.state_dict()
    assert saved[name].shape[1] > before[name].shape[1]
    for key, value in src.model.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_a_failed_save_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def half_written(state: dict, filename: str, metadata: dict) -> None:
        Path(filename).write_bytes(b"\0" * 100)
        raise OSError("disk full")

    tiny = load_model("s2lic-tiny")
    path = tmp_path / "tiny.safetensors"
    sha = save_weights(tiny.spec, tiny.model, path)
    monkeypatch.setattr(zoo, "save_file", half_written)
    with pytest.raises(OSError, match="disk full"):
        save_weights(tiny.spec, tiny.model, path)
    with pytest.raises(OSError, match="disk full"):
        save_weights(tiny.spec, tiny.model, tmp_path / "new.safetensors")
    assert [p.name for p in tmp_path.iterdir()] == ["tiny.safetensors"]
    monkeypatch.undo()
    assert load_model("s2lic-tiny", weights=path).weights_id == bytes.fromhex(sha)[:4]
