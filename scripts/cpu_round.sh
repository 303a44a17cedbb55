#!/usr/bin/env bash
# The CPU training campaign (docs/training.md, "Rounds"): s2lic-s from the default
# weights with the best known CPU recipe (SOAP, crop 256, batch 4, lr 5e-5, EMA 0.997),
# in the background at the lowest priority, its run folder outside the work tree.
#   scripts/cpu_round.sh NAME MINUTES [s2lic train options...]
# MINUTES counts over all sessions of the run: a later session re-runs the command
# with a larger MINUTES and the run resumes where it stopped. The cosine spans
# SCHEDULE minutes (default 600: several sessions) so that a session can stop
# mid-schedule. Run folders: $RUNS (default /work/runs).
set -euo pipefail
name=$1 minutes=$2
shift 2
repo=$(cd "$(dirname "$0")/.." && pwd)
runs=${RUNS:-/work/runs}
shared=${SHARED:-$repo/../shared}
init=$(cd "$repo" && .venv/bin/python -c "
from s2lic.codec.releases import default_release, read_manifest, weights_dir
print(weights_dir() / default_release(read_manifest(), 's2lic-s').file)")
mkdir -p "$runs"
cd "$repo"
# The new session lowers its own autogroup (see scripts/study/arm.sh).
OMP_WAIT_POLICY=PASSIVE setsid nohup bash -c 'echo 19 > /proc/self/autogroup; exec "$@"' _ \
  .venv/bin/s2lic train --model s2lic-s \
  --data "$shared"/data/train/shard-* --out "$runs/$name" --init "$init" \
  --crop 256 --batch 4 --workers 1 --threads 2 --lr 5e-5 --warmup 50 --ema 0.997 \
  --optimizer soap --minutes "$minutes" --schedule-minutes "${SCHEDULE:-600}" \
  --val-every 100 --holdout 8 --ckpt-every 300 --log-every 20 "$@" \
  >> "$runs/$name.log" 2>&1 &
echo $!
