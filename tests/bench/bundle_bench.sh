#!/usr/bin/env bash
# Sealed-bundle throughput against the reference pipelines, in the same run on
# the same files (DESIGN.md §9: each figure is a ratio):
#   export         custodia-cli export (a vault case)  vs  tar -c | zstd -1 | age -r R > OUT
#   open + verify  custodia-cli open / verify          vs  age -d | tar --zstd -x -C DIR; sha256sum -c
#
#   tests/bench/bundle_bench.sh [BUILD_DIR]      (default: build/release)
#
# Builds nothing: BUILD_DIR must hold a release build of custodia-cli
# (`cmake --build --preset release --target custodia-cli`). The case is
# CUSTODIA_BENCH_MIB MiB (default 256): seven eighths incompressible (media),
# one eighth text, plus 64 small files, ingested into a vault (with the
# insecure test KDF, so that unlocking costs nothing measurable). Ours is the
# real command: unlock, read the case, decrypt every blob, seal, fsync the
# bundle and envelope, log the export. Ours and the reference run in turns,
# 5 times each; the best wall-clock time of each counts. The reference does not fsync, so it is also shown
# followed by `sync` of its output. Outputs are checked afterwards. Prints a
# table and writes BUILD_DIR/bundle_bench.json.
set -euo pipefail
. "$(dirname "$0")/bench_lib.sh"

build=${1:-build/release}
cli=$build/app/cli/custodia-cli
size_mib=${CUSTODIA_BENCH_MIB:-256}
runs=5

[[ -x $cli ]] || { echo "bundle_bench: $cli not found: build the release preset first" >&2; exit 2; }
for tool in age age-keygen tar zstd sha256sum minisign cmp base64; do
  command -v "$tool" >/dev/null || { echo "bundle_bench: $tool is missing (packaging/install-deps.sh)" >&2; exit 2; }
done

# Inside the build folder: a real file system, not a tmpfs that hides write costs.
work=$(mktemp -d "$build/bundle-bench-XXXXXX")
trap 'rm -rf "$work"' EXIT
case_dir=$work/case
mkdir -p "$case_dir" "$work/ours" "$work/ref"

big=$((size_mib / 8))
for i in 1 2 3 4 5 6 7; do head -c "$((big * 1024 * 1024))" /dev/urandom >"$case_dir/media-$i.bin"; done
head -c "$((big * 1024 * 1024 * 3 / 4))" /dev/urandom | base64 -w 76 >"$case_dir/transcript.txt"
for i in $(seq -w 1 64); do head -c 16384 /dev/urandom >"$case_dir/photo-$i.jpg"; done
case_bytes=$(du -sb "$case_dir" | cut -f1)

age-keygen -o "$work/key" 2>/dev/null
recipient=$(age-keygen -y "$work/key")

# The vault: a throwaway passphrase, and the test KDF so unlock is instant.
export CUSTODIA_INSECURE_TEST_KDF=1 CUSTODIA_PASSPHRASE=bundle-bench
vault=$work/vault
cli() { "$cli" --vault "$vault" "$@"; }
cli init --investigator bench >/dev/null 2>&1
case_id=$(cli case create "bundle_bench" | tail -1)
cli add --case "$case_id" --consent written --consent-scope "bench NGO" "$case_dir"/* >/dev/null
cli identity >"$work/device.pub"
# Ingest writes blobs past the page cache (O_DIRECT); read them once so that
# ours starts warm like the reference, whose files were just written.
cat "$vault"/blobs/*/* >/dev/null

ours_export()    { cli export --case "$case_id" --to "$recipient" -o "$work/ours/bench.custodia" >/dev/null; }
ref_export()     { tar -c -C "$case_dir" . | zstd -1 -q | age -r "$recipient" >"$work/ref/ref.age"; }
ref_export_sync(){ ref_export && sync "$work/ref/ref.age"; }
ours_open()      { "$cli" open "$work/ours/bench.custodia" -i "$work/key" --device-key "$work/device.pub" -o "$work/x-ours" >/dev/null; }
ours_verify()    { "$cli" verify "$work/ours/bench.custodia" -i "$work/key" --device-key "$work/device.pub" >/dev/null; }
ref_open()       {
  mkdir -p "$work/x-ref"
  age -d -i "$work/key" "$work/ours/bench.custodia" | tar --zstd -xf - -C "$work/x-ref"
  (cd "$work/x-ref" && sha256sum -c --quiet SHA256SUMS)
}

clean() {
  rm -rf "$work/x-ours" "$work/x-ref" "$work/ref/ref.age"
  case "$1" in ours_export) rm -f "$work/ours/bench.custodia" "$work/ours/bench.custodia.envelope" ;; esac
}

# Each run starts from clean outputs, with earlier writes flushed. The open
# rows read the bundle an export left, so before anything else runs after
# an export, a bundle is made again.
clean_and_sync_keeping_bundle() {
  clean "$1"
  [[ $1 == ours_export || -f $work/ours/bench.custodia ]] || ours_export
  sync
}

rows=(
  "export (fsync, + envelope)|ours_export|ref_export|tar -c | zstd -1 | age -r R > OUT"
  "export vs reference + sync|ours_export|ref_export_sync|… > OUT; sync OUT"
  "open + verify + extract|ours_open|ref_open|age -d | tar --zstd -x; sha256sum -c"
  "verify only (no files out)|ours_verify|ref_open|age -d | tar --zstd -x; sha256sum -c"
)

declare -a results
mib=$(awk -v b="$case_bytes" 'BEGIN { printf "%.0f", b / 1048576 }')
printf '\n%-28s %9s %9s %8s   %s\n' "operation (${mib} MiB case)" "ours s" "ref s" "ratio" "reference"
for row in "${rows[@]}"; do
  IFS='|' read -r name ours ref ref_text <<<"$row"
  # The open rows need a bundle to open.
  [[ -f $work/ours/bench.custodia ]] || ours_export
  pair=$(best_pair "$runs" clean_and_sync_keeping_bundle "$ours" "$ref")
  read -r t_ours t_ref <<<"$pair"
  ratio=$(awk -v a="$t_ours" -v b="$t_ref" 'BEGIN { printf "%.2f", a / b }')
  mib_s=$(awk -v a="$t_ours" -v b="$case_bytes" 'BEGIN { printf "%.0f", b / 1048576 / a }')
  printf '%-28s %9s %9s %7sx   %s  (ours %s MiB/s)\n' "$name" "$t_ours" "$t_ref" "$ratio" "$ref_text" "$mib_s"
  results+=("$(printf '{"operation": "%s", "ours_seconds": %s, "reference_seconds": %s, "ratio": %s, "reference": "%s"}' \
    "$name" "$t_ours" "$t_ref" "$ratio" "$ref_text")")
done

# Check what the last runs left behind.
verified=true
check() {
  if ! "$@"; then echo "bundle_bench: output check failed: $*" >&2; verified=false; fi
}
[[ -f $work/ours/bench.custodia ]] || ours_export
clean none
ours_open
ref_open
check minisign -Vqm "$work/ours/bench.custodia" -x "$work/ours/bench.custodia.envelope" -p "$work/device.pub"
for f in "$case_dir"/*; do
  name=$(basename "$f")
  check cmp -s "$f" "$(find "$work/x-ours/files" -name "$name" -print -quit)"
  check cmp -s "$f" "$(find "$work/x-ref/files" -name "$name" -print -quit)"
done
ref_export
ours_bytes=$(stat -c %s "$work/ours/bench.custodia")
ref_bytes=$(stat -c %s "$work/ref/ref.age")
echo
printf 'sizes: ours %d bytes, reference %d bytes (%.4fx)\n' "$ours_bytes" "$ref_bytes" \
  "$(awk -v a="$ours_bytes" -v b="$ref_bytes" 'BEGIN { printf "%.4f", a / b }')"
$verified && echo "outputs verified: envelope checks with minisign, age+tar+sha256sum -c accept the bundle, every file extracted by both equals its original"

json=$build/bundle_bench.json
{
  printf '{\n  "benchmark": "bundle_bench",\n  "date": "%s",\n  "case_bytes": %d,\n  "runs": %d,\n' \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$case_bytes" "$runs"
  printf '  "statistic": "best wall-clock time of the runs",\n'
  printf '  "machine": {"cpus": %d, "kernel": "%s"},\n' "$(nproc)" "$(uname -r)"
  printf '  "tools": {"age": "%s", "zstd": "%s", "tar": "%s"},\n' "$(age --version)" \
    "$(zstd --version | head -1)" "$(tar --version | head -1)"
  printf '  "bundle_bytes": %d,\n  "reference_bytes": %d,\n' "$ours_bytes" "$ref_bytes"
  printf '  "outputs_verified": %s,\n  "results": [\n' "$verified"
  for ((i = 0; i < ${#results[@]}; i++)); do
    printf '    %s%s\n' "${results[i]}" "$([[ $i -lt $((${#results[@]} - 1)) ]] && echo ,)"
  done
  printf '  ]\n}\n'
} >"$json"
echo "results written to $json"
$verified
