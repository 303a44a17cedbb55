# Sourced by the scripts that run ON a lent GPU machine (carrying .device/wheels):
# installs the carried cp312 wheels and exposes the repo's folders as the s2lic
# packages, without network and without an editable install.
unset CC  # an exported CC breaks Triton's launcher builds (shared/gpu-wheels/README.md)
export PYTHONUNBUFFERED=1
out=${OUT:-/tmp/out}
mkdir -p "$out"
site=/tmp/site
# Once per machine: a script sourced after another skips the reinstall.
[ -d "$site/compressai" ] || python3 -m pip install -q --no-index --no-deps --no-compile \
    --upgrade --target "$site" .device/wheels/*.whl || exit 1
# The repo's folders are the packages s2lic.codec, s2lic.entropy, ...: link them under an
# s2lic package (with the public API's __init__) instead of an editable install offline.
pkg=/tmp/pkg/s2lic
mkdir -p "$pkg"
for d in codec entropy train eval cli web weights; do ln -sfn "$PWD/$d" "$pkg/$d"; done
ln -sfn "$PWD/s2lic/__init__.py" "$pkg/__init__.py"  # the public API
export PYTHONPATH=/tmp/pkg:$site:$PWD
