// Conversion by rounding float32 bits, for formats whose exponent field is float32's: E = 8,
// bias 127, IEEE layout (bf16 and any E8Mm, m < 23). The same codes as quantize_entry's
// encode_float(fdiv(u, scale)) for the deterministic roundings, in a handful of integer
// operations a loop vectorizes, and without code_thresholds.h's per-tensor tables (bf16 has
// 32,639 thresholds and a 2 MiB signed table, more than a tensor of a million entries repays).
//
// Why it is exact: with float32's emin (−126) and the format's M mantissa bits, encode_float's
// quantum at |x| is 2^(max(ex, −126) − M), that is 2^(23 − M) units of |x|'s float32 bit pattern
// a, for normal and subnormal x alike (the subnormals of both share emin), and the code it
// counts, (ex + 127) · 2^M + (mantissa >> (23 − M)) for normal x and a >> (23 − M) for
// subnormal x, is a >> (23 − M) in both cases. Rounding to nearest adds half a quantum less one
// (nearest-down: a tie stays) or less the kept bit's complement (nearest-even), and a carry out
// of the mantissa is the next binade's first code, as in encode_float. Past max_code (the largest
// finite value, +Inf included) the code saturates; NaN gives code 0, as in quantize_entry for a
// segment without a class map; the sign is x's, except on code 0.
#pragma once

#include <cstdint>

#include "co3/detail/code_thresholds.h"
#include "co3/detail/hd.h"
#include "co3/float_format.h"

namespace co3::detail {

CO3_HD bool shift_format(FloatFormat f) {
  return f.exp_bits == 8 && f.bias == 127 && f.layout == Layout::ieee && f.man_bits < 23;
}

// The loop invariants of one segment's conversion.
struct ShiftView {
  uint32_t shift;       // 23 − M
  uint32_t bias;        // half a quantum less one
  uint32_t even;        // 1 for nearest-even, 0 for nearest-down
  uint32_t max_code;    // magnitude
  uint32_t sign_shift;  // E + M
};

CO3_HD ShiftView shift_view(FloatFormat f, Rounding r) {
  const uint32_t shift = 23u - static_cast<uint32_t>(f.man_bits);
  return {shift, (1u << (shift - 1)) - 1, r == Rounding::nearest_even ? 1u : 0u, f.max_code(),
          static_cast<uint32_t>(f.exp_bits + f.man_bits)};
}

// The code of x = fdiv(u, scale) (shift_format(f), threshold_rounding(r)). Masks rather than
// branches, so that a loop over entries vectorizes.
CO3_HD uint32_t shift_code(const ShiftView& v, float x) {
  const uint32_t bits = f32_bits(x);
  uint32_t a = bits & 0x7fffffffu;
  a &= 0u - static_cast<uint32_t>(a <= kF32InfBits);  // NaN → 0 → code 0
  uint32_t mag = (a + v.bias + ((a >> v.shift) & v.even)) >> v.shift;
  mag = mag < v.max_code ? mag : v.max_code;
  const uint32_t sign = (bits >> 31) << v.sign_shift;
  return mag | (sign & (0u - static_cast<uint32_t>(mag != 0)));
}

}  // namespace co3::detail
