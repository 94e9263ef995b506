#!/usr/bin/env bash
# Prints the device test executables' names, one a line, encode first (the decode tests also
# decode the GPU encoder's packets): tests/gpu/test_gpu_*.cpp but the *_emulated ones, which have
# no device code and run on the CPU under ctest. Shared by scripts/gpu_check.sh and
# scripts/gpu_sim_check.sh.
ROOT=$(cd "$(dirname "$0")/.." && pwd)
for src in "$ROOT"/tests/gpu/test_gpu_*.cpp; do
  name=$(basename "$src" .cpp)
  [[ $name == *_emulated ]] || echo "$name"
done | awk '{print (/encode/ ? 0 : (/decode/ ? 1 : 2)) " " $0}' | sort | cut -d' ' -f2
