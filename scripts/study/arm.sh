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
. "$repo/scripts/train_bg.sh"
mkdir -p "$study"
launch "$study/$name.log" --model s2lic-s \
  --data "$shared"/data/train/shard-0{0..5} --out "$study/$name" --init "$(default_init)" \
  --crop 256 --batch 4 --workers 1 --threads 1 --lr 5e-5 --warmup 50 \
  --minutes "$minutes" --val-every 100 --holdout 8 --ckpt-every 600 --log-every 20 \
  --ema 0.997 --seed "$seed" "$@"
