#!/usr/bin/env bash
# The long kill -9 run: tests/interop/cli_crash_ops_test.cpp and the sync
# kill test of tests/integration/sync_cli_test.cpp with many more kill points
# than CI uses, spread over export, checkpoint, passwd, ingest (a many-file
# add) and sync, from a random or given seed. Prints one line per
# operation and a total: points, kills, failed points. Exit 0 only if no
# kill point failed. A failed run is replayed exactly with the same seed.
#
#   tests/crash/long-run.sh [BUILD_DIR] [--seed N] [--points TOTAL]
#
# BUILD_DIR defaults to build/release (any configured build with the test
# binaries built: `cmake --build BUILD_DIR --target cli_crash_ops_test
# sync_cli_test`). TOTAL (default 500) is shared evenly between the five
# operations.
set -euo pipefail
cd "$(dirname "$0")/../.."

build=build/release
seed=$(( ($(od -An -N4 -tu4 /dev/urandom) ) ))
total=500
while [ $# -gt 0 ]; do
  case "$1" in
    --seed) seed=$2; shift 2 ;;
    --points) total=$2; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) build=$1; shift ;;
  esac
done
binary=${CRASH_TEST_BIN:-$build/tests/cli_crash_ops_test}
sync_binary=${SYNC_TEST_BIN:-$build/tests/sync_cli_test}
for b in "$binary" "$sync_binary"; do
  if [ ! -x "$b" ]; then
    echo "long-run: no $b; build the cli_crash_ops_test and sync_cli_test targets first" >&2
    exit 2
  fi
done
operations=5
per_op=$(( (total + operations - 1) / operations ))
log=$(mktemp "${TMPDIR:-/tmp}/custodia-long-run-XXXXXX")
trap 'rm -f "$log"' EXIT

echo "long-run: seed $seed, $per_op kill points per operation ($(( per_op * operations )) in all)"
start=$(date +%s)
set +e
CUSTODIA_CRASH_SEED=$seed CUSTODIA_CRASH_POINTS=$per_op "$binary" --gtest_brief=1 >"$log" 2>&1
status=$?
CUSTODIA_CRASH_SEED=$seed CUSTODIA_CRASH_POINTS=$per_op "$sync_binary" --gtest_brief=1 \
  --gtest_filter='*SeededPoints*' >>"$log" 2>&1 || status=$?
set -e
elapsed=$(( $(date +%s) - start ))

grep '^crash-summary' "$log" || true
awk -v seed="$seed" -v secs="$elapsed" '
  /^crash-summary/ {
    for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    points += v["points"]; killed += v["killed"]; finished += v["finished"]; failed += v["failed"]; ops++
  }
  END {
    printf "long-run: seed %s: %d operations, %d kill points (%d killed, %d finished first), %d failed, %d s\n",
           seed, ops, points, killed, finished, failed, secs
  }' "$log"
if [ "$status" -ne 0 ]; then
  echo "long-run: FAILED (replay with --seed $seed); the failures:" >&2
  grep -E 'Failure|error|FAILED' "$log" | head -50 >&2
  exit 1
fi
