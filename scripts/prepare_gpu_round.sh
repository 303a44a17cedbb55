#!/usr/bin/env bash
# Run HERE (not on the GPU machine): stage what a GPU training round carries.
#   scripts/prepare_gpu_round.sh [SHARD]     # SHARD: 00..04, rotate it between rounds
# Fills the git-ignored .device/: wheels/ (cp312 wheels + pytest), data/ (one 24 MiB
# shard, the small shard-05 and as much of the next shard as fits) and kodak/ (the 24
# Kodak images, evaluation only, for scripts/gpu_checks.sh). Each call carries only what
# it needs, so that working tree + carried files stay under the device tool's 64 MiB:
#   gpu_checks.sh: carry [".device/wheels", ".device/kodak"]
#   gpu_round.sh:  carry [".device/wheels", ".device/data"]
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${S2LIC_SHARED:-../shared}
shard=${1:-00}
rm -rf .device && mkdir -p .device/wheels .device/data
cp "$shared"/gpu-wheels/*.whl .device/wheels/
cp -r "$shared/data/train/shard-$shard" "$shared/data/train/shard-05" .device/data/
# pytest for the Triton tests in gpu_checks.sh (the GPU machine has no network).
python3 -m pip download -q -d .device/wheels --only-binary=:all: --python-version 3.12 \
    pytest || echo "could not download pytest: gpu_checks.sh will skip the Triton tests"
# Fill what is left of the round's 64 MiB (2 MiB kept spare) with images of the next
# shard: more different photos per round, as rounds see each one hundreds of times.
next=$(printf '%02d' $(( (10#$shard + 1) % 5 )))
tree=$(git ls-files -z --cached --others --exclude-standard | du -cb --files0-from=- | tail -1 | cut -f1)
room=$(( 62 * 1048576 - tree - $(du -sb .device/wheels .device/data | awk '{s+=$1} END {print s}') ))
mkdir -p ".device/data/shard-$next-part"
for f in "$shared/data/train/shard-$next"/*; do
  size=$(stat -c %s "$f")
  [ "$size" -le "$room" ] || break
  cp "$f" ".device/data/shard-$next-part/" && room=$(( room - size ))
done
mkdir -p .device/kodak && cp "$shared"/data/kodak/*.png .device/kodak/
du -sh .device/* "$(git rev-parse --show-toplevel)" --exclude=.venv --exclude=runs \
    --exclude=.git --exclude=.device
echo "1. bash scripts/gpu_checks.sh     carry [\".device/wheels\", \".device/kodak\"]"
echo "2. bash scripts/gpu_round.sh MIN  carry [\".device/wheels\", \".device/data\"]"
