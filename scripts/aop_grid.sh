#!/usr/bin/env bash
# The Mem-AOP-GD grid of docs/AOP.md: both set-ups (the authors' softmax-ce with (x - 0.5)/0.5,
# and plain cross-entropy with mean/std inputs), exact SGD and every policy with and without
# memory at K = 32, 16, 8, seeds 0-9; then scripts/aop_report.py into REPORT_DIR.
#
#   scripts/aop_grid.sh OUT REPORT_DIR [EPOCHS (30)]
#
# Each set-up runs as one process per policy (each also runs exact SGD, which the report checks
# is identical in all three): six single-threaded processes.
set -euo pipefail
if [[ $# -lt 2 ]]; then
  echo "usage: $0 OUT REPORT_DIR [EPOCHS]" >&2
  exit 2
fi
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$1 REPORT=$2 EPOCHS=${3:-30}
AOP=${CO3_AOP:-$ROOT/build/host/apps/aop/co3-aop}
mkdir -p "$OUT"
pids=()
for setup in authors:softmax-ce:half plain:ce:mean-std; do
  IFS=: read -r name loss norm <<<"$setup"
  for policy in topk weighted random; do
    "$AOP" --out "$OUT/$name-$policy" --epochs "$EPOCHS" --seeds 10 --loss "$loss" \
      --normalize "$norm" --policies "$policy" >"$OUT/$name-$policy.log" 2>&1 &
    pids+=($!)
  done
done
for pid in "${pids[@]}"; do wait "$pid"; done
"${PYTHON:-$(cat "$ROOT/.venv-path")/bin/python}" "$ROOT/scripts/aop_report.py" "$REPORT" \
  "authors=$OUT/authors-topk,$OUT/authors-weighted,$OUT/authors-random" \
  "plain=$OUT/plain-topk,$OUT/plain-weighted,$OUT/plain-random"
