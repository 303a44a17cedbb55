"""``s2lic models``: the registered models, their sizes and their weights."""

from __future__ import annotations

import argparse
import json
from typing import Any

import torch

from s2lic.codec.registry import DEFAULT_MODEL, ModelSpec, get_spec, list_models
from s2lic.codec.zoo import read_manifest, weights_dir

__all__ = ["add_parser", "describe_models", "run"]


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``models`` subcommand.

    Args:
        subparsers: the object returned by ``ArgumentParser.add_subparsers``.
    """
    p = subparsers.add_parser(
        "models",
        help="list the available models",
        description=(
            "List the registered models: bitstream id, parameter count, whether "
            "trained weights are installed (and where from), and a description."
        ),
    )
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(run=run)


def count_parameters(spec: ModelSpec) -> int:
    """Number of parameters of a model, without allocating its weights.

    The network is built on the ``meta`` device (shapes only), which takes a fraction
    of a second even for the paper-size model.

    Args:
        spec: the registry entry.

    Returns:
        The number of scalar parameters.
    """
    try:
        with torch.device("meta"):
            model = spec.factory(spec.config)
    except (RuntimeError, NotImplementedError, TypeError, ValueError):
        # A layer that computes values at construction time cannot run on meta.
        model = spec.factory(spec.config)
    return sum(p.numel() for p in model.parameters())


def describe_models() -> list[dict[str, Any]]:
    """The fields printed by ``s2lic models --json``, one dict per model.

    Raises:
        WeightsError: the weights manifest cannot be read.
    """
    manifest = read_manifest()
    folder = weights_dir()
    rows = []
    for name in list_models():
        spec = get_spec(name)
        entry = manifest.get(name)
        if entry:
            present = (folder / str(entry.get("file", ""))).is_file()
            weights = (
                str(entry.get("file")) if present else f"missing: {entry.get('file')}"
            )
        else:
            present, weights = False, "none (seeded random weights)"
        rows.append(
            {
                "name": name,
                "id": spec.model_id,
                "parameters": count_parameters(spec),
                "trained": present,
                "weights": weights,
                "license": entry.get("license") if entry else None,
                "default": name == DEFAULT_MODEL,
                "description": spec.description,
            }
        )
    return rows


def _millions(n: int) -> str:
    return f"{n / 1e6:.2f} M"


def run(args: argparse.Namespace) -> int:
    """Print the models table (or JSON).

    Args:
        args: the parsed command line.

    Returns:
        0.
    """
    rows = describe_models()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    table = [("MODEL", "ID", "PARAMS", "TRAINED", "WEIGHTS", "DESCRIPTION")]
    for r in rows:
        table.append(
            (
                r["name"] + (" *" if r["default"] else ""),
                str(r["id"]),
                _millions(r["parameters"]),
                "yes" if r["trained"] else "no",
                r["weights"],
                r["description"],
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]) - 1)]
    right = {1, 2}  # numbers
    for row in table:
        cells = [
            cell.rjust(w) if i in right else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row[:-1], widths, strict=True))
        ]
        print("  ".join([*cells, row[-1]]).rstrip())
    print(f"\n* default model; weights are read from {weights_dir()}")
    return 0
