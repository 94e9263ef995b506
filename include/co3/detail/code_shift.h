// Conversion by rounding float32 bits, for every format whose normal range starts at or above
// float32's (bias ≤ 127: fp4, e4m3, e5m2, fp16, bf16, …) and whose mantissa is narrower
// (M < 23). The same codes as quantize_entry's encode_float(fdiv(u, scale)) for the
// deterministic roundings, in a few dozen integer operations without a branch or a table, which
// a loop vectorizes (issue 13: the per-tensor threshold tables of code_thresholds.h cost a
// lookup an entry, and for bf16 32,639 thresholds and a 2 MiB table, more than a tensor of a
// million entries repays).
//
// Why it is exact. Write |x| = S · 2^(E − 150), E float32's biased exponent and S its 24-bit
// significand (the hidden bit included; a float32 subnormal has E = 0, read as E = 1 with S = its
// bits, which is the same value). The format's smallest normal binade is float32's binade
// F = 128 − bias. At and above it the format's quantum is 2^(23 − M) units of S's last bit, and
// encode_float's code, (E − F) · 2^M + round(S / 2^(23 − M)), is the format's exponent field
// (E − F + 1, from the hidden bit that the rounded S carries) over its mantissa; a carry out of
// the mantissa is the next binade's first code, as in encode_float. Below F the format is
// subnormal with the fixed quantum of binade F, i.e. 2^(23 − M + F − E) units of S, and the code
// is round(S / that), which reaches 2^M (the first normal code) exactly when encode_float's does.
// Shifts past 24 bits give 0, as encode_float's "always zero". Rounding to nearest adds half a
// quantum less one (nearest-down: a tie stays) or less the complement of the
// truncated code's last bit (nearest-even). Past max_code (the largest finite value, +Inf included) the code saturates;
// NaN gives code 0, as in quantize_entry for a segment without a class map; the sign is x's,
// except on code 0.
#pragma once

#include <cstdint>

#include "co3/detail/code_thresholds.h"
#include "co3/detail/hd.h"
#include "co3/float_format.h"

namespace co3::detail {

// F = 128 − bias must be a float32 binade (1 … 254) so that +Inf (binade 255) lies above it and
// saturates; FORMAT.md §5's range rule allows biases up to 150 − M, and those above 127 (normal
// range below float32's) keep code_thresholds.h.
CO3_HD bool shift_format(FloatFormat f) {
  return f.bias <= 127 && f.bias >= -126 && f.man_bits < 23;
}

// The loop invariants of one segment's conversion.
struct ShiftView {
  uint32_t shift;         // 23 − M: the quantum in S's units, at and above binade F
  uint32_t man_bits;      // M
  uint32_t first_normal;  // F = 128 − bias, float32's biased exponent of the format's 2^emin
  uint32_t even;          // 1 for nearest-even, 0 for nearest-down
  uint32_t max_code;      // magnitude
  uint32_t sign_shift;    // E + M
};

CO3_HD ShiftView shift_view(FloatFormat f, Rounding r) {
  return {23u - static_cast<uint32_t>(f.man_bits), static_cast<uint32_t>(f.man_bits),
          static_cast<uint32_t>(128 - f.bias), r == Rounding::nearest_even ? 1u : 0u,
          f.max_code(), static_cast<uint32_t>(f.exp_bits + f.man_bits)};
}

// |x|'s bits, NaN read as 0 (code 0).
CO3_HD uint32_t shift_magnitude_bits(uint32_t bits) {
  const uint32_t a = bits & 0x7fffffffu;
  return a & (0u - static_cast<uint32_t>(a <= kF32InfBits));
}

// The code of a rounded magnitude: saturated at max_code (the largest finite value, +Inf
// included), with x's sign except on code 0.
CO3_HD uint32_t shift_signed_code(const ShiftView& v, uint32_t bits, uint32_t mag) {
  mag = mag < v.max_code ? mag : v.max_code;
  const uint32_t sign = (bits >> 31) << v.sign_shift;
  return mag | (sign & (0u - static_cast<uint32_t>(mag != 0)));
}

// The code of x = fdiv(u, scale) (shift_format(f), threshold_rounding(r)). Masks, min and max
// rather than branches, so that a loop over entries vectorizes.
CO3_HD uint32_t shift_code(const ShiftView& v, float x) {
  const uint32_t bits = f32_bits(x);
  const uint32_t a = shift_magnitude_bits(bits);
  const uint32_t e0 = a >> 23;
  const uint32_t sig = (a & 0x007fffffu) | (e0 < 1u ? e0 : 1u) << 23;  // hidden bit if normal
  const uint32_t e = e0 > 1u ? e0 : 1u;                                // a subnormal's binade
  const uint32_t hi = e > v.first_normal ? e : v.first_normal;
  const uint32_t below = hi - e;               // binades under the format's normal range
  const uint32_t above = hi - v.first_normal;  // binades over its first normal one
  uint32_t k = v.shift + below;
  k = k < 31u ? k : 31u;  // from 25 on every S gives 0: the clamp keeps the shifts defined
  const uint32_t base = above << v.man_bits;
  // The tie goes to the even code: the parity of base + the truncated quotient (base is odd only
  // when M = 0, where the exponent is the whole code).
  const uint32_t q = (sig + (1u << (k - 1)) - 1u + ((base + (sig >> k)) & v.even)) >> k;
  return shift_signed_code(v, bits, base + q);
}

// shift_code for formats whose normal range starts at float32's (bias 127, F = 1: bf16 and the
// other E8 formats): no float32 binade lies below the format's normal range, so the shift is the
// same for every entry and the code is the bits of |x| rounded by it, which a loop vectorizes
// without per-lane shifts (SSE2 has none; the CPU encoder takes this one there).
CO3_HD uint32_t shift_code_f1(const ShiftView& v, float x) {
  const uint32_t bits = f32_bits(x);
  const uint32_t a = shift_magnitude_bits(bits);
  return shift_signed_code(v, bits, (a + ((1u << v.shift) >> 1) - 1u + ((a >> v.shift) & v.even)) >> v.shift);
}

}  // namespace co3::detail
