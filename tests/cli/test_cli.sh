#!/usr/bin/env bash
# End-to-end tests of the co3 command-line tool.
#
#   test_cli.sh CO3_BINARY SCRATCH_DIR
#
# Environment: CO3_PYTHON (default python3; the project venv also enables the .pt tests),
# CO3_DATA_DIR (default <repo>/../shared/data) holding resnet18_step120.f32.
# Prints one line per failure and a final "N passed, M failed"; exits 1 on any failure.
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 CO3_BINARY SCRATCH_DIR" >&2
  exit 2
fi
CO3=$(realpath "$1")
S=$2
HERE=$(cd "$(dirname "$0")" && pwd)
PY=${CO3_PYTHON:-python3}
DATA=${CO3_DATA_DIR:-$HERE/../../../shared/data}
inputs() { "$PY" "$HERE/make_inputs.py" "$@"; }

rm -rf "$S"
mkdir -p "$S"
inputs make "$S/in"

passed=0
failed=0
pass() { passed=$((passed + 1)); }
fail() {
  failed=$((failed + 1))
  echo "FAIL: $*"
}

# roundtrip NAME INPUT MAX_NMSE [OPTIONS...]: compress, decompress, compare with INPUT's ref.
roundtrip() {
  local name=$1 input=$2 max=$3
  shift 3
  local ref="${input%.*}.ref.f32" msg
  if ! "$CO3" compress "$input" "$S/$name.co3" "$@" 2>"$S/$name.log"; then
    fail "$name: compress: $(cat "$S/$name.log")"
  elif ! "$CO3" decompress "$S/$name.co3" "$S/$name.f32" 2>>"$S/$name.log"; then
    fail "$name: decompress: $(cat "$S/$name.log")"
  elif ! msg=$(inputs compare "$ref" "$S/$name.f32" "$max" 2>&1); then
    fail "$name: decoded values: $msg (limit $max)"
  else
    pass
  fi
}

# expect_error STATUS PREFIX NAME COMMAND...: COMMAND exits STATUS with exactly one stderr
# line starting with PREFIX.
expect_error() {
  local want=$1 prefix=$2 name=$3 rc=0
  shift 3
  "$@" >"$S/stdout.txt" 2>"$S/stderr.txt" || rc=$?
  local lines
  lines=$(wc -l <"$S/stderr.txt")
  if [[ $rc -eq $want && $lines -eq 1 ]] && grep -q "^$prefix" "$S/stderr.txt"; then
    pass
  else
    fail "$name: exit $rc (want $want), $lines stderr lines: $(head -c 400 "$S/stderr.txt")"
  fi
}

# check_json NAME FILE: `stats --json` output is one JSON object with the required keys.
check_json() {
  if "$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
need = {"n", "beta", "alpha", "entropy_bits", "bits_per_entry", "packet_bits_per_entry", "nmse"}
missing = need - d.keys()
assert not missing, "missing keys %s" % sorted(missing)
assert set(d["bits_per_entry"]) == {"histogram", "gennorm", "normal", "laplace"}, d
' "$2" 2>"$S/json.log"; then
    pass
  else
    fail "$1: $(tail -n 1 "$S/json.log")"
  fi
}

# same_bytes NAME A B
same_bytes() {
  if cmp -s "$2" "$3"; then pass; else fail "$1: $2 and $3 differ"; fi
}

IN=$S/in

# --- Round trips -------------------------------------------------------------------------
roundtrip f32 "$IN/small.f32" 0.01
roundtrip f32_fp16 "$IN/small.f32" 1e-5 --format fp16
roundtrip f32_fp4 "$IN/small.f32" 0.3 --format fp4 --code gennorm
roundtrip f32_e4m3 "$IN/small.f32" 0.01 --format=e4m3 --rounding=stochastic --seed=7
roundtrip f32_custom "$IN/small.f32" 0.05 --format 3,2,4,finite --scale absmax --chunk 64
roundtrip f32_laplace "$IN/small.f32" 0.01 --code laplace --max-code-length 16 --threads 1
roundtrip f32_empty "$IN/empty.f32" 0
roundtrip npy_f4 "$IN/small_f4.npy" 0.01
roundtrip npy_v2 "$IN/v2.npy" 0.01
roundtrip npy_fortran_row "$IN/fortran_row.npy" 0.01
roundtrip npy_empty "$IN/empty.npy" 0
# float16 values are exactly float16 codes: lossless without scaling.
roundtrip npy_f2_exact "$IN/small_f2.npy" 0 --format fp16 --scale none
roundtrip npy_f2 "$IN/small_f2.npy" 0.01

# Determinism: same bytes again, with another thread count, and from the .npy copy.
"$CO3" compress "$IN/small.f32" "$S/again.co3" 2>/dev/null || true
same_bytes deterministic "$S/f32.co3" "$S/again.co3"
"$CO3" compress "$IN/small.f32" "$S/threads2.co3" --threads 2 2>/dev/null || true
same_bytes threads "$S/f32.co3" "$S/threads2.co3"
same_bytes npy_equals_f32 "$S/f32.co3" "$S/npy_f4.co3"
"$CO3" compress "$IN/small.f32" "$S/device_cpu.co3" --device cpu 2>/dev/null || true
same_bytes device_cpu "$S/f32.co3" "$S/device_cpu.co3"
# Where a GPU is visible, the GPU encoder gives the CPU's bytes (elsewhere the refusal is
# checked below).
if "$CO3" compress "$IN/small.f32" "$S/device_cuda.co3" --device cuda 2>"$S/device_cuda.log"; then
  same_bytes device_cuda "$S/f32.co3" "$S/device_cuda.co3"
  "$CO3" compress "$IN/small.f32" "$S/cuda_fp4_gennorm.co3" --device cuda --format fp4 --code gennorm 2>/dev/null || true
  "$CO3" compress "$IN/small.f32" "$S/cpu_fp4_gennorm.co3" --format fp4 --code gennorm 2>/dev/null || true
  same_bytes device_cuda_fp4_gennorm "$S/cpu_fp4_gennorm.co3" "$S/cuda_fp4_gennorm.co3"
fi

# The summary line.
if grep -q "^co3: 5000 float32 entries -> [0-9]* bytes, [0-9.]* bits/entry" "$S/f32.log"; then
  pass
else
  fail "summary line: $(cat "$S/f32.log")"
fi

# --- .pt inputs ----------------------------------------------------------------------------
if [[ ! -f $IN/small.pt ]]; then
  echo "SKIP .pt tests: $PY cannot import torch (set CO3_PYTHON to the project venv)"
elif ! "$CO3" compress "$IN/small.pt" "$S/probe.co3" 2>"$S/probe.log" &&
  grep -q "built without LibTorch" "$S/probe.log"; then
  echo "SKIP .pt round trips: co3 was built without LibTorch"
  expect_error 2 "co3: error: .*built without LibTorch" pt_without_torch \
    "$CO3" compress "$IN/small.pt" "$S/x.co3"
else
  roundtrip pt "$IN/small.pt" 0.01
  roundtrip pt_transposed "$IN/transposed.pt" 0.01
  roundtrip pt_bf16_exact "$IN/bf16.pt" 0 --format bf16 --scale none
  roundtrip pt_f64 "$IN/f64.pt" 0.01
  roundtrip pt_dict "$IN/dict.pt" 0.01
  same_bytes pt_equals_f32 "$S/f32.co3" "$S/pt.co3"
  expect_error 2 "co3: error: " pt_int "$CO3" compress "$IN/int.pt" "$S/x.co3"
  expect_error 2 "co3: error: " pt_two_tensors "$CO3" compress "$IN/two.pt" "$S/x.co3"
  cp "$IN/small_f4.npy" "$S/fake.pt"
  expect_error 2 "co3: error: " pt_garbage "$CO3" compress "$S/fake.pt" "$S/x.co3"
  # The reader library (libco3_pt_reader.so, loaded on the first .pt file) missing or not
  # loadable: one line naming it and what failed.
  expect_error 2 "co3: error: .*libco3_pt_reader.so was not found.*/nowhere/libco3_pt_reader.so" \
    pt_reader_missing env CO3_PT_READER=/nowhere/libco3_pt_reader.so "$CO3" compress "$IN/small.pt" "$S/x.co3"
  expect_error 2 "co3: error: .*cannot load the .pt reader $S/fake.pt: .*needs LibTorch" \
    pt_reader_unloadable env CO3_PT_READER="$S/fake.pt" "$CO3" compress "$IN/small.pt" "$S/x.co3"
fi
# The CLI itself links no LibTorch (it starts in milliseconds); only the .pt reader does.
if command -v ldd >/dev/null; then
  if ldd "$CO3" | grep -q "libtorch\|libc10"; then
    fail "co3 links LibTorch: $(ldd "$CO3" | grep -c "libtorch\|libc10") torch libraries"
  else
    pass
  fi
fi

# --- stats ---------------------------------------------------------------------------------
if "$CO3" stats "$IN/small.f32" --json >"$S/stats.json" 2>"$S/stats.log"; then
  check_json stats_json "$S/stats.json"
else
  fail "stats --json: $(cat "$S/stats.log")"
fi
if "$CO3" stats "$IN/small_f2.npy" --format fp4 --code normal --json >"$S/stats2.json"; then
  check_json stats_json_options "$S/stats2.json"
else
  fail "stats --json with options"
fi
if "$CO3" stats "$IN/small.f32" >"$S/stats.txt" && grep -q "^nmse " "$S/stats.txt"; then
  pass
else
  fail "stats table: $(cat "$S/stats.txt")"
fi

# --- help and version ----------------------------------------------------------------------
for args in "--help" "compress --help" "decompress -h" "stats --help" "--version"; do
  # shellcheck disable=SC2086  # the words are meant to split
  if "$CO3" $args >"$S/help.txt" 2>&1 && [[ -s $S/help.txt ]]; then
    pass
  else
    fail "co3 $args"
  fi
done

# --- bad command lines and inputs: exit 2, one line --------------------------------------
E="co3: error: "
OUT=$S/x.co3
expect_error 2 "$E" no_command "$CO3"
expect_error 2 "$E" unknown_command "$CO3" squeeze "$IN/small.f32" "$OUT"
expect_error 2 "$E" unknown_option "$CO3" compress "$IN/small.f32" "$OUT" --bogus 1
expect_error 2 "$E" flag_with_value "$CO3" stats "$IN/small.f32" --json=1
expect_error 2 "$E" missing_value "$CO3" compress "$IN/small.f32" "$OUT" --format
expect_error 2 "$E" missing_output "$CO3" compress "$IN/small.f32"
expect_error 2 "$E" extra_argument "$CO3" decompress "$S/f32.co3" "$OUT" more
expect_error 2 "$E" bad_format "$CO3" compress "$IN/small.f32" "$OUT" --format e9m9
expect_error 2 "$E" bad_format_numbers "$CO3" compress "$IN/small.f32" "$OUT" --format 9,9
expect_error 2 "$E" bad_rounding "$CO3" compress "$IN/small.f32" "$OUT" --rounding up
expect_error 2 "$E" bad_scale "$CO3" compress "$IN/small.f32" "$OUT" --scale -1
expect_error 2 "$E" bad_code "$CO3" stats "$IN/small.f32" --code zip
expect_error 2 "$E" bad_non_finite "$CO3" compress "$IN/small.f32" "$OUT" --non-finite drop
expect_error 2 "$E" integer_suffix "$CO3" compress "$IN/small.f32" "$OUT" --chunk 12x
expect_error 2 "$E" negative_seed "$CO3" compress "$IN/small.f32" "$OUT" --seed -1
expect_error 2 "$E" seed_overflow "$CO3" compress "$IN/small.f32" "$OUT" \
  --seed 18446744073709551616
expect_error 2 "$E" chunk_range "$CO3" compress "$IN/small.f32" "$OUT" --chunk 16
expect_error 2 "$E" threads_range "$CO3" decompress "$S/f32.co3" "$OUT" --threads 100000
expect_error 2 "$E" missing_file "$CO3" compress "$IN/no_such_file.f32" "$OUT"
expect_error 2 "$E" missing_packet "$CO3" decompress "$IN/no_such_file.co3" "$OUT"
expect_error 2 "$E" unknown_extension "$CO3" compress "$S/f32.co3" "$OUT"
mkdir -p "$S/dir.f32"
expect_error 2 "$E" directory_input "$CO3" compress "$S/dir.f32" "$OUT"
expect_error 2 "$E" truncated_npy "$CO3" compress "$IN/truncated.npy" "$OUT"
expect_error 2 "$E" short_npy "$CO3" compress "$IN/short_data.npy" "$OUT"
expect_error 2 "$E" f8_npy "$CO3" compress "$IN/f8.npy" "$OUT"
expect_error 2 "$E" big_endian_npy "$CO3" stats "$IN/big_endian.npy"
expect_error 2 "$E" fortran_npy "$CO3" compress "$IN/fortran_2d.npy" "$OUT"
expect_error 2 "$E" bad_magic_npy "$CO3" compress "$IN/bad_magic.npy" "$OUT"
expect_error 2 "$E" f32_size "$CO3" compress "$IN/bad_size.f32" "$OUT"
expect_error 2 "$E" non_finite "$CO3" compress "$IN/non_finite.f32" "$OUT"
if "$CO3" compress "$IN/non_finite.f32" "$S/clamped.co3" --non-finite clamp 2>/dev/null; then
  pass
else
  fail "--non-finite clamp refused NaN/Inf"
fi
# propagate: the last three entries (NaN, +Inf, -Inf) decode to themselves, the others finite.
if "$CO3" compress "$IN/non_finite.f32" "$S/propagated.co3" --non-finite propagate 2>/dev/null &&
   "$CO3" decompress "$S/propagated.co3" "$S/propagated.f32" 2>/dev/null &&
   "$PY" -c '
import math, struct, sys
y = struct.unpack("<103f", open(sys.argv[1], "rb").read())
ok = all(math.isfinite(v) for v in y[:100]) and math.isnan(y[100])
sys.exit(0 if ok and y[101:] == (math.inf, -math.inf) else 1)' "$S/propagated.f32"; then
  pass
else
  fail "--non-finite propagate did not give back NaN, +Inf, -Inf"
fi
expect_error 2 "$E" bad_device "$CO3" compress "$IN/small.f32" "$OUT" --device tpu
# --device cuda with every device hidden: the build without CUDA and the one with it both refuse
# before reading the input, and write nothing.
rm -f "$OUT"
expect_error 2 "$E--device cuda: \(no CUDA device available\|this build has no CUDA support\)" \
  no_cuda_device env CUDA_VISIBLE_DEVICES= "$CO3" compress "$IN/small.f32" "$OUT" --device cuda
if [[ -e $OUT ]]; then fail "a refused --device cuda left $OUT behind"; else pass; fi
expect_error 2 "$E" unwritable_output "$CO3" compress "$IN/small.f32" "$S/no/such/dir.co3"

# --- corrupt packets: exit 1, one line -----------------------------------------------------
C="co3: corrupt packet: "
if inputs corrupt "$S/f32.co3" "$S/flipped.co3" flip &&
  inputs corrupt "$S/f32.co3" "$S/truncated.co3" truncate; then
  expect_error 1 "$C" flipped_byte "$CO3" decompress "$S/flipped.co3" "$OUT"
  expect_error 1 "$C" truncated_packet "$CO3" decompress "$S/truncated.co3" "$OUT"
else
  fail "no packet to corrupt"
fi
expect_error 1 "$C" not_a_packet "$CO3" decompress "$IN/small.f32" "$OUT"
expect_error 1 "$C" empty_packet "$CO3" decompress "$IN/empty.f32" "$OUT"
if [[ -e $OUT ]]; then fail "a failed decompress left $OUT behind"; else pass; fi

# --- a real gradient -----------------------------------------------------------------------
REAL=$DATA/resnet18_step120.f32
if [[ ! -f $REAL ]]; then
  echo "SKIP real-gradient tests: $REAL not found (set CO3_DATA_DIR)"
else
  ln -sf "$(realpath "$REAL")" "$S/in/real.f32"
  ln -sf "$(realpath "$REAL")" "$S/in/real.ref.f32"
  roundtrip real "$S/in/real.f32" 0.01
  roundtrip real_fp4 "$S/in/real.f32" 0.3 --format fp4 --code gennorm
  if "$CO3" stats "$S/in/real.f32" --json >"$S/real.json"; then
    check_json real_stats_json "$S/real.json"
  else
    fail "stats on $REAL"
  fi
fi

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
