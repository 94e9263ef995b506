#!/usr/bin/env bash
# The main job: a quick version of the CO3 training experiment (docs/TRAINING.md). LeNet,
# 10 iid Fashion-MNIST users, 2 epochs, with fp32 gradients and with CO3 (fp4, GenNorm scale and
# code, memory decay γ = 0.7); prints accuracy and bits per entry side by side. Then a short look
# at the codec on one real gradient (`co3 stats`), when ../shared/data has one.
set -euo pipefail
BUILD="${1:-build}"
EPOCHS="${DEMO_EPOCHS:-2}"
TRAIN="$BUILD/host/apps/train/co3-train"
CO3="$BUILD/host/cli/co3"
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

echo "co3 demo: federated training, LeNet, 10 users, $EPOCHS epochs (full experiment: scripts/train_grid.sh)"
for m in "--method fp32" "--method co3 --format fp4 --code gennorm --gamma 0.7"; do
  # shellcheck disable=SC2086  # $m is a flag list
  "$TRAIN" $m --epochs "$EPOCHS" --seed 0 --out "$OUT" --summary "$OUT/summary.md" > /dev/null
done
echo
cat "$OUT/summary.md"
echo
echo "Per epoch (test accuracy, bits per entry); 2 epochs is early in training, the 8-epoch, 3-seed"
echo "table is in docs/TRAINING.md:"
for f in "$OUT"/*.csv; do
  printf '  %-34s' "$(basename "$f" .csv)"
  awk -F, 'NR > 1 {printf "  e%g %.2f%% %.2fb", $2, 100 * $4, $5} END {print ""}' "$f"
done

DATA="${CO3_DATA_DIR:-$(cd "$(dirname "$0")/.." && pwd)/../shared/data}/resnet18_step120.f32"
if [ -f "$DATA" ]; then
  echo
  echo "== co3 stats --format fp4 --scale gennorm on a real ResNet-18 gradient ($DATA)"
  "$CO3" stats "$DATA" --format fp4 --scale gennorm
fi
