#!/usr/bin/env bash
# The main job until the training demo exists: `co3 stats` and compress/decompress round trips
# of a real ResNet-18 gradient (or synthetic GenNorm data when ../shared/data is absent).
set -euo pipefail
BUILD="${1:-build}"
CO3="$BUILD/host/cli/co3"
DATA="${CO3_DATA_DIR:-$(cd "$(dirname "$0")/.." && pwd)/../shared/data}/resnet18_step120.f32"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
if [ -f "$DATA" ]; then
  IN="$DATA"
  echo "co3 demo: real gradient $IN ($(( $(stat -c %s "$IN") / 4 )) entries)"
else
  IN="$WORK/synthetic.f32"
  "$(cat .venv-path)/bin/python" - "$IN" <<'PY'
import sys, numpy as np
rng = np.random.default_rng(0); beta = 0.3
g = rng.gamma(1 / beta, 1.0, 3_500_000) ** (1 / beta) * rng.choice([-1.0, 1.0], 3_500_000)
(g * 1e-4).astype('<f4').tofile(sys.argv[1])
PY
  echo "co3 demo: $DATA not found; using synthetic GenNorm(beta=0.3) data, 3.5M entries"
fi
echo
echo "== co3 stats --format e5m2 --scale gennorm"
"$CO3" stats "$IN" --format e5m2 --scale gennorm
echo
echo "== co3 stats --format fp4 --scale gennorm"
"$CO3" stats "$IN" --format fp4 --scale gennorm
echo
printf '%-8s %-9s %12s %12s %10s %10s %12s\n' format code "in bytes" "packet" "ratio" "bits/entry" "max |err|"
for fmt in fp4 e4m3 e5m2 bf16; do
  for code in histogram gennorm; do
    "$CO3" compress "$IN" "$WORK/p" --format "$fmt" --scale gennorm --code "$code" 2>/dev/null
    "$CO3" decompress "$WORK/p" "$WORK/out.f32" 2>/dev/null
    "$(cat .venv-path)/bin/python" - "$IN" "$WORK/p" "$WORK/out.f32" "$fmt" "$code" <<'PY'
import os, sys, numpy as np
x = np.fromfile(sys.argv[1], '<f4'); y = np.fromfile(sys.argv[3], '<f4')
assert x.shape == y.shape, "round trip lost entries"
p = os.path.getsize(sys.argv[2])
print(f"{sys.argv[4]:<8} {sys.argv[5]:<9} {x.nbytes:>12} {p:>12} {x.nbytes / p:>10.2f} {8 * p / x.size:>10.3f} {np.abs(x - y).max():>12.4g}")
PY
  done
done
