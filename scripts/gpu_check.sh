#!/usr/bin/env bash
# Builds, tests, sanitizes and benchmarks the GPU codec in one go, for a GPU machine that has no
# network and no GoogleTest package (the device tool's H200: 16 cores, nvcc, compute-sanitizer,
# ncu). Fits in about 8 minutes there; prints the time of each stage.
#
#   scripts/gpu_check.sh OUTDIR          (make gpu-check: OUTDIR = build-gpu-check/out)
#
# Stages (each bounded by `timeout`, all by one overall deadline, where a device exists):
#   1 build     torch-free (CO3_WITH_TORCH=OFF) build in build-gpu-check/ of what the stages run
#               (the device tests, co3_bench_gpu), sm_90, every core; build.log holds ptxas's
#               per-kernel registers, shared memory and stack (kernels/CMakeLists.txt).
#               GoogleTest comes from the system or from third_party/googletest
#               (tests/CMakeLists.txt). Without a device the build has no time limit.
#   -           no CUDA device: prints "no CUDA device: built, nothing run" and exits 0.
#   2 tests     every device test executable (tests/gpu/test_gpu_*.cpp but the CPU-only
#               *_emulated ones), encode first, full sizes, each under its own time limit.
#   3 sanitize  compute-sanitizer memcheck (with leak check), racecheck, initcheck and synccheck
#               on every device test executable, CO3_GPU_TEST_SMALL=1, several runs at a time;
#               first a run of a few seconds that shows the tool works on this machine (some
#               lent machines answer "device not supported": then the stage says so).
#   4 bench     co3_bench_gpu at explicit sizes (CO3_GPU_BENCH_SIZES, 1M,16M,64M), rows and
#               OUTDIR/bench_gpu.json written as they are measured (quiet machine).
#   5 ncu       Nsight Compute (--clock-control none), speed of light, occupancy and launch
#               statistics of the first kernels of each device test (small sizes) and of a 16M
#               co3_bench_gpu run; first the same few-second check as stage 3.
#   6 aop       the LibTorch layer (needs the machine's python3 torch): built in
#               build-gpu-check-torch/ while stages 2-3 run, the library and its GPU tests apart
#               from the apps (co3-train, co3-aop: their own build call, which may fail where
#               zlib or Gloo headers are missing); then each step whose executable exists:
#               test_torch_gpu, test_aop_gpu and tests/python/test_gpu_ddp.py (logs appended to
#               gpu_tests.log), co3-train and co3-aop with --device cuda (smoke runs, where
#               Fashion-MNIST is at hand), the DDP step bench (bench/ddp/bench_ddp_step.py:
#               ResNet-18, co3 hook against the default all-reduce, NCCL world 1 and Gloo world
#               2) and co3_bench_aop. Where torch or a build is missing, the summary says so.
#   7 large     with time left (CO3_LARGE_TESTS=1): the encoder on more than 2^31 entries.
#
# OUTDIR gets at most 8 files: summary.txt (stage times and results), build.log, gpu_tests.log,
# sanitize.log, bench.log (both benches' tables), bench_gpu.json, bench_aop.json, ncu.log.
# Exit status: 0 when every stage that ran passed, 1 otherwise, 2 for a bad command line. A tool
# that cannot run on the machine (compute-sanitizer, ncu) is reported, not counted as a failure.
#
# Data: the real gradient resnet18_step120.f32 is read from shared/data in the checkout (which
# the device tool sends along: copy it there first) or ../shared/data; without it the GPU tests
# that need it skip and the bench tiles synthetic GenNorm data.
#
# Environment:
#   CO3_GPU_CHECK_SECONDS  overall budget in seconds (480); stages that would overrun it are cut
#                          short or skipped, and say so
#   JOBS                   build jobs (nproc)
#   CO3_GPU_TEST_SMALL=1   set by stages 3 and 5 for the tests: GPU tests read it and shrink
#                          their sizes so that each test executable finishes one sanitizer run
#                          in a minute or two (tests/gpu/README.md)
set -uo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 OUTDIR" >&2
  exit 2
fi
ROOT=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$1" || exit 2
OUT=$(cd "$1" && pwd)
B=$ROOT/build-gpu-check
BT=$ROOT/build-gpu-check-torch
SCRATCH=$B/gpu_check  # per-run logs, merged into OUTDIR's few files
JOBS=${JOBS:-$(nproc)}
START=$(date +%s)
END=$((START + ${CO3_GPU_CHECK_SECONDS:-480}))
# The real gradients: shared/data inside the checkout travels to the GPU machine (the device
# tool copies it), ../shared/data beside it does not. Tests and benches read CO3_DATA_DIR.
CO3_DATA_DIR=$ROOT/../shared/data
[[ -f $ROOT/shared/data/resnet18_step120.f32 ]] && CO3_DATA_DIR=$ROOT/shared/data
export CO3_DATA_DIR
# Fashion-MNIST for the GPU runs of co3-train and co3-aop: Debian's package, or a copy sent along
# in shared/fashion-mnist (a GPU machine has no Debian packages).
CO3_FASHION_MNIST_DIR=${CO3_FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
[[ -f $ROOT/shared/fashion-mnist/train-images-idx3-ubyte.gz ]] && CO3_FASHION_MNIST_DIR=$ROOT/shared/fashion-mnist
export CO3_FASHION_MNIST_DIR

# The CUDA tools, wherever this machine keeps them.
for d in /usr/local/cuda/bin /usr/local/cuda/compute-sanitizer /opt/nvidia/nsight-compute/*/; do
  [[ -d $d ]] && PATH=$PATH:${d%/}
done
export PATH

rm -f "$OUT"/{summary.txt,build.log,gpu_tests.log,sanitize.log,bench.log,bench_gpu.json} \
  "$OUT"/{bench_aop.json,ncu.log}
rm -rf "$SCRATCH"
mkdir -p "$B" "$SCRATCH/sanitize"

failed=0
summary() { echo "$*" | tee -a "$OUT/summary.txt"; }
now() { date +%s; }
# limit CAP RESERVE: seconds a stage may take: CAP, or less so that RESERVE seconds stay for
# the stages after it; at least 10.
limit() {
  local left=$((END - $(now) - $2))
  ((left > $1)) && left=$1
  ((left < 10)) && left=10
  echo "$left"
}
stage_start() {
  STAGE_T0=$(now)
  echo "==== gpu_check: $1 ($(date -u +%H:%M:%S) UTC, $((STAGE_T0 - START)) s in) ===="
}
# stage_end NAME RESULT
stage_end() { summary "$(printf '%-9s %4d s  %s' "$1" $(($(now) - STAGE_T0)) "$2")"; }

summary "co3 gpu_check $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?') on ${HOSTNAME:-?}, $(date -u +%FT%TZ), budget $((END - START)) s"
summary "$(nvcc --version 2>/dev/null | tail -n 1 || echo 'nvcc: not found'); $(cmake --version | head -n 1)"
summary "data: $CO3_DATA_DIR ($([[ -f $CO3_DATA_DIR/resnet18_step120.f32 ]] && echo present || echo 'absent: tests skip, benches use synthetic data'))"
summary "$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo 'nvidia-smi: no GPU listed')"

# A device, as the CUDA driver sees it (CUDA_VISIBLE_DEVICES respected).
have_device=0
{ __nvcc_device_query >/dev/null 2>&1 || nvidia-smi -L 2>/dev/null | grep -q '^GPU '; } &&
  have_device=1

# Device test executables, encode first (scripts/gpu_device_tests.sh).
mapfile -t device_test_names < <(bash "$ROOT/scripts/gpu_device_tests.sh")

# --- 1 build ----------------------------------------------------------------------------------
# Bounded only where a device's time is at stake: a machine without one builds to the end.
stage_start build
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
build_limit=()
((have_device)) && build_limit=(timeout -k 10 "$(limit 300 150)")
rc=0
{
  cmake -S "$ROOT" -B "$B" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCO3_WITH_CUDA=ON -DCO3_WITH_TORCH=OFF -DCMAKE_CUDA_ARCHITECTURES=90 \
    -DCO3_DATA_DIR="$CO3_DATA_DIR" &&
    "${build_limit[@]}" cmake --build "$B" -j "$JOBS" --target "${device_test_names[@]}" co3_bench_gpu
} >"$OUT/build.log" 2>&1 || rc=$?
if [[ $rc -ne 0 ]]; then
  tail -n 40 "$OUT/build.log"
  stage_end build "FAILED (exit $rc; build.log)"
  exit 1
fi
stage_end build "ok ($(grep -c '^\[' "$OUT/build.log") build steps)"

gpu_tests=()
for name in "${device_test_names[@]}"; do
  exe=$B/tests/$name
  if [[ -x $exe ]]; then gpu_tests+=("$exe"); else summary "no executable for tests/gpu/$name.cpp"; fi
done

if ((!have_device)); then
  summary "no CUDA device: built, nothing run"
  exit 0
fi

# --- 6 aop, its build: in the background, while the tests and sanitizers run -------------------
aop_build_pid=
torch_prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)' 2>/dev/null)
if [[ -n $torch_prefix ]]; then
  # Done by the time the sanitizers should be, or cut short; nice'd, half the cores.
  (
    rc=0
    cmake -S "$ROOT" -B "$BT" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCO3_WITH_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 -DCMAKE_PREFIX_PATH="$torch_prefix" -DCO3_PYTHON=python3 &&
      timeout -k 10 "$(limit 300 150)" nice cmake --build "$BT" -j "$((JOBS / 2 + 1))" \
        --target co3_ops test_torch_gpu test_aop_gpu co3_bench_aop || rc=$?
    echo "$rc" >"$SCRATCH/torch_build.rc"
    # The apps apart: they exist only where zlib is found and need Gloo's headers, which a GPU
    # machine may lack; their failure leaves the library's checks above standing.
    if ((rc == 0)); then
      for app in co3-train co3-aop; do
        app_rc=0
        timeout -k 10 "$(limit 200 120)" nice cmake --build "$BT" -j "$((JOBS / 2 + 1))" \
          --target "$app" || app_rc=$?
        echo "$app_rc" >"$SCRATCH/$app.build.rc"
      done
    fi
  ) >"$SCRATCH/torch_build.log" 2>&1 &
  aop_build_pid=$!
fi

# --- 2 tests ----------------------------------------------------------------------------------
stage_start tests
# Each executable directly (ctest's per-test TIMEOUT would override --timeout), with an equal
# share of the stage's time; its gtest lines on the terminal, everything in gpu_tests.log.
tests_ok=0 tests_bad=0 cases_skipped=0
per_exe=$(($(limit 240 240) / (${#gpu_tests[@]} > 0 ? ${#gpu_tests[@]} : 1)))
((per_exe < 30)) && per_exe=30
for exe in "${gpu_tests[@]}"; do
  rc=0
  { echo "==== $(basename "$exe") (at most $per_exe s)"; timeout -k 10 "$per_exe" "$exe"; } \
    >"$SCRATCH/test.log" 2>&1 || rc=$?
  cat "$SCRATCH/test.log" >>"$OUT/gpu_tests.log"
  grep -E '^\[ +(OK|FAILED|SKIPPED) +\]' "$SCRATCH/test.log"
  # With a device present a skipped case is news (opt-in sizes say why in the log).
  cases_skipped=$((cases_skipped + $(grep -cE '^\[  SKIPPED \] [A-Za-z]+\.' "$SCRATCH/test.log")))
  case $rc in
    0) tests_ok=$((tests_ok + 1)) ;;
    124 | 137) tests_bad=$((tests_bad + 1)); summary "$(basename "$exe"): TIMEOUT after $per_exe s" ;;
    *) tests_bad=$((tests_bad + 1)); summary "$(basename "$exe"): FAILED (exit $rc)" ;;
  esac
done
result="$tests_ok/${#gpu_tests[@]} executables passed; $cases_skipped cases skipped"
if ((tests_bad > 0)); then failed=1; result="FAILED: $result"; fi
stage_end tests "$result"

# --- 3 sanitize -------------------------------------------------------------------------------
stage_start sanitize
tools=(memcheck racecheck initcheck synccheck)
declare -A tool_flags=([memcheck]="--leak-check full" [racecheck]="" [initcheck]="" [synccheck]="")
# tool_works NAME CMD...: a few seconds' run of a profiling tool on the smallest device test;
# prints why not when the tool cannot work here.
tool_works() {
  local name=$1 probe=$B/tests/test_gpu_convert
  shift
  [[ -x $probe ]] || probe=${gpu_tests[0]:-}
  [[ -n $probe ]] || { echo "no device test to try $name on"; return 1; }
  local rc=0
  CO3_GPU_TEST_SMALL=1 timeout -k 5 60 "$@" "$probe" --gtest_brief=1 >"$SCRATCH/$name.probe.log" 2>&1 || rc=$?
  if ((rc != 0)); then
    echo "$name does not work on this machine (exit $rc: $(grep -m1 -iE 'not supported|error|fail' "$SCRATCH/$name.probe.log" | cut -c1-120))"
    return 1
  fi
}
if ! command -v compute-sanitizer >/dev/null; then
  failed=1
  stage_end sanitize "FAILED: compute-sanitizer not found"
elif ! why=$(tool_works compute-sanitizer compute-sanitizer --tool memcheck --error-exitcode 97); then
  cat "$SCRATCH/compute-sanitizer.probe.log" >>"$OUT/sanitize.log"
  stage_end sanitize "not run: $why"
else
  # Runs at a time: all cores but a few (the LibTorch build may be running, nice'd); each run
  # gets an equal share of the stage's time.
  runs=$((${#gpu_tests[@]} * ${#tools[@]}))
  parallel=$((JOBS > 6 ? JOBS - 4 : 2))
  ((parallel > runs)) && parallel=$((runs > 0 ? runs : 1))
  waves=$(((runs + parallel - 1) / parallel))
  per_run=$(($(limit 200 120) / (waves > 0 ? waves : 1)))
  ((per_run < 10)) && per_run=10
  pids=()
  running() {
    local n=0 p
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && n=$((n + 1)); done
    echo "$n"
  }
  for exe in "${gpu_tests[@]}"; do
    for tool in "${tools[@]}"; do
      while (($(running) >= parallel)); do sleep 1; done
      log=$SCRATCH/sanitize/$(basename "$exe").$tool
      (
        rc=0
        # shellcheck disable=SC2086  # the flags are meant to split
        CO3_GPU_TEST_SMALL=1 timeout -k 10 "$per_run" compute-sanitizer --tool "$tool" \
          ${tool_flags[$tool]} --error-exitcode 97 --print-limit 50 "$exe" --gtest_brief=1 \
          >"$log.log" 2>&1 || rc=$?
        echo "$rc" >"$log.rc"
      ) &
      pids+=($!)
    done
  done
  for p in "${pids[@]}"; do wait "$p"; done
  bad=0 runs=0
  for exe in "${gpu_tests[@]}"; do
    for tool in "${tools[@]}"; do
      log=$SCRATCH/sanitize/$(basename "$exe").$tool
      rc=$(cat "$log.rc" 2>/dev/null || echo '?')
      errors=$(grep -E 'ERROR SUMMARY' "$log.log" | tail -n 1 | sed 's/^=* *//')
      # gtest's own tally: a run in which every test skipped checked nothing.
      passed=$(grep -oE '^\[  PASSED  \] [0-9]+ test' "$log.log" | grep -oE '[0-9]+' | tail -n 1)
      case $rc in
        0) if [[ ${passed:-0} -eq 0 ]]; then what="NOTHING RAN" rc=skip; else what="ok, $passed passed"; fi ;;
        77) what="NOTHING RAN" ;;  # every test skipped (tests/gtest_main.cpp)
        97) what="FINDINGS" ;;
        124 | 137) what="TIMEOUT after $per_run s" ;;
        *) what="FAILED (exit $rc)" ;;
      esac
      skipped=$(grep -oE '^\[  SKIPPED \] [0-9]+ test' "$log.log" | grep -oE '[0-9]+' | tail -n 1)
      [[ -n $skipped ]] && what="$what, $skipped skipped"
      runs=$((runs + 1))
      [[ $rc == 0 ]] || bad=$((bad + 1))
      line=$(printf '%-28s %-10s %-24s %s' "$(basename "$exe")" "$tool" "$what" "${errors:-}")
      echo "$line"
      {
        echo "==== $line"
        cat "$log.log"
      } >>"$OUT/sanitize.log"
    done
  done
  if ((bad > 0)); then failed=1; fi
  stage_end sanitize "$((runs - bad))/$runs runs clean (${parallel} at a time, ${per_run} s each at most)"
fi

# The torch build must be done before anything is timed.
aop_built=0
if [[ -n $aop_build_pid ]]; then
  wait "$aop_build_pid"
  [[ $(cat "$SCRATCH/torch_build.rc" 2>/dev/null) == 0 ]] && aop_built=1
  {
    echo "==== LibTorch build of co3_bench_aop (exit $(cat "$SCRATCH/torch_build.rc" 2>/dev/null))"
    cat "$SCRATCH/torch_build.log"
  } >>"$OUT/build.log"
fi

# --- 4 bench ----------------------------------------------------------------------------------
stage_start bench
rc=0
timeout -k 10 "$(limit 120 60)" "$B/bench/co3_bench_gpu" --sizes "${CO3_GPU_BENCH_SIZES:-1M,16M,64M}" \
  --warmup 2 --repeats 10 --json "$OUT/bench_gpu.json" 2>&1 | tee "$OUT/bench.log" || rc=$?
if [[ $rc -ne 0 ]]; then
  failed=1
  stage_end bench "FAILED (exit $rc)"
elif [[ ! -s $OUT/bench_gpu.json ]]; then
  failed=1
  stage_end bench "FAILED: no bench_gpu.json (no device seen?)"
else
  stage_end bench "ok (bench_gpu.json)"
fi

# --- 5 ncu ------------------------------------------------------------------------------------
stage_start ncu
if ! command -v ncu >/dev/null; then
  stage_end ncu "not run: ncu not found"
elif ! why=$(tool_works ncu ncu --clock-control none --launch-count 1 --section SpeedOfLight); then
  cat "$SCRATCH/ncu.probe.log" >>"$OUT/ncu.log"
  stage_end ncu "not run: $why"
else
  ncu_args=(--clock-control none --target-processes all --section SpeedOfLight
    --section Occupancy --section LaunchStats --launch-count 30)
  # The stage's time in equal shares, one per profiled program.
  ncu_limit=$(($(limit 120 60) / (${#gpu_tests[@]} + 1)))
  ((ncu_limit < 10)) && ncu_limit=10
  rc=0
  {
    for exe in "${gpu_tests[@]}"; do
      echo "==== ncu $(basename "$exe") (CO3_GPU_TEST_SMALL=1)"
      CO3_GPU_TEST_SMALL=1 timeout -k 10 "$ncu_limit" ncu "${ncu_args[@]}" "$exe" \
        --gtest_brief=1 || rc=$?
    done
    echo "==== ncu co3_bench_gpu --sizes 16M --no-batch"
    timeout -k 10 "$ncu_limit" ncu "${ncu_args[@]}" "$B/bench/co3_bench_gpu" --sizes 16M \
      --no-batch --warmup 0 --repeats 1 || rc=$?
  } >"$OUT/ncu.log" 2>&1
  kernels=$(grep -cE '\([0-9]+, [0-9]+, [0-9]+\)x\([0-9]+, [0-9]+, [0-9]+\)' "$OUT/ncu.log")
  # A profiler that cannot profile is not a failure of the codec: reported, not counted.
  stage_end ncu "$( ((rc == 0)) && echo ok || echo "exit $rc") ($kernels kernel launches profiled; ncu.log)"
fi

# --- 6 aop ------------------------------------------------------------------------------------
stage_start aop
if [[ -z $torch_prefix ]]; then
  stage_end aop "not run: python3 has no torch (co3_bench_aop needs LibTorch)"
elif [[ $aop_built -ne 1 ]]; then
  torch_rc=$(cat "$SCRATCH/torch_build.rc" 2>/dev/null || echo '?')
  if [[ $torch_rc == 124 || $torch_rc == 137 ]]; then
    stage_end aop "not run: the LibTorch build ran out of time (end of build.log)"
  else
    stage_end aop "not run: the LibTorch build failed, exit $torch_rc (end of build.log)"
  fi
else
  # The LibTorch layer on the GPU first: CUDA tensors through the GPU codec, the DDP hook over
  # NCCL and Gloo, Mem-AOP-GD's kernels (their logs join gpu_tests.log).
  for t in test_torch_gpu test_aop_gpu; do
    rc=0
    { echo "==== $t"; timeout -k 10 "$(limit 120 60)" "$BT/tests/torch/$t"; } \
      >>"$OUT/gpu_tests.log" 2>&1 || rc=$?
    summary "torch: $t exit $rc"
    ((rc != 0)) && failed=1
  done
  rc=0
  { echo "==== py test_gpu_ddp"; PYTHONPATH=$ROOT/python CO3_OPS_LIBRARY=$BT/lib/libco3_ops.so \
    timeout -k 10 "$(limit 200 60)" python3 "$ROOT/tests/python/test_gpu_ddp.py" -v; } \
    >>"$OUT/gpu_tests.log" 2>&1 || rc=$?
  summary "torch: py test_gpu_ddp exit $rc"
  ((rc != 0)) && failed=1
  # co3-train and co3-aop on the GPU (smoke runs: they train and report), where Fashion-MNIST
  # is at hand (shared/fashion-mnist in the checkout, copied there for the device tool).
  if [[ -f $CO3_FASHION_MNIST_DIR/train-images-idx3-ubyte.gz ]]; then
    for app in "co3-train --device cuda --method co3 --format fp4 --rounds 30 --train-limit 6000 --test-limit 1000 --out $SCRATCH/train --quiet" \
               "co3-aop --device cuda --quick --loss softmax-ce --normalize half --out $SCRATCH/aop"; do
      name=${app%% *}
      exe=$(ls "$BT"/host/apps/*/"$name" 2>/dev/null | head -n 1)
      if [[ -z $exe ]]; then
        summary "torch: $name not built (exit $(cat "$SCRATCH/$name.build.rc" 2>/dev/null || echo '?'); build.log): not run"
        continue
      fi
      rc=0
      # shellcheck disable=SC2086  # the app's arguments are meant to split
      { echo "==== $app"; timeout -k 10 "$(limit 90 60)" "$exe" ${app#* }; } \
        >>"$OUT/gpu_tests.log" 2>&1 || rc=$?
      summary "torch: ${app%% *} --device cuda exit $rc"
      ((rc != 0)) && failed=1
    done
  else
    summary "torch: co3-train/co3-aop on the GPU not run: no Fashion-MNIST in $CO3_FASHION_MNIST_DIR"
  fi
  # A DDP step of ResNet-18 with the co3 hook against the default all-reduce (bench/ddp): NCCL
  # at world size 1, and Gloo with CUDA buckets across two processes sharing the GPU.
  for world_backend in "1 nccl" "2 gloo"; do
    set -- $world_backend
    rc=0
    { echo; PYTHONPATH=$ROOT/python CO3_OPS_LIBRARY=$BT/lib/libco3_ops.so \
      timeout -k 10 "$(limit 120 60)" python3 "$ROOT/bench/ddp/bench_ddp_step.py" --device cuda \
        --world "$1" --backend "$2" --steps 20; } 2>&1 | tee -a "$OUT/bench.log" || rc=$?
    summary "torch: bench_ddp_step world $1 $2 exit $rc"
    ((rc != 0)) && failed=1
  done
  set --
  rc=0
  {
    echo
    timeout -k 10 "$(limit 180 0)" "$BT/bench/co3_bench_aop" --json "$OUT/bench_aop.json"
  } 2>&1 | tee -a "$OUT/bench.log" || rc=$?
  if [[ $rc -ne 0 ]]; then
    failed=1
    stage_end aop "FAILED (exit $rc)"
  else
    stage_end aop "ok ($([[ -s $OUT/bench_aop.json ]] && echo bench_aop.json || echo 'no JSON'))"
  fi
fi

# --- 7 large ----------------------------------------------------------------------------------
# The >2^31-entry path (64-bit indices throughout the encoder), only with time left for it.
stage_start large
encode_exe=$B/tests/test_gpu_encode
if [[ ! -x $encode_exe ]]; then
  stage_end large "not run: no test_gpu_encode"
elif ((END - $(now) < 150)); then
  stage_end large "not run: $((END - $(now))) s left of the budget (CO3_GPU_CHECK_SECONDS)"
else
  rc=0
  { echo "==== test_gpu_encode, CO3_LARGE_TESTS=1"; CO3_LARGE_TESTS=1 timeout -k 10 "$(limit 240 0)" \
    "$encode_exe" --gtest_filter='*MoreThan2To31*'; } >"$SCRATCH/large.log" 2>&1 || rc=$?
  cat "$SCRATCH/large.log" >>"$OUT/gpu_tests.log"
  if ((rc != 0)); then
    failed=1
    stage_end large "FAILED (exit $rc; gpu_tests.log)"
  elif grep -q '^\[  SKIPPED \]' "$SCRATCH/large.log"; then
    stage_end large "skipped (gpu_tests.log says why)"
  else
    stage_end large "ok"
  fi
fi

summary "total $(($(now) - START)) s; $( ((failed)) && echo FAILED || echo 'all stages that ran passed')"
# Last, so that the end of the output (all a device call returns) holds it whole.
echo "==== gpu_check summary ($OUT/summary.txt) ===="
cat "$OUT/summary.txt"
exit "$failed"
