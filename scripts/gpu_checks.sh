#!/usr/bin/env bash
# Run ON the lent GPU machine (device tool, carry [".device/wheels", ".device/kodak"]), before a
# training round: the checks that need a GPU, in about 7 minutes, each with its own time
# limit so that one slow step cannot eat the session's device time.
#   bash scripts/gpu_checks.sh
# Leaves in $OUT: checks.log (GPU, versions, the Triton tests, the golden files decoded on
# the GPU), window_attention.md
# (issue: fused Triton attention), determinism.md (GPU encode -> CPU decode, issue:
# reliability), codec_speed.md (s2lic-s on the GPU) and refine_speed.md (--refine 20, see
# docs/refine.md). Record them in docs/.
set -uo pipefail
source "$(dirname "$0")/gpu_env.sh"
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  python3 -c "import torch, triton; print('torch', torch.__version__, 'triton', triton.__version__)"
  timeout 120 python3 -m pytest -q -p no:cacheprovider tests/codec/test_triton_attention.py
  # Golden files of every shipped weights id decode to their pixels on the GPU too.
  timeout 120 python3 -m pytest -q -p no:cacheprovider tests/codec/test_releases.py \
      -k golden_files
} 2>&1 | tee "$out/checks.log"
timeout 150 python3 benchmarks/window_attention.py --quick 2>&1 | tee "$out/window_attention.md"
timeout 240 python3 benchmarks/determinism.py .device/kodak web/examples --qualities 0.1,0.9 \
    --encode-device cuda --decode-device cpu --encode-threads 8 --decode-threads 4 \
    2>&1 | tee "$out/determinism.md"
timeout 60 python3 benchmarks/codec_speed.py .device/kodak --device cuda --coders rans --limit 8 \
    2>&1 | tee "$out/codec_speed.md"
timeout 90 python3 benchmarks/codec_speed.py .device/kodak --device cuda --coders rans --limit 4 \
    --quality 1 --refine 20 2>&1 | tee "$out/refine_speed.md"
