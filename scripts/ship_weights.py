#!/usr/bin/env python3
"""Evaluate trained weights on Kodak; ship them only if they beat the shipped ones.

    python scripts/ship_weights.py runs/s2lic-s/last.safetensors --run runs/s2lic-s \
        --where "H200, GPU round" --trained-on gpu \
        [--dataset ../shared/data/kodak] [--dry-run]

Prints the comparison; on success copies the weights into weights/ and records the
round (from the run folder's run.json and log.csv) and the Kodak results in
weights/manifest.toml. Regenerate docs/results/kodak afterwards (s2lic eval).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from datetime import date
from pathlib import Path

from s2lic.codec.runtime import tune_allocator
from s2lic.codec.training.objective import RateDistortion
from s2lic.codec.training.ship import (
    MIN_GAIN,
    TRAINED_ON,
    compare,
    default_codecs,
    evaluate,
    kodak_record,
    record,
    ship,
)


def _round(run: Path, where: str, trained_on: str) -> dict[str, object]:
    """Provenance of a training run from its folder (run.json and log.csv)."""
    state = json.loads((run / "run.json").read_text())
    cfg = state["config"]
    with (run / "log.csv").open() as f:
        rows = list(csv.DictReader(f))
    rates = [float(r["img_per_s"]) for r in rows[len(rows) // 2 :]] or [0.0]
    return {
        "date": date.today().isoformat(),
        "where": where,
        "trained_on": trained_on,
        "steps": int(state["step"]),
        "minutes": round(float(state["elapsed"]) / 60, 1),
        "images_per_second": round(sum(rates) / len(rates), 2),
        "data": ", ".join(Path(d).name for d in cfg["data"]),
        "crop": cfg["crop"],
        "batch": cfg["batch"],
        "lr": cfg["lr"],
        "init": cfg["init"] or "random",
        "metric": cfg["objective"]["metric"],
        "lambda": list(RateDistortion(**cfg["objective"]).lambdas),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("weights", type=Path)
    p.add_argument("--run", type=Path, required=True, help="the training run folder")
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
    codecs = default_codecs(args.weights, args.model, args.device)
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
    name, sha = ship(args.weights, args.model)
    path = record(args.model, name, sha, training, kodak)
    print(f"shipped weights/{name}; recorded in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
