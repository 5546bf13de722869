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

# best_pair RUNS BEFORE OURS REF
# Like best_seconds for two commands (each one word: a function), run in
# turns (OURS, REF, OURS, REF, …) so that both meet the same machine: page
# cache, write-back and a noisy neighbour land on both alike. Prints the
# fastest time of each, "OURS REF", in seconds.
best_pair() {
  local runs=$1 before=$2 ours=$3 ref=$4 i cmd start end t
  local -A best=()
  for ((i = 0; i < runs; i++)); do
    for cmd in "$ours" "$ref"; do
      "$before" "$cmd"
      start=$(date +%s%N)
      "$cmd" >/dev/null || { echo "benchmark: $cmd failed" >&2; exit 1; }
      end=$(date +%s%N)
      t=$((end - start))
      if [[ -z ${best[$cmd]:-} || $t -lt ${best[$cmd]} ]]; then best[$cmd]=$t; fi
    done
  done
  awk -v a="${best[$ours]}" -v b="${best[$ref]}" 'BEGIN { printf "%.3f %.3f\n", a / 1e9, b / 1e9 }'
}
