#!/usr/bin/env bash
# docs/TRAINING.md's rate table (issue 27): co3 at rate targets (--bits) against top-K at four
# ratios, PowerSGD-style rank 1, 2 and 4, bf16 and fp32, LeNet, 10 iid users, 8 epochs;
# scripts/train_grid.sh runs them (under nice -n 19: the machine is shared) and writes
# OUT/summary.md and the plots. Usage:
#   scripts/train_pareto.sh [OUT_DIR] [EPOCHS] [SEEDS] [JOBS]   (defaults: pareto-results 8 "0 1 2" 2)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
methods=$(mktemp)
trap 'rm -f "$methods"' EXIT
# Below one bit a Huffman symbol needs several entries a symbol: the ternary format (sign and
# one exponent bit: 0, ±1) four a symbol codes down to 0.25 bits per entry of payload, fp4 pairs
# to 0.5; below that, zero-block maps (FORMAT.md §6b, --zero-block 16: blocks of 16 symbols)
# leave the all-zero blocks out. Top-K at 0.38 % sends about 0.25 bits per entry, the 0.25 row's
# rate.
TERNARY="--format 1,0,1,finite --entries-per-symbol 4"
cat > "$methods" <<METHODS
--method fp32
--method bf16
--method topk --topk-ratio 0.001
--method topk --topk-ratio 0.003
--method topk --topk-ratio 0.0038
--method topk --topk-ratio 0.01
--method topk --topk-ratio 0.03
--method powersgd --powersgd-rank 1
--method powersgd --powersgd-rank 2
--method powersgd --powersgd-rank 4
--method co3 $TERNARY --code histogram --gamma 1 --bits 0.25 --zero-block 16
--method co3 $TERNARY --code histogram --gamma 1 --bits 0.5
--method co3 $TERNARY --code histogram --gamma 1 --bits 0.65
--method co3 --format fp4 --code histogram --gamma 1 --bits 1
--method co3 --format fp4 --code histogram --gamma 1 --bits 2
METHODS
METHODS_FILE="$methods" NICE="${NICE:-19}" "$ROOT/scripts/train_grid.sh" "${1:-pareto-results}" "${2:-8}" "${3:-0 1 2}" "${4:-2}"
