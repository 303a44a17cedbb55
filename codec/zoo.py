"""Weights: the manifest in `weights/`, verified loading, and seeded random weights.

Weights live in ``weights/`` (the ``s2lic.weights`` package data) or in the folder named
by ``$S2LIC_WEIGHTS``, as safetensors files listed in ``manifest.toml``
(with sha256); every file a release shipped stays listed (releases.py), so a decoder
loads the weights named by a file's 4-byte weights id, and encoding uses the newest.
A model without trained weights is built from a fixed seed, so an encoder and a decoder
on the same software stack get the same network.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from s2lic.codec import releases
from s2lic.codec.fileio import atomic_output
from s2lic.codec.registry import ModelSpec, get_spec
from s2lic.codec.releases import WeightsError, read_manifest, weights_dir

__all__ = [
    "WeightsError",
    "UnknownWeightsError",
    "LoadedModel",
    "weights_dir",
    "read_manifest",
    "load_model",
    "load_state",
    "save_weights",
    "config_json",
    "config_from_json",
    "stored_config",
]

_SEED = 20240321  # fixed: random-init models must be identical at both ends
_FORMAT = "s2lic-weights-1"
# Coding tables are stored with the weights (not recomputed) so that every machine
# codes with bit-identical integer CDFs.
_TABLE_BUFFERS = {
    "entropy.entropy_bottleneck": ["_quantized_cdf", "_offset", "_cdf_length"],
    "entropy.gaussian_conditional": [
        "_quantized_cdf",
        "_offset",
        "_cdf_length",
        "scale_table",
    ],
}


class UnknownWeightsError(WeightsError):
    """No installed weights have the id a file was encoded with."""


@dataclass
class LoadedModel:
    """A ready-to-code network.

    Attributes:
        spec: its registry entry, with the config of the design it was built as.
        model: the network in eval mode with coding tables built.
        weights_id: 4 bytes identifying the weights (stored in headers).
        trained: False for seeded random weights.
        source: file the weights came from, or "random (seed N)".
    """

    spec: ModelSpec
    model: nn.Module
    weights_id: bytes
    trained: bool
    source: str


def config_json(config: Any) -> str:
    """Canonical JSON of a model config (what weights files store)."""
    return json.dumps(dataclasses.asdict(config), sort_keys=True)


def config_from_json(stored: str, cls: type[Any]) -> Any:
    """The config dataclass `cls` that a stored `config_json` describes.

    Fields missing from the JSON take their defaults, which keep the behaviour of
    weights shipped before the field existed.

    Raises:
        ValueError: not JSON, or fields this version does not know.
    """
    return _build(json.loads(stored), cls)


def _build(data: Any, cls: type[Any]) -> Any:
    if not isinstance(data, dict):
        raise ValueError(f"{cls.__name__}: expected an object")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown fields {sorted(unknown)}")
    values = {}
    for name, value in data.items():
        kind = hints[name]
        if dataclasses.is_dataclass(kind):
            value = _build(value, kind)  # type: ignore[arg-type]
        elif isinstance(value, list):
            value = tuple(value)
        values[name] = value
    try:
        return cls(**values)
    except TypeError as e:
        raise ValueError(f"{cls.__name__}: {e}") from None


def stored_config(path: Path) -> str:
    """The configuration JSON a weights file stores (its design).

    Raises:
        WeightsError: unreadable, or not s2lic weights.
    """
    try:
        with safe_open(str(path), "pt") as f:
            meta = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as e:
        raise WeightsError(f"cannot read weights {path}: {e}") from None
    if meta.get("format") != _FORMAT or "config" not in meta:
        raise WeightsError(f"{path} holds no s2lic weights")
    return meta["config"]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _state_digest(model: nn.Module) -> bytes:
    h = hashlib.sha256()
    for key, t in sorted(model.state_dict().items()):
        t = t.detach().cpu().contiguous()
        h.update(f"{key}:{t.dtype}:{tuple(t.shape)}".encode())
        h.update(
            t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        )
    return h.digest()


def _random_model(spec: ModelSpec, tables: bool = True) -> nn.Module:
    """The seeded network; with `tables`, its coding tables built (a file's weights
    bring their own)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(_SEED)
        model = spec.factory(spec.config)
    if tables:
        model.entropy.update(force=True)
    return model


def _load_file(spec: ModelSpec, path: Path, sha256: str | None) -> nn.Module:
    if not path.is_file():
        raise WeightsError(f"weights file {path} is missing")
    if sha256 is not None and _sha256(path) != sha256:
        raise WeightsError(
            f"weights file {path} is corrupted (sha256 does not match the manifest)"
        )
    try:
        state = load_file(str(path))
        with safe_open(str(path), "pt") as f:
            meta = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as e:
        raise WeightsError(f"cannot read weights {path}: {e}") from None
    if meta.get("format") != _FORMAT or meta.get("model") != spec.name:
        raise WeightsError(f"{path} holds no s2lic weights for model {spec.name!r}")
    # Weights carry their design: the network is built as the file says, so that
    # weights shipped before a design change still decode after it.
    try:
        config = config_from_json(meta.get("config", ""), type(spec.config))
    except ValueError as e:
        raise WeightsError(
            f"{path} holds a design of {spec.name!r} that this version of s2lic "
            f"cannot build ({e}); upgrade s2lic"
        ) from None
    model = _random_model(dataclasses.replace(spec, config=config), tables=False)
    try:
        load_state(model, state)
    except (RuntimeError, KeyError, ValueError) as e:
        first = str(e).splitlines()[0]
        raise WeightsError(
            f"weights {path} do not fit {spec.name!r}: {first}"
        ) from None
    return model


def load_state(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Load a full state dict, resizing the coding-table buffers to the stored ones.

    Floating-point tensors are cast to the model's dtypes (shipped weights are fp16).

    Raises:
        RuntimeError, KeyError: keys or shapes do not match.
    """
    for module_name, names in _TABLE_BUFFERS.items():
        module = model.get_submodule(module_name)
        for name in names:
            # Replace the buffer (its size depends on the trained parameters); resizing
            # it in place, as CompressAI's update_registered_buffers does, corrupted
            # memory in a later backward pass (segfault, torch 2.14).
            setattr(module, name, state[f"{module_name}.{name}"].clone())
    ref = model.state_dict()
    state = {k: v.to(ref[k].dtype) if k in ref else v for k, v in state.items()}
    model.load_state_dict(state, strict=True)


def load_model(
    name: str,
    device: str | torch.device = "cpu",
    weights: str | Path | None = None,
    weights_id: bytes | None = None,
) -> LoadedModel:
    """Build `name` with its weights.

    Args:
        weights: a weights file to use (its id is its sha256's first 4 bytes).
        weights_id: else the released weights with this id (what a file's header
            names); else the manifest's default, or seeded random weights for a
            model that has none.

    Raises:
        UnknownModelError, WeightsError; UnknownWeightsError: no installed weights
        have `weights_id` (the message says how to restore retired ones).
    """
    spec = get_spec(name)
    if weights is not None:
        path = Path(weights)
        model = _load_file(spec, path, None)
        trained, source, wid = True, str(path), bytes.fromhex(_sha256(path))[:4]
    else:
        manifest = read_manifest()
        release = (
            releases.default_release(manifest, name)
            if weights_id is None
            else releases.find_release(manifest, name, weights_id.hex())
        )
        if release is not None:
            path = releases.locate(release, weights_dir())
            if path is None or release.decoder_commit:
                raise _unavailable(release)
            model = _load_file(spec, path, release.sha256)
            trained, source = True, str(path)
            wid = bytes.fromhex(release.sha256)[:4]
        else:
            model = _random_model(spec)
            trained, source, wid = (
                False,
                f"random (seed {_SEED})",
                _state_digest(model)[:4],
            )
            if weights_id is not None and weights_id != wid:
                raise UnknownWeightsError(
                    f"no release of s2lic shipped weights of {name} with id "
                    f"{weights_id.hex()}: decode with the weights it was encoded "
                    "with (--weights FILE)"
                )
    model.eval().to(device)
    # The spec of the design these weights have (the registry's may have moved on).
    spec = dataclasses.replace(spec, config=model.cfg)
    return LoadedModel(spec, model, wid, trained, source)


def _unavailable(release: releases.Release) -> WeightsError:
    if release.retired:
        why = (
            "which this version cannot decode"
            if release.decoder_commit
            else "no longer installed"
        )
        return UnknownWeightsError(
            f"encoded with the weights {release.id} of {release.model}, shipped on "
            f"{release.date} (commit {release.commit[:10]}), {why}: "
            + releases.restore_hint(release)
        )
    return WeightsError(f"weights file {weights_dir() / release.file} is missing")


def save_weights(
    spec: ModelSpec, model: nn.Module, path: str | Path, half: bool = True
) -> str:
    """Write shippable weights; returns the file's sha256.

    The coding tables are rebuilt from the current quantiles on a copy, so `model` is
    left as it was (rebuilding can resize its buffers, which e.g. an EMA of it would
    no longer accept). Parameters are stored in fp16 when `half`; buffers keep their
    dtype (the coding tables are integers, and fp16 would flush CompressAI's 1e-9
    likelihood bound to 0). The file appears whole or not at all.
    """
    model = copy.deepcopy(model)
    model.entropy.update(force=True)
    params = {name for name, _ in model.named_parameters()}
    state = {
        k: (v.half() if half and k in params else v).detach().cpu().contiguous()
        for k, v in model.state_dict().items()
    }
    meta = {"format": _FORMAT, "model": spec.name, "config": config_json(model.cfg)}
    path = Path(path)
    with atomic_output(path) as tmp:
        save_file(state, str(tmp), metadata=meta)
        _sort_metadata(tmp)
    return _sha256(path)


def _sort_metadata(path: Path) -> None:
    """Rewrite the header with its metadata in key order, in place.

    safetensors writes the metadata in the order of a Rust hash map, seeded per
    process, so the same weights would otherwise get a different sha256 each export.
    """
    with path.open("r+b") as f:
        size = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(size))
        header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
        text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
        if len(text) > size:  # never: same keys and values, reordered
            raise RuntimeError(f"{path}: cannot reorder the safetensors header")
        f.seek(8)
        f.write(text.ljust(size))
