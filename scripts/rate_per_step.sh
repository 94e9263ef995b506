#!/usr/bin/env bash
# The rate target step by step (issue 27, docs/TRAINING.md): co3-train's four rate rows of the
# Pareto table (scripts/train_pareto.sh's flags), each seed one run after another under nice -n 19,
# with --packet-log; then every packet after round 0 against its target: worst, median and mean
# |error|, and the runs' summary rows (accuracy) in OUT/summary.md. Usage:
#   scripts/rate_per_step.sh [OUT_DIR] [EPOCHS] [SEEDS]   (defaults: rate-steps 8 "0 1 2")
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN="${CO3_TRAIN:-${BUILD:-$ROOT/build}/host/apps/train/co3-train}"
OUT="${1:-rate-steps}"
EPOCHS="${2:-8}"
SEEDS="${3:-0 1 2}"
mkdir -p "$OUT"
TERNARY="--format 1,0,1,finite --entries-per-symbol 4"
RUNS=(
  "0.25|$TERNARY --zero-block 16"
  "0.5|$TERNARY"
  "0.65|$TERNARY"
  "1|--format fp4"
  "2|--format fp4"
)
for seed in $SEEDS; do
  for run in "${RUNS[@]}"; do
    bits=${run%%|*}
    flags=${run#*|}
    # shellcheck disable=SC2086
    name=$("$BIN" --method co3 $flags --code histogram --gamma 1 --bits "$bits" --seed "$seed" --print-name)
    [ -s "$OUT/$name.packets.csv" ] && continue  # resumes
    # shellcheck disable=SC2086
    nice -n 19 "$BIN" --method co3 $flags --code histogram --gamma 1 --bits "$bits" --seed "$seed" \
      --epochs "$EPOCHS" --quiet --out "$OUT" --summary "$OUT/summary.md" \
      --packet-log "$OUT/$name.packets.tmp" > /dev/null
    mv "$OUT/$name.packets.tmp" "$OUT/$name.packets.csv"
  done
done
python3 - "$OUT" <<'PY'
import csv, glob, os, re, statistics, sys
rows = {}
for path in sorted(glob.glob(os.path.join(sys.argv[1], "*.packets.csv"))):
    target = float(re.search(r"-b([0-9.]+)", os.path.basename(path)).group(1))
    label = re.sub(r"-s[0-9]+\.packets\.csv$", "", os.path.basename(path))
    with open(path) as f:
        for r in csv.DictReader(f):
            if int(r["round"]) > 0:
                rows.setdefault((target, label), []).append(
                    abs(float(r["bits_per_entry"]) - target) / target)
print("| run (seeds together) | packets after round 0 | worst | median | mean |")
print("|---|---:|---:|---:|---:|")
for (target, label), e in sorted(rows.items()):
    print(f"| {label} | {len(e)} | {100 * max(e):.2f} % | {100 * statistics.median(e):.2f} % "
          f"| {100 * statistics.fmean(e):.2f} % |")
PY
