#!/usr/bin/env bash
# The CPU training campaign (docs/training.md, "Rounds"): s2lic-s from the default
# weights with the best known CPU recipe (SOAP, crop 256, batch 4, lr 5e-5, EMA 0.997),
# in the background at the lowest priority, its run folder outside the work tree.
#   scripts/cpu_round.sh NAME MINUTES [s2lic train options...]
# MINUTES is this session's training time: a later session re-runs the command and
# the run resumes where it stopped (with the design of its own weights). The cosine
# spans SCHEDULE minutes trained over all sessions (default 600: several sessions), so
# that a session can stop mid-schedule. Run folders: $RUNS (default /work/runs).
set -euo pipefail
name=$1 minutes=$2
shift 2
repo=$(cd "$(dirname "$0")/.." && pwd)
runs=${RUNS:-/work/runs}
shared=${SHARED:-$repo/../shared}
. "$repo/scripts/train_bg.sh"
mkdir -p "$runs"
launch "$runs/$name.log" --model s2lic-s \
  --data "$shared"/data/train/shard-* --out "$runs/$name" --init "$(default_init)" \
  --crop 256 --batch 4 --workers 1 --threads 2 --lr 5e-5 --warmup 50 --ema 0.997 \
  --optimizer soap --minutes "$minutes" --schedule-minutes "${SCHEDULE:-600}" \
  --val-every 100 --holdout 8 --ckpt-every 300 --log-every 20 "$@"
