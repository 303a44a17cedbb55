#!/usr/bin/env bash
# Run ON the lent GPU machine (device tool, carry [".device/wheels", ".device/data"]):
#   bash scripts/gpu_round.sh MINUTES [extra s2lic-train options...]
# Installs the carried cp312 wheels, trains s2lic-s for MINUTES starting from the shipped
# weights (or from scratch if none are shipped), and leaves in $OUT: the fp16 weights,
# run.json (config, steps, time: what scripts/ship_weights.py records), log.csv, val.csv,
# round.log (the GPU, versions, attention backend, throughput) and preflight.log (the
# Triton attention's CUDA tests).
set -uo pipefail
minutes=${1:?usage: gpu_round.sh MINUTES [train options]}
shift
source "$(dirname "$0")/gpu_env.sh"

init=$(python3 - <<'PY'
import tomllib, pathlib
m = tomllib.loads(pathlib.Path("weights/manifest.toml").read_text())
e = m.get("s2lic-s", {})
d = e.get("default")
print(f"weights/{e['weights'][d]['file']}" if d else "")
PY
)
# A session's two calls share one run: the first with --schedule-minutes T (both
# calls' minutes), the second resumes /tmp/run with the same T and
# --data .device/data2/* (a later --data replaces the default one). The run folder is
# /tmp/run unless the options give another --out.
run=/tmp/run
prev=
for a in "$@"; do [ "$prev" = --out ] && run=$a; prev=$a; done
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  python3 -c "import torch, compressai; print('torch', torch.__version__, 'compressai', compressai.__version__)"
  echo "init: ${init:-none (random weights)}; minutes: $minutes; options: $*"
} 2>&1 | tee "$out/round.log"

# Preflight: the fused Triton attention has to pass its CUDA tests before a round trains
# with it; otherwise this round trains with SDPA (same numbers, slower) and says so.
if timeout 120 python3 -m pytest -q -p no:cacheprovider -k test_cuda_matches_reference \
    tests/codec/test_triton_attention.py >"$out/preflight.log" 2>&1; then
  echo "attention: triton (CUDA tests passed)" | tee -a "$out/round.log"
else
  export S2LIC_ATTENTION=sdpa
  echo "attention: sdpa (Triton CUDA tests failed: preflight.log)" | tee -a "$out/round.log"
fi

# AdamW: SOAP (the CPU default since the study) is untried at the GPU round's batch,
# learning rate and ~7,000 steps, and its library is not among the carried wheels.
python3 -m s2lic.cli train --model s2lic-s --data .device/data/shard-* --out /tmp/run \
    --minutes "$minutes" --crop 256 --batch 64 --lr 3e-4 --warmup 200 --workers 12 \
    --val-every 200 --log-every 20 --ckpt-every 120 --optimizer adamw \
    ${init:+--init "$init"} "$@" \
    2>&1 | tee -a "$out/round.log"
status=${PIPESTATUS[0]}
cp "$run"/last.safetensors "$run"/run.json "$run"/log.csv "$run"/val.csv "$out"/ 2>/dev/null
tail -1 "$run/log.csv" | tee -a "$out/round.log"
exit "$status"
