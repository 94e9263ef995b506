// The encoder's per-entry arithmetic (docs/FORMAT.md §10) as host+device code: error feedback,
// the non-finite policy, division by the scale, conversion, the new error memory, and the packing
// of g entry codes into one symbol. host/codec/encode_quantize.cpp loops over these; kernels/encode_*.cu spread
// the same calls over threads, so the two produce the same bits by construction.
#pragma once

#include <cstdint>

#include "co3/detail/code_shift.h"
#include "co3/detail/hd.h"
#include "co3/float_format.h"
#include "co3/rng.h"

namespace co3::detail {

// u = g + γ·e as two rounded float32 operations; without an error memory, u = g.
CO3_HD float feedback_input(float g, const float* memory, float gamma, uint64_t i) {
  return memory ? fadd(g, fmul(gamma, memory[i])) : g;
}

// The value an entry code stands for, in the data's units: value(code) × scale.
CO3_HD float code_value(FloatFormat f, uint32_t code, float scale) {
  return fmul(decode_code(f, code), scale);
}

struct EntryCode {
  uint32_t code;  // the format code written into the symbol
  float diff;     // u − value(code) (NaN or ±Inf for a non-finite u)
  bool finite;    // u is finite
  // The error memory's new value: the quantization error, 0 where u was not finite.
  CO3_HD float memory() const { return finite ? diff : 0.0f; }
};

// The EntryCode of u once its code is known (by quantize_entry, or by the thresholds of
// code_thresholds.h, which give the same code for finite u).
template <class ValueOf>
CO3_HD EntryCode entry_code(float u, uint32_t code, ValueOf value_of) {
  return {code, fsub(u, value_of(code)), (f32_bits(u) & 0x7fffffffu) < 0x7f800000u};
}

// Converts entry i's u. NaN becomes code 0 and ±Inf saturates inside encode_float (the clamp
// policy; under the error policy the encoder has refused the tensor before this runs); with
// `propagate` every non-finite u becomes code 0, its class map saying what it was (FORMAT.md
// §6a). value_of(code) must return code_value(f, code, scale): a table on the CPU, the direct
// computation on the GPU.
template <class ValueOf>
CO3_HD EntryCode quantize_entry(float u, uint64_t i, float scale, FloatFormat f, Rounding r,
                                uint64_t seed, bool propagate, ValueOf value_of) {
  const uint32_t bits = f32_bits(u);
  const bool finite = (bits & 0x7fffffffu) < 0x7f800000u;
  const bool nan = bits << 1 > 0xff000000u;
  uint32_t code = 0;
  if (finite || !(nan || propagate)) {
    code = encode_float(fdiv(u, scale), f, r, r == Rounding::stochastic ? random_word(seed, i) : 0);
  }
  return entry_code(u, code, value_of);
}

// quantize_entry for the formats of code_shift.h under a deterministic rounding
// (shift_format(f) and threshold_rounding(r), v = shift_view(f, r)): the same EntryCode, its code
// by code_shift.h's rounding of the bits instead of encode_float's branches (NaN gives 0 and ±Inf
// saturates there as here; under `propagate` every non-finite u is code 0).
template <class ValueOf>
CO3_HD EntryCode quantize_entry_shift(float u, float scale, const ShiftView& v, bool propagate,
                                      ValueOf value_of) {
  const bool finite = (f32_bits(u) & 0x7fffffffu) < 0x7f800000u;
  return entry_code(u, finite || !propagate ? shift_code(v, fdiv(u, scale)) : 0u, value_of);
}

// Symbol j of a segment of numel entries packs entries g·j … g·j + g − 1 (FORMAT.md §6), entry t
// at bit w·t; entries past numel are code 0. code_of(i) converts entry i (and may write its error
// memory); it is called once per entry, in increasing i.
template <class CodeOf>
CO3_HD uint32_t encode_symbol(uint64_t j, int g, int width, uint64_t numel, CodeOf code_of) {
  uint32_t sym = 0;
  for (int t = 0; t < g; ++t) {
    const uint64_t i = j * static_cast<uint64_t>(g) + static_cast<uint64_t>(t);
    if (i < numel) sym |= code_of(i) << (width * t);
  }
  return sym;
}

// encode_symbol for a symbol whose g entries all lie below numel (every symbol but a segment's
// last), without the bound check.
template <class CodeOf>
CO3_HD uint32_t encode_whole_symbol(uint64_t j, int g, int width, CodeOf code_of) {
  uint32_t sym = 0;
  for (int t = 0; t < g; ++t)
    sym |= code_of(j * static_cast<uint64_t>(g) + static_cast<uint64_t>(t)) << (width * t);
  return sym;
}

}  // namespace co3::detail
