#!/usr/bin/env bash
# libFuzzer on the .pt reader (tests/fuzz/fuzz_pt.cpp), in its own clang + ASan + LibTorch build
# (build-fuzz-pt/). Not part of `make test`: LibTorch's unpickler, which co3 cannot change, asks
# for allocations as large as a hostile file claims (tests/fuzz/findings/pt/), so a long run
# ends in an out-of-memory report that is LibTorch's, not co3's; see tests/fuzz/README.md.
#   bash scripts/fuzz_pt.sh [SECONDS]     (default 120)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SECONDS_PER_RUN=${1:-120}
B=$ROOT/build-fuzz-pt
VENV=$(bash "$ROOT/scripts/setup.sh")
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$ROOT} CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}
mkdir -p "$B"
cmake -S "$ROOT" -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DCO3_WITH_CUDA=OFF -DCO3_WITH_TORCH=ON -DCO3_FUZZ=ON -DCO3_BUILD_BENCH=OFF \
  -DCMAKE_PREFIX_PATH="$("$VENV/bin/python" -c 'import torch;print(torch.utils.cmake_prefix_path)')" \
  >"$B/configure.log" 2>&1 || { cat "$B/configure.log"; exit 1; }
cmake --build "$B" -j "${JOBS:-$(nproc)}" --target fuzz_pt
corpus=$B/corpus/pt
rm -rf "$corpus" && mkdir -p "$corpus"
cp "$ROOT/tests/fuzz/corpus/pt/"* "$corpus/"
# LibTorch's zip reader (miniz's mz_zip_reader_init) leaks a few hundred bytes on some malformed
# files: leaks are not co3's. libFuzzer's -detect_leaks=0 only stops it looking during the run;
# LeakSanitizer's own report at exit needs ASAN_OPTIONS (without it a 30 s run ended in status 1
# and a 'crash' file of the empty input, issue 24).
export ASAN_OPTIONS=detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}
# The fixed crashes first: each must now be refused cleanly.
"$B/tests/fuzz/fuzz_pt" -detect_leaks=0 "$ROOT"/tests/fuzz/regressions/pt/*
cd "$B" && "$B/tests/fuzz/fuzz_pt" "$corpus" -max_total_time="$SECONDS_PER_RUN" -timeout=20 \
  -rss_limit_mb=8192 -detect_leaks=0 -print_final_stats=1
