#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test Custodia has:
#   1. the libFuzzer targets for a short fixed time each (clang, ASan+UBSan);
#   2. the memory-dump tests (gcore of the CLI and of the locked app) in the
#      release preset: gdb cannot dump a sanitized process, whose shadow
#      memory spans terabytes;
#   3. the whole GoogleTest/CTest suite in the asan preset: -Werror, with
#      AddressSanitizer and UndefinedBehaviorSanitizer, so a warning, a memory
#      error or undefined behaviour anywhere fails the run.
# The last thing printed is CTest's summary of step 3.
set -euo pipefail
cd "$(dirname "$0")/.."

./packaging/install-deps.sh

jobs=$(nproc)

echo "== fuzz: build and short runs"
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$jobs"
ctest --test-dir build/fuzz --output-on-failure -j 1

echo "== release: the memory-dump tests"
cmake --preset release >/dev/null
cmake --build --preset release -j "$jobs" --target cli_memory_test desktop_memory_gcore
CUSTODIA_REQUIRE_GCORE=1 ctest --preset release -R '^(CliMemory|DesktopMemory)[.]' --no-tests=error

echo "== asan: build and the full suite"
cmake --preset asan >/dev/null
cmake --build --preset asan -j "$jobs"
ctest --preset asan -j "$jobs"
