#!/usr/bin/env bash
# The README's training table: every method of docs/TRAINING.md × seeds, LeNet, 10 iid users,
# then scripts/train_report.py (mean tables, plots). Usage:
#   scripts/train_grid.sh [OUT_DIR] [EPOCHS] [SEEDS] [JOBS]     (defaults: train-results 8 "0 1 2" 2)
# METHODS_FILE=F takes the method flag lists from F (one a line) instead; NICE=N runs each run
# under nice -n N.
# A run whose CSV already reaches EPOCHS is skipped, so an interrupted grid resumes where it was.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD="${BUILD:-$ROOT/build}"
OUT="${1:-train-results}"
EPOCHS="${2:-8}"
SEEDS="${3:-0 1 2}"
JOBS="${4:-2}"
BIN="${CO3_TRAIN:-$BUILD/host/apps/train/co3-train}"
mkdir -p "$OUT"

METHODS=(
  "--method fp32"
  "--method bf16"
  "--method topk --topk-ratio 0.01"
  "--method co3 --format fp4 --code gennorm --gamma 0"
  "--method co3 --format fp4 --code gennorm --gamma 0.5"
  "--method co3 --format fp4 --code gennorm --gamma 0.7"
  "--method co3 --format fp4 --code gennorm --gamma 0.9"
  "--method co3 --format fp4 --code gennorm --gamma 1"
  "--method co3 --format fp4 --code histogram --gamma 0.7"
  "--method co3 --format e3m2 --code gennorm --gamma 0.7"
  "--method co3 --format e4m3 --code gennorm --gamma 0.7"
  "--method co3 --format e5m2 --code gennorm --gamma 0.7"
  "--method co3 --format e5m2 --code histogram --gamma 0.7"
  "--method co3 --format e5m2 --code gennorm --gamma 0"
)
if [ -n "${METHODS_FILE:-}" ]; then mapfile -t METHODS < "$METHODS_FILE"; fi

jobs_file=$(mktemp)
trap 'rm -f "$jobs_file"' EXIT
for seed in $SEEDS; do
  for m in "${METHODS[@]}"; do
    # Code-source statistics on the raw gradients of the fp32 run, first seed only.
    extra=""
    [ "$seed" = "${SEEDS%% *}" ] && [ "$m" = "--method fp32" ] && extra="--code-stats-every 47"
    flags="$m --seed $seed --epochs $EPOCHS --out $OUT --quiet $extra"
    # shellcheck disable=SC2086  # a flag list
    csv="$OUT/$("$BIN" $flags --print-name).csv"
    if [ -f "$csv" ] && awk -F, -v e="$EPOCHS" 'END {exit !($2 + 1e-9 >= e)}' "$csv"; then continue; fi
    echo "$flags" >> "$jobs_file"
  done
done
echo "co3 train grid: $(wc -l < "$jobs_file") runs, $JOBS at a time, results in $OUT/"
# One run per line (word-split on purpose: each line is a flag list).
xargs -P "$JOBS" -I{} -d '\n' sh -c "nice -n ${NICE:-0} \"$BIN\" {} --summary \"$OUT/runs.md\" > /dev/null" < "$jobs_file"
"${PYTHON:-$(cat "$ROOT/.venv-path")/bin/python}" "$ROOT/scripts/train_report.py" "$OUT"
