// Decoded values (docs/FORMAT.md §7) as host+device code: what an entry code becomes in the
// output dtype, and the decode-and-accumulate rule.
#pragma once

#include <cstdint>

#include "co3/dtype.h"

namespace co3::detail {

// The float32 value of entry code `code`: value(code) × scale, one rounded multiplication.
CO3_HD float entry_value(FloatFormat f, float scale, uint32_t code) {
  return fmul(decode_code(f, code), scale);
}

// The storage bits of an entry decoded into dtype `out` (§7: float16 and bfloat16 round to
// nearest-even and saturate finite values).
CO3_HD uint32_t entry_bits(FloatFormat f, float scale, uint32_t code, DType out) {
  return store_bits(entry_value(f, scale, code), out);
}

// entry_bits(formats::bf16, scale, code, DType::f32) for a 16-bit code, by integer operations
// and one multiplication that a loop vectorizes: a bf16 code is the top half of its float32,
// except that decode_code makes every NaN code the quiet NaN 0x7fc00000 (with the code's sign).
CO3_HD uint32_t bf16_code_f32_bits(uint32_t code, float scale) {
  const uint32_t a = code << 16;
  const uint32_t nan = 0u - static_cast<uint32_t>((a & 0x7fffffffu) > 0x7f800000u);
  const uint32_t x = (a & ~nan) | (((a & 0x80000000u) | 0x7fc00000u) & nan);
  return f32_bits(fmul(bits_f32(x), scale));
}

// Accumulation: out ← out + value, with out read as float32, one rounded float32 addition and,
// for the 2-byte dtypes, one rounding of the sum into the dtype (the rule of entry_bits). Adding
// N packets one after another is N such steps in packet order.
CO3_HD uint32_t accumulate_bits(uint32_t old_bits, float value, DType out) {
  float old;
  if (out == DType::f32) {
    old = bits_f32(old_bits);
  } else if (out == DType::f16) {
    old = half_to_float(static_cast<uint16_t>(old_bits));
  } else {
    old = bf16_to_float(static_cast<uint16_t>(old_bits));
  }
  return store_bits(fadd(old, value), out);
}

}  // namespace co3::detail
