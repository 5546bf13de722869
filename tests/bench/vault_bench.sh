#!/usr/bin/env bash
# Vault figures of DESIGN.md §9, each as a ratio against a reference tool in
# the same run where the design names one:
#   - ingest of one file (hash, sign, encrypt, fsync, commit) vs `openssl dgst -sha256`;
#   - peak RSS of that ingest;
#   - verify() of a vault whose custody log has 100,000 entries;
#   - list a page / search among 100,000 items.
#
#   tests/bench/vault_bench.sh [BUILD_DIR]       (default: build/release)
#
# BUILD_DIR must hold a release build of vault_bench. Timed commands run 3
# times and the best wall-clock time counts; the ingest's SHA-256 is checked
# against openssl's, so it cannot look fast by doing nothing. Prints a table
# and writes BUILD_DIR/vault_bench.json. CUSTODIA_BENCH_MIB sets the file
# size (default 1024), CUSTODIA_BENCH_ENTRIES the log size (default 100000).
set -euo pipefail
. "$(dirname "$0")/bench_lib.sh"

build=${1:-build/release}
bench=$build/tests/bench/vault_bench
size_mib=${CUSTODIA_BENCH_MIB:-1024}
entries=${CUSTODIA_BENCH_ENTRIES:-100000}
runs=3

[[ -x $bench ]] || { echo "vault_bench: $bench not found: build the release preset first" >&2; exit 2; }
command -v openssl >/dev/null || { echo "vault_bench: openssl is missing" >&2; exit 2; }

# Inside the build folder: the same file system a vault would use, not a
# tmpfs that would hide the cost of fsync.
work=$(mktemp -d "$build/vault-bench-XXXXXX")
trap 'rm -rf "$work"' EXIT
plain=$work/plain
head -c "$((size_mib * 1024 * 1024))" /dev/urandom >"$plain"

openssl_sha256() { openssl dgst -sha256 -r "$plain" >"$work/openssl.sha256"; }
ours_ingest() {
  rm -rf "$work/ingest-vault"
  /usr/bin/time -f "%M" -o "$work/rss" "$bench" ingest "$plain" "$work" >"$work/ingest.out"
}

t_openssl=$(best_seconds "$runs" : openssl_sha256)
t_ingest=$(best_seconds "$runs" : ours_ingest)
ref=$(cut -c1-64 "$work/openssl.sha256")
got=$(awk '/^ingest_sha256/ {print $2}' "$work/ingest.out")
[[ $ref == "$got" ]] || { echo "vault_bench: ingest SHA-256 $got differs from openssl's $ref" >&2; exit 1; }
rss_kib=$(cat "$work/rss")

rm -rf "$work/log-vault"
"$bench" log "$entries" "$work" >"$work/log.out"
t_verify=$(awk '/^verify_seconds/ {print $2}' "$work/log.out")
t_unlock=$(awk '/^unlock_without_kdf_seconds/ {print $2}' "$work/log.out")
rm -rf "$work/items-vault"
"$bench" items "$entries" "$work" >"$work/items.out"
t_list=$(awk '/^list_page_seconds/ {print $2}' "$work/items.out")
t_search=$(awk '/^search_common_seconds/ {print $2}' "$work/items.out")

ratio=$(awk -v a="$t_ingest" -v b="$t_openssl" 'BEGIN { printf "%.2f", a / b }')
mb_s=$(awk -v a="$t_ingest" -v m="$size_mib" 'BEGIN { printf "%.0f", m / a }')
printf '%-44s %10s %10s %8s\n' "figure" "ours" "reference" "ratio"
printf '%-44s %9.3fs %9.3fs %7.2fx   (target <= 1.15x)\n' "ingest ${size_mib} MiB vs openssl dgst -sha256" "$t_ingest" "$t_openssl" "$ratio"
printf '%-44s %8.0f MiB/s\n' "ingest throughput" "$mb_s"
printf '%-44s %7d MiB   (target <= 64 MiB)\n' "ingest peak RSS (whole process)" "$((rss_kib / 1024))"
printf '%-44s %9.3fs   (target < 2 s)\n' "verify, log of $entries entries" "$t_verify"
printf '%-44s %9.4fs   (target < 100 ms)\n' "unlock besides the KDF, $entries entries" "$t_unlock"
printf '%-44s %9.4fs   (target < 20 ms)\n' "list a page of 50 among $entries items" "$t_list"
printf '%-44s %9.4fs   (target < 100 ms)\n' "search among $entries items" "$t_search"

cat >"$build/vault_bench.json" <<JSON
{
  "file_mib": $size_mib,
  "ingest_seconds": $t_ingest,
  "openssl_sha256_seconds": $t_openssl,
  "ingest_ratio": $ratio,
  "ingest_peak_rss_kib": $rss_kib,
  "log_entries": $entries,
  "verify_seconds": $t_verify,
  "unlock_without_kdf_seconds": $t_unlock,
  "list_page_seconds": $t_list,
  "search_seconds": $t_search
}
JSON
echo "wrote $build/vault_bench.json"
