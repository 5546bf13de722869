#!/usr/bin/env bash
# Upload figures (tracker issue 5, DESIGN.md §9), same run, same server build:
#   ours   custodia's client uploading a bundle through a proxy that cuts
#          every connection after 64 MiB (resume from the server's offset)
#   (and, for comparison, the same upload without cuts)
#   ref    curl -T of the same file, one PATCH, same proxy, no cuts, timed
#          with the SHA-256 its PATCH must carry (openssl dgst); shown too
#          without it
# Targets: throughput >= 0.8x curl's, bytes sent <= 1.05x curl's.
#
#   tests/bench/sync_bench.sh [BUILD_DIR]      (default: build/release)
#
# BUILD_DIR must hold a release build of sync_bench and custodia-intake
# (`cmake --build --preset release --target sync_bench`). The bundle is
# CUSTODIA_BENCH_MIB MiB of random bytes (default 1024); each side gets a
# fresh server per round, 5 rounds, the best time counts. Prints a table and
# writes BUILD_DIR/sync_bench.json.
set -euo pipefail

build=${1:-build/release}
bench=$build/tests/bench/sync_bench
size_mib=${CUSTODIA_BENCH_MIB:-1024}

[[ -x $bench ]] || { echo "sync_bench: $bench not found: build the release preset first" >&2; exit 2; }
for tool in curl openssl sha256sum; do
  command -v "$tool" >/dev/null || { echo "sync_bench: $tool is missing (packaging/install-deps.sh)" >&2; exit 2; }
done

# On the build's file system: the server fsyncs what it receives.
work=$(mktemp -d "$build/sync-bench-XXXXXX")
trap 'rm -rf "$work"' EXIT
head -c "$((size_mib * 1024 * 1024))" /dev/urandom >"$work/bundle.custodia"
"$bench" "$work/bundle.custodia" "$work" 5 >"$work/out"

get() { awk -v k="$1" '$1 == k {print $2}' "$work/out"; }
ours_s=$(get ours_seconds); curl_s=$(get curl_seconds)
ours_b=$(get ours_bytes_up); curl_b=$(get curl_bytes_up); cuts=$(get ours_cuts)
uncut_s=$(get uncut_seconds); failed=$(get ours_failed_requests)
patch_s=$(get curl_patch_seconds)
vs_patch=$(awk -v o="$ours_s" -v c="$patch_s" 'BEGIN { printf "%.2f", c / o }')
uncut=$(awk -v o="$uncut_s" -v c="$curl_s" 'BEGIN { printf "%.2f", c / o }')
speed=$(awk -v o="$ours_s" -v c="$curl_s" 'BEGIN { printf "%.2f", c / o }')
bytes=$(awk -v o="$ours_b" -v c="$curl_b" 'BEGIN { printf "%.3f", o / c }')
mib_s() { awk -v s="$1" -v m="$size_mib" 'BEGIN { printf "%.0f", m / s }'; }

printf '%-48s %10s %10s %8s\n' "figure" "ours" "curl -T" "ratio"
printf '%-48s %9.3fs %9.3fs %7.2fx   (throughput; target >= 0.8x)\n' \
  "upload ${size_mib} MiB, ours cut every 64 MiB" "$ours_s" "$curl_s" "$speed"
printf '%-48s %9.3fs %9.3fs %7.2fx\n' "upload ${size_mib} MiB, ours without cuts" "$uncut_s" "$curl_s" "$uncut"
printf '%-48s %9.3fs %9.3fs %7.2fx   (curl without the SHA-256 its PATCH needs)\n' \
  "upload ${size_mib} MiB, ours cut, vs curl's PATCH only" "$ours_s" "$patch_s" "$vs_patch"
printf '%-48s %10s\n' "cuts / failed requests retried (ours)" "$cuts / $failed"
printf '%-48s %6s MiB/s %4s MiB/s\n' "throughput" "$(mib_s "$ours_s")" "$(mib_s "$curl_s")"
printf '%-48s %10s %10s %7sx   (target <= 1.05x)\n' "bytes sent to the server" "$ours_b" "$curl_b" "$bytes"

cat >"$build/sync_bench.json" <<JSON
{
  "bundle_mib": $size_mib,
  "ours_seconds": $ours_s,
  "curl_seconds": $curl_s,
  "throughput_ratio": $speed,
  "ours_bytes_up": $ours_b,
  "curl_bytes_up": $curl_b,
  "bytes_ratio": $bytes,
  "ours_cuts": $cuts,
  "ours_failed_requests": $failed,
  "ours_uncut_seconds": $uncut_s,
  "curl_patch_only_seconds": $patch_s,
  "throughput_ratio_vs_patch_only": $vs_patch
}
JSON
