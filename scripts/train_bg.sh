# Sourced by scripts/cpu_round.sh and scripts/study/arm.sh: the default weights of
# s2lic-s, and a training run started in the background at the lowest priority.
# Expects $repo (the repository root) to be set.

# Path of the default s2lic-s weights (the campaign's and the study's start).
default_init() {
  (cd "$repo" && .venv/bin/python -c "
from s2lic.codec.releases import default_release, read_manifest, weights_dir
print(weights_dir() / default_release(read_manifest(), 's2lic-s').file)")
}

# launch LOG s2lic-train-options...: `s2lic train` in a session of its own that lowers
# its own autogroup (setsid makes a fresh one; writing a pid's autogroup from here
# could run before setsid() and lower this shell's session instead); prints its pid.
launch() {
  local log=$1
  shift
  cd "$repo"
  OMP_WAIT_POLICY=PASSIVE setsid nohup bash -c \
    'echo 19 > /proc/self/autogroup; exec "$@"' _ .venv/bin/s2lic train "$@" \
    >> "$log" 2>&1 &
  echo $!
}
