#!/usr/bin/env bash
# The GPU tests on a simulated GPU (GPGPU-Sim, functional mode), for machines without one.
#
#   scripts/gpu_sim_check.sh [OUTDIR]          (make gpu-sim: OUTDIR = build-gpusim/out)
#
# What it proves: the kernels' values on small inputs (every test of tests/gpu/test_gpu_*.cpp
# that launches kernels, at the `sim` size of tests/gpu/gpu_test_size.h), the same bytes as the
# CPU codec and the golden packets. What it does not: races (blocks run one after another, a
# block's warps in lockstep), memory errors (no bounds checks), speed, sm_90 code. Those need a
# GPU: scripts/gpu_check.sh. tests/gpu/README.md lists the simulator's known limitations.
#
# Steps:
#   1 kit       finds the kit at ${CO3_GPUSIM_KIT:-../shared/gpusim} and builds the simulator
#               once into ${CO3_GPUSIM_DIR:-~/.cache/co3-gpusim} (about 8 minutes on 2 cores)
#   2 patches   applies scripts/gpusim/*.diff on top of the kit's own fixes (each says why) and
#               rebuilds what they touch; each fix's probe (the kit's probes/) must then pass
#   3 build     compute_80 PTX and the shared CUDA runtime, torch-free, in build-gpusim/
#   4 tests     every device test executable under simrun.sh with CO3_GPU_TEST_SIM=1, encode
#               first; a gtest summary per executable, then "N passed, M failed" (test cases)
#
# Environment: CO3_GPUSIM_KIT, CO3_GPUSIM_DIR as above; CO3_GPU_SIM_FILTER (a gtest filter,
# default every test); CO3_GPU_SIM_TIMEOUT (seconds per executable, default 3600);
# CO3_GPU_SIM_TIMING=1 runs the timing model instead (PTX_SIM_MODE_FUNC=0: far slower; warps
# scheduled as a GPU would, which can show a missing barrier that functional mode hides).
# Exit status: 0 when every test case passed, 1 when one failed or an executable did not finish,
# 2 when the kit is absent or a step before the tests failed.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$ROOT/build-gpusim/out}
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd)
KIT=${CO3_GPUSIM_KIT:-$ROOT/../shared/gpusim}
GS=${CO3_GPUSIM_DIR:-$HOME/.cache/co3-gpusim}
B=$ROOT/build-gpusim
JOBS=${JOBS:-$(nproc)}
say() { echo "gpu_sim_check: $*"; }

# --- 1 kit ------------------------------------------------------------------------------------
if [[ ! -f $KIT/build.sh ]]; then
  say "the simulated-GPU kit is absent: no $KIT/build.sh (set CO3_GPUSIM_KIT to its folder;"
  say "it ships in the project's shared/ folder beside the checkout as shared/gpusim)"
  exit 2
fi
if [[ ! -x $GS/simrun.sh ]]; then
  say "building GPGPU-Sim into $GS (once, about 8 minutes)"
  bash "$KIT/build.sh" "$GS" >"$OUT/sim_build.log" 2>&1 || {
    tail -n 20 "$OUT/sim_build.log"
    say "the simulator's build failed ($OUT/sim_build.log)"
    exit 2
  }
fi

# --- 2 patches --------------------------------------------------------------------------------
rebuild=0
for p in "$ROOT"/scripts/gpusim/*.diff; do
  if patch -d "$GS/gpgpu-sim" -p1 -R --dry-run -s -f <"$p" >/dev/null 2>&1; then
    continue  # applied already
  fi
  if ! patch -d "$GS/gpgpu-sim" -p1 -N -s <"$p"; then
    say "patch $(basename "$p") does not apply to $GS/gpgpu-sim"
    exit 2
  fi
  say "applied $(basename "$p")"
  rebuild=1
done
if ((rebuild)); then
  say "rebuilding the simulator after the patches"
  (
    cd "$GS/gpgpu-sim" || exit 1
    set +eu +o pipefail  # setup_environment and the Makefile call git on a tree without .git
    export CUDA_INSTALL_PATH=$GS/cuda
    # shellcheck disable=SC1091
    source setup_environment release >/dev/null
    make -j"$JOBS"
  ) >"$OUT/sim_rebuild.log" 2>&1 || {
    tail -n 20 "$OUT/sim_rebuild.log"
    say "the simulator's rebuild failed ($OUT/sim_rebuild.log)"
    exit 2
  }
fi
# Each fix's probe, a standalone program that fails on the unpatched simulator and passes on a
# GPU: the kit's own cvt fixes ↔ its probes/cvt_u64_f64.cu and cvt_f64_u64.cu;
# extern_shared.diff ↔ its probes/extern_shared_alias.cu; loc_inlined_at.diff ↔
# scripts/gpusim/loc_inlined_at.cu (built with -lineinfo, as the kernels are).
NVCC=${CUDACXX:-/usr/local/cuda/bin/nvcc}
mkdir -p "$B/probes"
for probe in "$KIT"/probes/{cvt_u64_f64,cvt_f64_u64,extern_shared_alias}.cu "$ROOT"/scripts/gpusim/*.cu; do
  name=$(basename "$probe" .cu)
  [[ -f $probe ]] || { say "probe $probe is absent"; exit 2; }
  "$NVCC" -std=c++17 -O2 -lineinfo -gencode arch=compute_80,code=compute_80 -cudart shared -I"$KIT/probes" "$probe" \
    -o "$B/probes/$name" || { say "probe $name does not build"; exit 2; }
  if ! (cd "$B/probes" && timeout 300 "$GS/simrun.sh" "$B/probes/$name" >"$OUT/probe_$name.log" 2>&1); then
    grep -v '^GPGPU-Sim' "$OUT/probe_$name.log" | tail -n 5
    say "probe $name FAILED: the simulator lacks a fix co3's tests need ($OUT/probe_$name.log)"
    exit 2
  fi
  say "probe $name: $(grep -v '^GPGPU-Sim' "$OUT/probe_$name.log" | grep -E 'PASS|FAIL' | tail -n 1)"
done

# --- 3 build ----------------------------------------------------------------------------------
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CUDA_COMPILER_LAUNCHER=ccache)
mapfile -t device_tests < <(bash "$ROOT/scripts/gpu_device_tests.sh")  # encode first
say "building ${device_tests[*]} for compute_80 PTX in $B"
{
  cmake -S "$ROOT" -B "$B" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCO3_WITH_CUDA=ON -DCO3_WITH_TORCH=OFF -DCO3_BUILD_BENCH=OFF \
    -DCMAKE_CUDA_ARCHITECTURES=80-virtual -DCMAKE_CUDA_RUNTIME_LIBRARY=Shared "${launcher[@]}" \
    -DCO3_DATA_DIR="$ROOT/../shared/data" &&
    cmake --build "$B" -j "$JOBS" --target "${device_tests[@]}"
} >"$OUT/build.log" 2>&1 || {
  tail -n 30 "$OUT/build.log"
  say "the build failed ($OUT/build.log)"
  exit 2
}

# --- 4 tests ----------------------------------------------------------------------------------
passed=0 failed=0 skipped=0 bad_exes=0
export CO3_GPU_TEST_SIM=1 CO3_DATA_DIR=$ROOT/../shared/data
[[ ${CO3_GPU_SIM_TIMING:-0} == 1 ]] && export PTX_SIM_MODE_FUNC=0
export SIMRUN_DIR=$B/runs
mkdir -p "$SIMRUN_DIR"
for name in "${device_tests[@]}"; do
  log=$OUT/$name.log
  t0=$(date +%s)
  rc=0
  timeout -k 10 "${CO3_GPU_SIM_TIMEOUT:-3600}" "$GS/simrun.sh" "$B/tests/$name" \
    --gtest_filter="${CO3_GPU_SIM_FILTER:-*}" >"$log" 2>&1 || rc=$?
  rm -rf "$SIMRUN_DIR"/run.*  # the simulator's scratch (PTX files, configs) per process
  # gtest's lines only: the simulator prints thousands of its own.
  grep -E '^\[ +(OK|FAILED|SKIPPED|PASSED) +\]|^\[==========\]|Failure$|^Expected|^  Actual|Which is:|error:' "$log" |
    grep -v '^\[==========\] Running' >"$log.gtest"
  # Each case once: gtest lists failed and skipped cases again at the end, without a time.
  p=$(grep -cE '^\[ +OK +\] ' "$log.gtest")
  f=$(grep -cE '^\[ +FAILED +\] [A-Za-z0-9_]+\.[A-Za-z0-9_]+ \([0-9]+ ms\)' "$log.gtest")
  s=$(grep -cE '^\[ +SKIPPED +\] [A-Za-z0-9_]+\.[A-Za-z0-9_]+ \([0-9]+ ms\)' "$log.gtest")
  passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
  what="$p passed, $f failed, $s skipped in $(($(date +%s) - t0)) s"
  case $rc in
    0 | 77) ;;
    124 | 137) what="$what; TIMED OUT"; bad_exes=$((bad_exes + 1)) ;;
    *) ((f == 0)) && { what="$what; exit $rc with no failed test (crash?)"; bad_exes=$((bad_exes + 1)); } ;;
  esac
  echo "==== $name: $what ($log)"
  grep -E '^\[ +(OK|FAILED|SKIPPED) +\] [A-Za-z0-9_]+\.[A-Za-z0-9_]+ \(' "$log.gtest" | sed 's/^/  /'
done
echo "==== gpu_sim_check: ${#device_tests[@]} executables on the simulated GPU$( ((bad_exes)) && echo ", $bad_exes did not finish cleanly")"
echo "$passed passed, $failed failed, $skipped skipped"
((failed == 0 && bad_exes == 0))
