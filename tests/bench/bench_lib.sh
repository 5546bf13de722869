# Shared by the benchmark scripts (source it; it defines functions only).

# best_seconds RUNS BEFORE COMMAND...
# Runs BEFORE COMMAND... (a function given the command, or `:`) and then
# COMMAND, RUNS times, and prints the
# fastest wall-clock time of COMMAND in seconds. A failing command stops the
# benchmark instead of posting a fast time.
best_seconds() {
  local runs=$1 before=$2 best="" start end t i
  shift 2
  for ((i = 0; i < runs; i++)); do
    "$before" "$@"
    start=$(date +%s%N)
    "$@" >/dev/null || { echo "benchmark: $* failed" >&2; exit 1; }
    end=$(date +%s%N)
    t=$((end - start))
    if [[ -z $best || $t -lt $best ]]; then best=$t; fi
  done
  awk -v ns="$best" 'BEGIN { printf "%.3f", ns / 1e9 }'
}
