#!/usr/bin/env bash
# Fuzzes co3's parsers of untrusted bytes (tests/fuzz) with libFuzzer under ASan and UBSan.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]      default 60; a longer run is a bigger number
#
# Builds build-fuzz/ with clang++ (no CUDA, no LibTorch) and runs each target, one job, on a
# scratch copy of its seed corpus tests/fuzz/corpus/<target> (what it finds stays out of the
# checkout). Prints each target's executions and coverage (libFuzzer's final "DONE" line) and
# exits 1 if any target crashed, leaked, hung (10 s) or outgrew 2 GiB; the input that did it is
# saved in build-fuzz/artifacts/.
set -euo pipefail

SECONDS_PER_TARGET=${1:-60}
if ! [[ $SECONDS_PER_TARGET =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: $0 [SECONDS_PER_TARGET]" >&2
  exit 2
fi
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=$ROOT/build-fuzz
TARGETS=(packet code_lengths npy)
# The Makefile's ccache settings, for runs outside make.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$ROOT} CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}

mkdir -p "$B"
cmake -S "$ROOT" -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DCO3_WITH_CUDA=OFF -DCO3_WITH_TORCH=OFF -DCO3_FUZZ=ON -DCO3_BUILD_BENCH=OFF \
  >"$B/configure.log" 2>&1 || { cat "$B/configure.log"; exit 1; }
cmake --build "$B" -j "${JOBS:-$(nproc)}" --target "${TARGETS[@]/#/fuzz_}"

# UBSan aborts on its first report (-fno-sanitize-recover); the stack says where.
export UBSAN_OPTIONS=print_stacktrace=1
mkdir -p "$B/artifacts"
failed=()
for t in "${TARGETS[@]}"; do
  corpus=$B/corpus/$t
  rm -rf "$corpus"
  mkdir -p "$corpus"
  cp "$ROOT/tests/fuzz/corpus/$t/"* "$corpus/"
  log=$B/fuzz_$t.log
  rc=0
  "$B/tests/fuzz/fuzz_$t" "$corpus" -max_total_time="$SECONDS_PER_TARGET" -timeout=10 \
    -rss_limit_mb=2048 -artifact_prefix="$B/artifacts/fuzz_$t-" >"$log" 2>&1 || rc=$?
  done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 || true)
  if [[ $rc -eq 0 && -n $done_line ]]; then
    printf 'fuzz_%-13s %s\n' "$t" "$(tr -s '\t ' ' ' <<<"$done_line")"
  else
    failed+=("fuzz_$t")
    echo "fuzz_$t FAILED (exit $rc); the end of $log:"
    tail -n 60 "$log"
  fi
done
if [[ ${#failed[@]} -ne 0 ]]; then
  echo "fuzz: ${failed[*]} failed; inputs in $B/artifacts/ (replay: build-fuzz/tests/fuzz/TARGET FILE)"
  exit 1
fi
echo "fuzz: ${#TARGETS[@]} targets, ${SECONDS_PER_TARGET} s each, no crash"
