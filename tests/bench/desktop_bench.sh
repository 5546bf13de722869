#!/usr/bin/env bash
# The desktop app's start-up time and memory (DESIGN.md §8, §9).
#
#   tests/bench/desktop_bench.sh [BUILD_DIR]     (default: build/release)
#
# Builds nothing: BUILD_DIR must hold a release build of custodia and
# custodia_desktop_bench. Runs on Qt's offscreen platform with the software
# renderer (no display needed; a GPU would only make drawing faster).
#
# - start-up: `custodia --measure-startup` on a vault of COUNT items, to the
#   first frame of the unlock screen; the app's own figure (from main()) and
#   the wall clock from exec(), best and median of 5 runs. The page cache is
#   warm after the first run, and this script does not drop it: the first
#   run is the nearest to a cold start and is reported on its own.
# - memory: RSS of the real QML app locked, after unlocking and opening the
#   case (first page of 100 items), and after scrolling through all items.
#
# Prints a table and writes BUILD_DIR/desktop_bench.json.
# CUSTODIA_BENCH_ITEMS changes the vault size (default 10000).
set -euo pipefail

build=${1:-build/release}
app=$build/app/desktop/custodia
bench=$build/tests/gui/custodia_desktop_bench
count=${CUSTODIA_BENCH_ITEMS:-10000}
runs=5

for bin in "$app" "$bench"; do
  [[ -x $bin ]] || { echo "desktop_bench: $bin not found: build the release preset first" >&2; exit 2; }
done

work=$(mktemp -d "$build/desktop-bench-XXXXXX")
trap 'rm -rf "$work"' EXIT
export QT_QPA_PLATFORM=offscreen QT_QUICK_BACKEND=software
export XDG_RUNTIME_DIR=$work/runtime XDG_CONFIG_HOME=$work/config
mkdir -m 0700 "$XDG_RUNTIME_DIR"

echo "desktop_bench: making a vault of $count items (cheap test KDF)..." >&2
"$bench" setup "$work/vault" "$count" >"$work/setup.txt"

internal=() wall=()
for ((i = 0; i < runs; i++)); do
  start=$(date +%s%N)
  out=$("$app" --vault "$work/vault" --measure-startup 2>/dev/null)
  end=$(date +%s%N)
  ms=$(awk '/^first-frame-ms/ {print $2}' <<<"$out")
  [[ -n $ms ]] || { echo "desktop_bench: custodia printed no first-frame time" >&2; exit 1; }
  internal+=("$ms")
  wall+=("$(((end - start) / 1000000))")
done

"$bench" measure "$work/vault" >"$work/measure.txt" 2>/dev/null
value() { awk -v k="$1" '$1 == k {print $2}' "$work/setup.txt" "$work/measure.txt"; }
rows=$(value rows_loaded)
[[ $rows == "$count" ]] || { echo "desktop_bench: scrolled through $rows of $count items" >&2; exit 1; }

sorted() { printf '%s\n' "$@" | sort -n; }
best() { sorted "$@" | head -1; }
median() { sorted "$@" | sed -n "$((($# + 1) / 2))p"; }
mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }

printf '\n%-48s %12s\n' "desktop app, vault of $count items" "figure"
printf '%-48s %12s\n' "------------------------------------------------" "------------"
printf '%-48s %9s ms\n' "start to first frame, first run (from main)" "${internal[0]}"
printf '%-48s %9s ms\n' "start to first frame, first run (wall, exec)" "${wall[0]}"
printf '%-48s %9s ms\n' "start to first frame, best of $runs (from main)" "$(best "${internal[@]}")"
printf '%-48s %9s ms\n' "start to first frame, median of $runs (wall)" "$(median "${wall[@]}")"
printf '%-48s %9s ms\n' "unlock (test KDF) to cases list" "$(value unlock_to_cases_ms)"
printf '%-48s %9s ms\n' "unlock to the case's first 100 rows loaded" "$(value unlock_to_first_page_rows_ms)"
printf '%-48s %9s ms\n' "... and on screen (after the page animation)" "$(value unlock_to_case_on_screen_ms)"
printf '%-48s %8s MiB\n' "RSS locked, unlock screen" "$(mib "$(value rss_locked_kib)")"
printf '%-48s %8s MiB\n' "RSS unlocked, case open (100 rows)" "$(mib "$(value rss_unlocked_case_open_kib)")"
printf '%-48s %8s MiB\n' "RSS after scrolling through all $count rows" "$(mib "$(value rss_all_rows_kib)")"
printf '%-48s %8s MiB\n' "peak RSS" "$(mib "$(value rss_peak_kib)")"
printf '%-48s %9s ms\n' "scrolling through all rows (page by page)" "$(value scroll_all_ms)"

cat >"$build/desktop_bench.json" <<JSON
{
  "items": $count,
  "platform": "offscreen, software renderer",
  "startup_first_frame_ms": {
    "from_main": [$(IFS=,; echo "${internal[*]}")],
    "wall_from_exec": [$(IFS=,; echo "${wall[*]}")]
  },
  "unlock_to_cases_ms": $(value unlock_to_cases_ms),
  "unlock_to_first_page_rows_ms": $(value unlock_to_first_page_rows_ms),
  "unlock_to_case_on_screen_ms": $(value unlock_to_case_on_screen_ms),
  "rss_kib": {
    "locked": $(value rss_locked_kib),
    "unlocked_case_open": $(value rss_unlocked_case_open_kib),
    "all_rows_loaded": $(value rss_all_rows_kib),
    "peak": $(value rss_peak_kib)
  },
  "scroll_all_rows_ms": $(value scroll_all_ms)
}
JSON
echo "desktop_bench: wrote $build/desktop_bench.json" >&2
