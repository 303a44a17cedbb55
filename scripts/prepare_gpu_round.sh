#!/usr/bin/env bash
# Run HERE (not on the GPU machine): stage what a GPU training round carries.
#   scripts/prepare_gpu_round.sh [SHARD]     # SHARD: 00..04, rotate it between rounds
# Fills the git-ignored .device/ (wheels + one 24 MiB shard + the small shard-05), so that
# working tree + carried files stay under the device tool's 64 MiB.
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${S2LIC_SHARED:-../shared}
shard=${1:-00}
rm -rf .device && mkdir -p .device/wheels .device/data
cp "$shared"/gpu-wheels/*.whl .device/wheels/
cp -r "$shared/data/train/shard-$shard" "$shared/data/train/shard-05" .device/data/
du -sh .device "$(git rev-parse --show-toplevel)" --exclude=.venv --exclude=runs --exclude=.git
echo "carry: [\".device\"]; command: bash scripts/gpu_round.sh MINUTES"
