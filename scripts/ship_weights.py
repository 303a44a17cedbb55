#!/usr/bin/env python3
"""Evaluate trained weights on Kodak; ship them only if they beat the shipped ones.

    python scripts/ship_weights.py runs/s2lic-s/last.safetensors --run runs/s2lic-s \
        --where "H200, GPU round" --trained-on gpu \
        [--dataset ../shared/data/kodak] [--dry-run]

Several weight files (e.g. a run's last checkpoints) are averaged parameter by
parameter into OUT/average.safetensors, and that average is the candidate.

Prints the comparison; on success copies the weights into weights/ (the weights
shipped before stay: their files must keep decoding), records the round (from the run
folders' run.json and log.csv; a round that chained runs names them all, in order, the
weights being the last one's) and the Kodak results in weights/manifest.toml, bumps the
package's minor version, adds the version to CHANGELOG.md and writes the new weights'
golden file (scripts/make_golden.py). Regenerate docs/results/kodak afterwards
(s2lic eval).
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from s2lic.codec.objective import RateDistortion
from s2lic.codec.runtime import tune_allocator
from s2lic.train.ship import (
    MIN_GAIN,
    TRAINED_ON,
    average_weights,
    compare,
    default_codecs,
    evaluate,
    kodak_record,
    record,
    ship,
)

# The sibling script, also when this file is loaded by path (tests).
sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_golden import write_golden  # noqa: E402

GOLDEN_EFFORT = 2
"""The effort level of the adapted (container v2) golden file of new weights."""


def _round(runs: list[Path], where: str, trained_on: str) -> dict[str, object]:
    """Provenance of a training round from its run folders (run.json and log.csv).

    A round may chain runs on one lent machine (each from the previous one's weights):
    steps and minutes add up, the data is the union, `init` is the first run's; a
    setting that changed between the runs is recorded as the list of its values.
    """
    states = [json.loads((run / "run.json").read_text()) for run in runs]
    cfgs = [state["config"] for state in states]
    rates = []
    for run in runs:
        with (run / "log.csv").open() as f:
            rows = list(csv.DictReader(f))
        rates += [float(r["img_per_s"]) for r in rows[len(rows) // 2 :]]

    def setting(get: Callable[[dict[str, Any]], object]) -> object:
        values = [get(cfg) for cfg in cfgs]
        return values[0] if all(v == values[0] for v in values) else values

    # run.json's "data" lists every session of a resumed run; older ones lack it.
    folders = [
        d for state in states for d in state.get("data", state["config"]["data"])
    ]
    data = dict.fromkeys(Path(d).name for d in folders)
    return {
        "date": date.today().isoformat(),
        "where": where,
        "trained_on": trained_on,
        "steps": sum(int(state["step"]) for state in states),
        "minutes": round(sum(float(state["elapsed"]) for state in states) / 60, 1),
        "images_per_second": round(sum(rates) / len(rates), 2) if rates else 0.0,
        "data": ", ".join(data),
        "crop": setting(lambda c: c["crop"]),
        "batch": setting(lambda c: c["batch"]),
        "lr": setting(lambda c: c["lr"]),
        "init": cfgs[0]["init"] or "random",
        "metric": setting(lambda c: c["objective"]["metric"]),
        "lambda": setting(lambda c: list(RateDistortion(**c["objective"]).lambdas)),
        # The exported weights were an exponential moving average (train --ema).
        **({"ema": ema} if (ema := setting(lambda c: c.get("ema", 0.0))) else {}),
    }


ROOT = Path(__file__).resolve().parents[1]


def bump_version(pyproject: Path = ROOT / "pyproject.toml") -> str:
    """Raise the package's minor version (new default weights); returns it."""
    text = pyproject.read_text()
    found = re.search(r'^version = "(\d+)\.(\d+)\.(\d+)"$', text, re.M)
    if found is None:
        raise SystemExit(f"no version line in {pyproject}")
    new = f"{found[1]}.{int(found[2]) + 1}.0"
    pyproject.write_text(text.replace(found[0], f'version = "{new}"'))
    return new


def add_changelog(version: str, model: str, wid: str, kodak: dict[str, Any]) -> None:
    """A CHANGELOG.md section for the version that ships weights `wid`."""
    path = ROOT / "CHANGELOG.md"
    text = path.read_text()
    first = text.index("\n## ")
    section = (
        f"\n## {version} — {date.today().isoformat()}\n\n"
        f"- **Writes:** container v1 (v2 at effort levels that adapt the decoder); "
        f"`{model}` weights `{wid}` (default; Kodak "
        f"BD-rate {kodak.get('bd_rate_vs_jpeg')} % vs JPEG, "
        f"{kodak.get('bd_rate_vs_webp')} % vs WebP).\n"
        f"- **Reads:** container v1 and v2; every weights id the versions before "
        f"read, and `{wid}`.\n"
    )
    path.write_text(text[:first] + section + text[first:])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "weights",
        type=Path,
        nargs="+",
        help="the candidate weights; several: their parameter average",
    )
    p.add_argument(
        "--run",
        type=Path,
        nargs="+",
        required=True,
        help="the training run folder (several: runs chained in one round, in order)",
    )
    p.add_argument("--where", required=True, help="device of the round, e.g. 'H200'")
    p.add_argument(
        "--trained-on", required=True, choices=TRAINED_ON, help="CPU or GPU round"
    )
    p.add_argument("--model", default="s2lic-s")
    p.add_argument("--dataset", type=Path, default=Path("../shared/data/kodak"))
    p.add_argument("--out", type=Path, default=Path("runs/ship"))
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--device", default="cpu")
    p.add_argument(
        "--min-gain",
        type=float,
        default=MIN_GAIN,
        help="BD-rate saving in percent needed to ship (default %(default)s)",
    )
    p.add_argument("--dry-run", action="store_true")
    args = p.parse_args(argv)
    # Provenance first: a run without run.json fails now, not after the evaluation.
    training = _round(args.run, args.where, args.trained_on)
    tune_allocator()
    candidate = args.weights[0]
    if len(args.weights) > 1:
        args.out.mkdir(parents=True, exist_ok=True)
        candidate = average_weights(
            args.weights, args.model, args.out / "average.safetensors"
        )
        training["averaged"] = [w.name for w in args.weights]
    codecs = default_codecs(candidate, args.model, args.device)
    curves = evaluate(args.dataset, args.out, codecs, args.limit)
    verdict = compare(curves["candidate"], curves.get("shipped"), args.min_gain)
    kodak = kodak_record(curves)
    print(f"candidate: {kodak}")
    if "shipped" in curves:
        print(f"shipped:   {kodak_record(curves, 'shipped')}")
    print(
        f"{'SHIP' if verdict.better else 'KEEP the shipped weights'}: {verdict.reason}"
    )
    if not verdict.better or args.dry_run:
        return 0
    name, sha = ship(candidate, args.model)
    release = bump_version()
    path = record(args.model, name, sha, training, kodak, release=release)
    add_changelog(release, args.model, sha[:8], kodak)
    goldens = [
        write_golden(args.model, release),
        write_golden(args.model, release, effort=GOLDEN_EFFORT),
    ]
    print(
        f"shipped weights/{name} as version {release}; recorded in {path}, "
        f"CHANGELOG.md, {goldens[0].name} and {goldens[1].name}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
