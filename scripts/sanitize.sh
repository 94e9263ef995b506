#!/usr/bin/env bash
# The CPU test suite under sanitizers (no CUDA, no LibTorch, g++):
#   build-asan/  ASan + UBSan: every CPU test ctest has (GoogleTest suites and the CLI test)
#   build-tsan/  TSan: the tests whose code runs on worker threads
# Exits non-zero on the first suite with a failure or a sanitizer report (both abort the test).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
JOBS=${JOBS:-$(nproc)}
# The Makefile's ccache settings, for runs outside make.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$ROOT} CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}
export UBSAN_OPTIONS=print_stacktrace=1
# TSan makes a report fail the test, like ASan and UBSan do.
export TSAN_OPTIONS=halt_on_error=1

# suite DIR SANITIZER [TEST...]: configure, build what the tests need, run them (every test
# ctest has when none is named).
suite() {
  local b=$ROOT/$1 sanitizer=$2
  shift 2
  local build=(--target all) select=()
  if [[ $# -gt 0 ]]; then
    build=(--target "${@/#cli/co3}")  # the cli test runs the co3 binary
    select=(-R "^($(IFS='|' && echo "$*"))\$")
  fi
  mkdir -p "$b"
  cmake -S "$ROOT" -B "$b" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCO3_WITH_CUDA=OFF \
    -DCO3_WITH_TORCH=OFF -DCO3_BUILD_BENCH=OFF -DCO3_SANITIZE="$sanitizer" \
    >"$b/configure.log" 2>&1 || { cat "$b/configure.log"; return 1; }
  cmake --build "$b" -j "$JOBS" "${build[@]}"
  ctest --test-dir "$b" --output-on-failure -j "$JOBS" "${select[@]}"
}

echo "== sanitize: ASan + UBSan, CPU suite (build-asan/) =="
suite build-asan address
echo "== sanitize: TSan, multi-threaded codec tests (build-tsan/) =="
suite build-tsan thread test_codec test_packet test_error_feedback test_concurrency test_encode_into cli
