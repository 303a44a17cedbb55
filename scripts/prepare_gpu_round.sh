#!/usr/bin/env bash
# Run HERE (not on the GPU machine): stage what a GPU training round carries.
#   scripts/prepare_gpu_round.sh [SHARD]     # SHARD: 00..04, rotate it between rounds
# Fills the git-ignored .device/: wheels/ (cp312 wheels + pytest), data/ and data2/
# (training images for the round's first and chained second run: shard SHARD, the small
# shard-05, then the following shards, as many as fit; data2/ goes on where data/ ends,
# so the two runs of a session see different photos) and kodak/ (the 24 Kodak images,
# evaluation only, for scripts/gpu_checks.sh). Each call carries only what it needs, so
# that working tree + carried files stay under the device tool's 64 MiB:
#   gpu_checks.sh:          carry [".device/wheels", ".device/kodak"]
#   gpu_round.sh:           carry [".device/wheels", ".device/data"]
#   chained gpu_round.sh:   carry [".device/wheels", ".device/data2"], --data .device/data2/*
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${S2LIC_SHARED:-../shared}
shard=${1:-00}
rm -rf .device && mkdir -p .device/wheels
cp "$shared"/gpu-wheels/*.whl .device/wheels/
# pytest for the Triton tests in gpu_checks.sh (the GPU machine has no network).
python3 -m pip download -q -d .device/wheels --only-binary=:all: --python-version 3.12 \
    pytest || echo "could not download pytest: gpu_checks.sh will skip the Triton tests"
# Training images in rotation order; rounds see each one hundreds of times, so every
# run should get as many different photos as its 64 MiB (2 MiB kept spare) allow.
files=("$shared/data/train/shard-$shard"/* "$shared/data/train/shard-05"/*)
for k in 1 2 3 4; do
  files+=("$shared/data/train/shard-$(printf '%02d' $(( (10#$shard + k) % 5 )))"/*)
done
tree=$(git ls-files -z --cached --others --exclude-standard | du -cb --files0-from=- | tail -1 | cut -f1)
room=$(( 62 * 1048576 - tree - $(du -sb .device/wheels | cut -f1) ))
i=0
for dest in .device/data .device/data2; do
  left=$room
  while [ "$i" -lt "${#files[@]}" ]; do
    f=${files[$i]}
    size=$(stat -c %s "$f")
    [ "$size" -le "$left" ] || break
    folder="$dest/$(basename "$(dirname "$f")")"  # keep the shard's name
    mkdir -p "$folder" && cp "$f" "$folder/"
    left=$(( left - size )) i=$(( i + 1 ))
  done
done
mkdir -p .device/kodak && cp "$shared"/data/kodak/*.png .device/kodak/
du -sh .device/* "$(git rev-parse --show-toplevel)" --exclude=.venv --exclude=runs \
    --exclude=.git --exclude=.device
echo "1. bash scripts/gpu_checks.sh     carry [\".device/wheels\", \".device/kodak\"]"
echo "2. bash scripts/gpu_round.sh MIN --schedule-minutes MIN+MIN2"
echo "       carry [\".device/wheels\", \".device/data\"]"
echo "3. bash scripts/gpu_round.sh MIN2 --schedule-minutes MIN+MIN2 --data .device/data2/*"
echo "       carry [\".device/wheels\", \".device/data2\"]   (at once: resumes /tmp/run)"
