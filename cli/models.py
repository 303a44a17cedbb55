"""``s2lic models``: the registered models, their sizes and every weights release."""

from __future__ import annotations

import argparse
import json
from typing import Any

from s2lic.cli.commands import HELP
from s2lic.codec import releases
from s2lic.codec.registry import DEFAULT_MODEL, entry, list_models
from s2lic.codec.releases import read_manifest, weights_dir

__all__ = ["add_parser", "describe_models", "describe_weights", "run"]


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``models`` subcommand.

    Args:
        subparsers: the object returned by ``ArgumentParser.add_subparsers``.
    """
    p = subparsers.add_parser(
        "models",
        help=HELP["models"],
        description=(
            "List the registered models: bitstream id, parameter count, whether "
            "trained weights are installed (and where from), and a description; then "
            "every weights release by id: date, Kodak BD-rates, and whether it is "
            "installed (files encoded with it decode), restored, or retired "
            "('s2lic weights restore ID' brings it back from a git clone)."
        ),
    )
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(run=run)


def describe_weights(manifest: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """Every weights release of model `name`, oldest first, as ``--json`` lists them.

    ``status``: ``installed`` (shipped with this version), ``restored`` (retired, its
    file restored), ``missing`` (installed but the file is gone) or ``retired``.
    """
    folder = weights_dir()
    default = manifest.get(name, {}).get("default")
    rows = []
    for rel in releases.releases(manifest, name, retired=True):
        path = releases.locate(rel, folder)
        status = (
            ("restored" if path else "retired")
            if rel.retired
            else ("installed" if path else "missing")
        )
        kodak = rel.record.get("kodak", rel.record)
        rows.append(
            {
                "id": rel.id,
                "date": rel.date,
                "status": status,
                "default": rel.id == default,
                "file": rel.file,
                "bd_rate_vs_jpeg": kodak.get("bd_rate_vs_jpeg"),
                "bd_rate_vs_webp": kodak.get("bd_rate_vs_webp"),
                **({"commit": rel.commit} if rel.retired else {}),
                **(
                    {"decoder_commit": rel.decoder_commit} if rel.decoder_commit else {}
                ),
            }
        )
    return rows


def describe_models() -> list[dict[str, Any]]:
    """The fields printed by ``s2lic models --json``, one dict per model.

    Raises:
        WeightsError: the weights manifest cannot be read.
    """
    manifest = read_manifest()
    rows = []
    for name in list_models():
        model = entry(name)
        default = releases.default_release(manifest, name)
        history = describe_weights(manifest, name)
        if default:
            present = releases.locate(default, weights_dir()) is not None
            weights = default.file if present else f"missing: {default.file}"
        else:
            present, weights = False, "none (seeded random weights)"
        rows.append(
            {
                "name": name,
                "id": model.model_id,
                "parameters": model.parameters,
                "trained": present,
                "weights": weights,
                "license": default.record.get("license") if default else None,
                "default": name == DEFAULT_MODEL,
                "description": model.description,
                "releases": history,
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
    for r in rows:
        if r["releases"]:
            print(
                f"\nweights of {r['name']}, newest first (installed or restored: "
                "their files decode):"
            )
            _print_releases(r["releases"])
    return 0


def _percent(value: object) -> str:
    return f"{value:+.1f} %" if isinstance(value, (int, float)) else "n/a"


def _print_releases(history: list[dict[str, Any]]) -> None:
    table = [("ID", "DATE", "KODAK VS JPEG", "VS WEBP", "STATUS")]
    for w in reversed(history):  # newest first
        status = w["status"] + (" (default for encoding)" if w["default"] else "")
        if "decoder_commit" in w:
            status += f": decodes with the code of commit {w['decoder_commit'][:10]}"
        elif w["status"] == "retired":
            status += f": s2lic weights restore {w['id']}"
        table.append(
            (
                w["id"],
                w["date"],
                _percent(w["bd_rate_vs_jpeg"]),
                _percent(w["bd_rate_vs_webp"]),
                status,
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(4)]
    for row in table:
        cells = [
            cell.rjust(w) if i in (2, 3) else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row[:4], widths, strict=True))
        ]
        print("  ".join([*cells, row[4]]).rstrip())
