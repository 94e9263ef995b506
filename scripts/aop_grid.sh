#!/usr/bin/env bash
# The Mem-AOP-GD grid of docs/AOP.md, runnable in parts: the set-ups (authors: softmax-ce with
# (x - 0.5)/0.5; plain: cross-entropy with mean/std inputs), exact SGD and the chosen policies with
# and without memory at the chosen K, for the chosen seeds; then scripts/aop_report.py into
# REPORT_DIR over every part found under OUT.
#
#   scripts/aop_grid.sh OUT REPORT_DIR [--setups authors,plain] [--policies topk,weighted,random]
#                       [--ks 32,16,8] [--seeds 0-9] [--epochs 30] [--jobs 2] [--nice 19]
#                       [--no-report]
#
# One co3-aop process per set-up and seed (it runs exact SGD and every chosen method of that
# seed, so a part always holds complete pairs), at most --jobs at once, each under nice.
# Its --out is OUT/SETUP/POLICIES-kKS/seedS; a part whose results.csv is complete is skipped, so
# a stopped grid resumes where it was. Parts run elsewhere merge by copying them under OUT (or by
# naming their directories to aop_report.py); use one OUT per --epochs. --seeds takes a range
# (0-9), a list (0,3,7) or both (0-4,8). --no-report runs the part only;
# `aop_grid.sh OUT REPORT --seeds ''` reports on what OUT holds without running anything.
set -euo pipefail
usage() {
  sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}
[[ $# -ge 2 ]] || usage
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$1 REPORT=$2
shift 2
SETUPS=authors,plain POLICIES=topk,weighted,random KS=32,16,8 SEEDS=0-9 EPOCHS=30 JOBS=2 NICE=19
RUN_REPORT=1
while [[ $# -gt 0 ]]; do
  case $1 in
    --setups | --policies | --ks | --seeds | --epochs | --jobs | --nice)
      [[ $# -ge 2 ]] || { echo "$0: $1: missing value" >&2; exit 2; }
      flag=${1#--}
      declare "${flag^^}=$2"
      shift 2 ;;
    --no-report) RUN_REPORT=0; shift ;;
    *) echo "$0: unknown option '$1'" >&2; usage ;;
  esac
done
AOP=${CO3_AOP:-$ROOT/build/host/apps/aop/co3-aop}
PYTHON=${PYTHON:-$(cat "$ROOT/.venv-path")/bin/python}

setup_flags() {
  case $1 in
    authors) echo "--loss softmax-ce --normalize half" ;;
    plain) echo "--loss ce --normalize mean-std" ;;
    *) echo "$0: --setups: unknown set-up '$1' (authors or plain)" >&2; exit 2 ;;
  esac
}

seed_list() {  # "0-4,8" -> "0 1 2 3 4 8"
  local part
  for part in ${1//,/ }; do
    if [[ $part =~ ^([0-9]+)-([0-9]+)$ ]]; then
      seq "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"
    elif [[ $part =~ ^[0-9]+$ ]]; then
      echo "$part"
    else
      echo "$0: --seeds: '$part' is neither N nor N-M" >&2; exit 2
    fi
  done
}

# Runs per seed: exact SGD, then every policy with and without memory at every K.
n_policies=$(tr ',' '\n' <<<"$POLICIES" | grep -c .) || true
n_ks=$(tr ',' '\n' <<<"$KS" | grep -c .)
RUNS_PER_SEED=$((1 + 2 * n_policies * n_ks))
PART="${POLICIES:-exact}-k${KS}"
PART=${PART//,/_}

run_one() {  # setup seed
  local dir="$OUT/$1/$PART/seed$2"
  if [[ -f $dir/results.csv ]] && (($(wc -l <"$dir/results.csv") == RUNS_PER_SEED + 1)); then
    echo "skip $1 seed $2: $dir is complete"
    return 0
  fi
  echo "start $1 seed $2 ($(date -u +%H:%M:%S))"
  # shellcheck disable=SC2046  # the set-up's flags are words
  nice -n "$NICE" "$AOP" --out "$dir" --epochs "$EPOCHS" --first-seed "$2" --seeds 1 \
    --ks "$KS" --policies "$POLICIES" $(setup_flags "$1") >"$dir.log" 2>&1 ||
    { echo "co3-aop failed for $1 seed $2: see $dir.log" >&2; return 1; }
  echo "done  $1 seed $2 ($(date -u +%H:%M:%S)): $(grep -c '^\[' "$dir.log") runs"
}

seeds=$(seed_list "$SEEDS")
failed=0
running=0
for setup in ${SETUPS//,/ }; do
  setup_flags "$setup" >/dev/null
  mkdir -p "$OUT/$setup/$PART"
  for seed in $seeds; do
    if ((running >= JOBS)); then
      wait -n || failed=1
      running=$((running - 1))
    fi
    run_one "$setup" "$seed" &
    running=$((running + 1))
  done
done
while ((running > 0)); do
  wait -n || failed=1
  running=$((running - 1))
done
((failed == 0)) || { echo "$0: some runs failed" >&2; exit 1; }

if ((RUN_REPORT)); then
  specs=()
  for setup in authors plain; do
    [[ -d $OUT/$setup ]] && specs+=("$setup=$OUT/$setup")
  done
  "$PYTHON" "$ROOT/scripts/aop_report.py" "$REPORT" "${specs[@]}"
fi
