#!/usr/bin/env bash
# One arm of the training-efficiency study (docs/training.md, "Training-efficiency
# study"): s2lic-s from the default weights, the CPU recipe of the rounds table, with
# the given options on top. Two arms run side by side, one thread each, in the
# background at the lowest priority, so that they share the 2-core VM equally.
#   scripts/study/arm.sh NAME SEED MINUTES [s2lic train options...]
# The recipe includes --ema 0.997; a Schedule-Free arm passes --ema 0 (later options
# win). Re-running the same command resumes the arm from its checkpoint (--minutes counts
# over all its sessions). Run folders: $STUDY (default /work/runs/study), outside the
# work tree so a later session can resume them.
set -euo pipefail
name=$1 seed=$2 minutes=$3
shift 3
repo=$(cd "$(dirname "$0")/../.." && pwd)
study=${STUDY:-/work/runs/study}
shared=${SHARED:-$repo/../shared}
init=$(cd "$repo" && .venv/bin/python -c "
from s2lic.codec.releases import default_release, read_manifest, weights_dir
print(weights_dir() / default_release(read_manifest(), 's2lic-s').file)")
mkdir -p "$study"
cd "$repo"
# The new session lowers its own autogroup: setsid makes a fresh one, and writing a
# pid's autogroup from here could run before setsid() and lower this shell's instead.
OMP_WAIT_POLICY=PASSIVE setsid nohup bash -c 'echo 19 > /proc/self/autogroup; exec "$@"' _ \
  .venv/bin/s2lic train --model s2lic-s \
  --data "$shared"/data/train/shard-0{0..5} --out "$study/$name" --init "$init" \
  --crop 256 --batch 4 --workers 1 --threads 1 --lr 5e-5 --warmup 50 \
  --minutes "$minutes" --val-every 100 --holdout 8 --ckpt-every 600 --log-every 20 \
  --ema 0.997 \
  --seed "$seed" "$@" > "$study/$name.log" 2>&1 &
echo $!
