#!/usr/bin/env bash
# Kodak BD-rate of study arms against the default weights, measured as
# scripts/ship_weights.py measures it (--dry-run): shipped weights, JPEG and WebP are
# measured once into $STUDY/eval/base and reused; each arm's line is in
# $STUDY/eval/NAME.txt. Runs in the background at the lowest priority.
#   scripts/study/eval.sh NAME...
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
study=${STUDY:-/work/runs/study}
kodak=${SHARED:-$repo/../shared}/data/kodak
run_all() {
  cd "$repo"
  if [ ! -d "$study/eval/base/webp" ]; then
    .venv/bin/python -W ignore - "$kodak" "$study/eval/base" <<'PY'
import sys
from pathlib import Path
from s2lic.eval.codecs import S2LICCodec, make_codec
from s2lic.train.ship import SHIP_QUALITIES, evaluate
codecs = {
    "shipped": S2LICCodec("s2lic-s", "cpu", None, SHIP_QUALITIES),
    "jpeg": make_codec("jpeg"),
    "webp": make_codec("webp"),
}
evaluate(Path(sys.argv[1]), Path(sys.argv[2]), codecs, workers=1)
PY
  fi
  for arm in "$@"; do
    out=$study/eval/$arm
    mkdir -p "$out"
    for k in shipped jpeg webp; do [ -d "$out/$k" ] || cp -r "$study/eval/base/$k" "$out/$k"; done
    .venv/bin/python -W ignore scripts/ship_weights.py "$study/$arm/last.safetensors" \
      --run "$study/$arm" --where "study arm" --trained-on cpu --dataset "$kodak" \
      --out "$out" --dry-run > "$out.txt" 2>&1
  done
}
if [ "${1:-}" != --now ]; then
  # In a session of its own that lowers its own autogroup (as arm.sh does): lowering
  # a pid's autogroup from here would lower this shell's whole session instead.
  mkdir -p "$study/eval"
  setsid nohup bash -c 'echo 19 > /proc/self/autogroup; exec "$@"' _ "$0" --now "$@" \
    > "$study/eval/log.txt" 2>&1 &
  echo $!
  exit
fi
shift
run_all "$@"
