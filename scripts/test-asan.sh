#!/usr/bin/env bash
# make test-asan: the whole test suite built with AddressSanitizer and UBSan (GCC) in a folder
# of its own. Any report fails the test that triggered it: UBSan does not recover
# (-fno-sanitize-recover), ASan stops at the first error.
#
# libtorch, OpenBLAS and the other Debian libraries are not instrumented; ASan still checks
# every allocation they make through malloc. Leak detection stays on; lsan.supp lists the
# allocations libtorch and its OpenMP runtime keep in global state until exit (one-time
# caches, never freed by design), so that a leak of cai's own shows up.
set -euo pipefail

BUILD=${1:-build-asan}
JOBS=${JOBS:-2}
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g1"

launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE=-O1 "${launcher[@]}" \
  -DCMAKE_CXX_FLAGS="$SAN" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
  -DCAI_BUILD_BENCH=OFF >/dev/null
cmake --build "$BUILD" -j"$JOBS"

here=$(cd "$(dirname "$0")" && pwd)
export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=0"
export LSAN_OPTIONS="suppressions=$here/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
cd "$BUILD" && ctest --output-on-failure -j"$JOBS"
