#!/usr/bin/env bash
# age and SHA-256 throughput of custodia-cli against the reference tools, in
# the same run on the same 1 GiB file (DESIGN.md §9: each figure is a ratio).
#
#   tests/bench/age_bench.sh [BUILD_DIR]       (default: build/release)
#
# Builds nothing: BUILD_DIR must hold a release build of custodia-cli and
# sha256_file (`cmake --build --preset release`). Every command runs 3 times;
# the best wall-clock time counts. Outputs are checked afterwards, so a
# command cannot look fast by doing nothing. Prints a table and writes
# BUILD_DIR/age_bench.json. CUSTODIA_BENCH_MIB changes the file size.
set -euo pipefail
. "$(dirname "$0")/bench_lib.sh"

build=${1:-build/release}
cli=$build/app/cli/custodia-cli
sha=$build/tests/bench/sha256_file
size_mib=${CUSTODIA_BENCH_MIB:-1024}
runs=3

for bin in "$cli" "$sha"; do
  [[ -x $bin ]] || { echo "age_bench: $bin not found: build the release preset first" >&2; exit 2; }
done
for tool in age age-keygen openssl cmp; do
  command -v "$tool" >/dev/null || { echo "age_bench: $tool is missing (packaging/install-deps.sh)" >&2; exit 2; }
done

# The work folder sits inside the build folder: same file system as a real
# vault, and not a tmpfs that would hide write costs.
work=$(mktemp -d "$build/age-bench-XXXXXX")
trap 'rm -rf "$work"' EXIT

plain=$work/plain
head -c "$((size_mib * 1024 * 1024))" /dev/urandom >"$plain"
age-keygen -o "$work/key" 2>/dev/null
recipient=$(age-keygen -y "$work/key")
# One age-made file that both decryptors read.
age -e -r "$recipient" -o "$work/reference.age" "$plain"

ours_encrypt_file()  { "$cli" encrypt -r "$recipient" -o "$work/ours.age" "$plain"; }
# ours fsyncs its output before renaming it into place; age does not, so the
# reference pays the same durability cost with `sync FILE` (fsync).
age_encrypt_file()   { age -e -r "$recipient" -o "$work/age.age" "$plain" && sync "$work/age.age"; }
ours_encrypt_null()  { "$cli" encrypt -r "$recipient" "$plain" >/dev/null; }
age_encrypt_null()   { age -e -r "$recipient" "$plain" >/dev/null; }
ours_decrypt_file()  { "$cli" decrypt -i "$work/key" -o "$work/ours.out" "$work/reference.age"; }
age_decrypt_file()   { age -d -i "$work/key" -o "$work/age.out" "$work/reference.age" && sync "$work/age.out"; }
ours_decrypt_null()  { "$cli" decrypt -i "$work/key" "$work/reference.age" >/dev/null; }
age_decrypt_null()   { age -d -i "$work/key" "$work/reference.age" >/dev/null; }
ours_sha256()        { "$sha" "$plain" >"$work/ours.sha256"; }
openssl_sha256()     { openssl dgst -sha256 -r "$plain" >"$work/openssl.sha256"; }

# Outputs are removed before each run so every run creates its file anew.
remove_outputs() { rm -f "$work/ours.age" "$work/age.age" "$work/ours.out" "$work/age.out"; }
best_of() { best_seconds "$runs" remove_outputs "$1"; }

rows=(
  "encrypt to file (fsync)|ours_encrypt_file|age_encrypt_file|age -e -r R -o OUT; sync OUT"
  "encrypt to /dev/null|ours_encrypt_null|age_encrypt_null|age -e -r R >/dev/null"
  "decrypt to file (fsync)|ours_decrypt_file|age_decrypt_file|age -d -i KEY -o OUT; sync OUT"
  "decrypt to /dev/null|ours_decrypt_null|age_decrypt_null|age -d -i KEY >/dev/null"
  "sha256|ours_sha256|openssl_sha256|openssl dgst -sha256"
)

declare -a results
printf '\n%-26s %10s %10s %8s   %s\n' "operation (${size_mib} MiB)" "ours s" "ref s" "ratio" "reference"
for row in "${rows[@]}"; do
  IFS='|' read -r name ours ref ref_text <<<"$row"
  t_ours=$(best_of "$ours")
  t_ref=$(best_of "$ref")
  ratio=$(awk -v a="$t_ours" -v b="$t_ref" 'BEGIN { printf "%.2f", a / b }')
  mib_s=$(awk -v a="$t_ours" -v m="$size_mib" 'BEGIN { printf "%.0f", m / a }')
  printf '%-26s %10s %10s %7sx   %s  (ours %s MiB/s)\n' "$name" "$t_ours" "$t_ref" "$ratio" "$ref_text" "$mib_s"
  results+=("$(printf '{"operation": "%s", "ours_seconds": %s, "reference_seconds": %s, "ratio": %s, "reference": "%s"}' \
    "$name" "$t_ours" "$t_ref" "$ratio" "$ref_text")")
done

# The last run of each command left its output: check them all.
verified=true
check() {
  if ! "$@"; then echo "age_bench: output check failed: $*" >&2; verified=false; fi
}
ours_encrypt_file && age_decrypt_file && ours_decrypt_file
# ours decrypts age's file; age decrypts its own; age decrypts ours.
check cmp -s "$plain" "$work/ours.out"
check cmp -s "$plain" "$work/age.out"
check bash -c 'age -d -i "$1" "$2" | cmp -s "$3" -' _ "$work/key" "$work/ours.age" "$plain"
# The /dev/null rows, with the same command lines writing into a pipe instead.
check bash -c '"$1" encrypt -r "$2" "$3" | age -d -i "$4" | cmp -s "$3" -' _ \
  "$cli" "$recipient" "$plain" "$work/key"
check bash -c '"$1" decrypt -i "$2" "$3" | cmp -s "$4" -' _ \
  "$cli" "$work/key" "$work/reference.age" "$plain"
check bash -c 'age -d -i "$1" "$2" | cmp -s "$3" -' _ "$work/key" "$work/reference.age" "$plain"
check [ "$(cut -c1-64 "$work/ours.sha256")" = "$(cut -c1-64 "$work/openssl.sha256")" ]
check [ "$(cut -c1-64 "$work/ours.sha256")" = "$(sha256sum "$plain" | cut -c1-64)" ]
echo
$verified && echo "outputs verified: age decrypts ours, ours decrypts age's, SHA-256 digests agree (ours, openssl, sha256sum)"

json=$build/age_bench.json
{
  printf '{\n  "benchmark": "age_bench",\n  "date": "%s",\n  "size_bytes": %d,\n  "runs": %d,\n' \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$((size_mib * 1024 * 1024))" "$runs"
  printf '  "statistic": "best wall-clock time of the runs",\n'
  printf '  "machine": {"cpus": %d, "kernel": "%s"},\n' "$(nproc)" "$(uname -r)"
  printf '  "tools": {"age": "%s", "openssl": "%s"},\n' "$(age --version)" "$(openssl version)"
  printf '  "outputs_verified": %s,\n  "results": [\n' "$verified"
  for ((i = 0; i < ${#results[@]}; i++)); do
    printf '    %s%s\n' "${results[i]}" "$([[ $i -lt $((${#results[@]} - 1)) ]] && echo ,)"
  done
  printf '  ]\n}\n'
} >"$json"
echo "results written to $json"
$verified
