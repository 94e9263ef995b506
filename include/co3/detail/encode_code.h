// The encoder's code construction as host+device code: the weights of a model code (the
// entry-weighted mixture of per-segment code pmfs) and the §4 token body of a code table, written
// into a caller buffer. Code lengths come from package_merge_lengths and codewords from
// encode_table (co3/huffman.h). host/codec/encode_code.cpp and kernels/encode_code.cu call these.
#pragma once

#include <cstdint>

#include "co3/detail/hd.h"
#include "co3/huffman.h"

namespace co3::detail {

// A segment's share of a mixture: its entries over the entries of every segment coded together.
CO3_HD double mixture_share(uint64_t numel, uint64_t total) {
  return ddiv(static_cast<double>(numel), static_cast<double>(total));
}

// share · Π_t pmf[entry code t of s] for a symbol of g entries of width bits, multiplied in the
// order share, t = 0, 1, …; a mixture adds these over segments in segment order.
CO3_HD double symbol_model_mass(const double* pmf, uint32_t s, int width, int g, double share) {
  const uint32_t mask = (1u << width) - 1;
  double p = share;
  for (int t = 0; t < g; ++t) p = dmul(p, pmf[(s >> (width * t)) & mask]);
  return p;
}

// The integer weight of a symbol with mixture mass `mix`: floor(mix · 2^40), at least 1, so that
// a model code gives every symbol a codeword and can encode any data.
CO3_HD uint64_t model_weight(double mix) {
  const double scaled = dmul(mix, 1099511627776.0);          // 2^40, exact
  return scaled >= 1.0 ? static_cast<uint64_t>(scaled) : 1;  // truncation is floor here
}

// ---- The §4 token body ----

inline constexpr int kTokenBits = 5;
inline constexpr uint32_t kZeroRunToken = 31;
inline constexpr int kRunBits = 16;
inline constexpr uint32_t kMaxZeroRun = 1u << kRunBits;
inline constexpr uint32_t kMinZeroRun = 5;  // shorter runs are cheaper as single 0 tokens

// Emits the body's fields in order as put(value, bits): a length token per coded symbol, runs of
// kMinZeroRun or more zero lengths as token 31 plus r − 1 (split at 65536), shorter runs as 0
// tokens. Lengths must be ≤ kMaxCodeLength.
template <class Put>
CO3_HD void code_table_fields(const uint8_t* lengths, uint32_t n, Put put) {
  for (uint32_t s = 0; s < n;) {
    if (lengths[s]) {
      put(lengths[s++], kTokenBits);
      continue;
    }
    uint32_t run = 0;
    while (s + run < n && lengths[s + run] == 0) ++run;
    s += run;
    while (run >= kMinZeroRun) {
      const uint32_t part = run < kMaxZeroRun ? run : kMaxZeroRun;
      put(kZeroRunToken, kTokenBits);
      put(part - 1, kRunBits);
      run -= part;
    }
    for (; run > 0; --run) put(0u, kTokenBits);
  }
}

// Bytes of the body for these lengths (its bits rounded up to whole bytes).
CO3_HD uint32_t code_table_body_bytes(const uint8_t* lengths, uint32_t n) {
  uint64_t bits = 0;
  code_table_fields(lengths, n, [&](uint32_t, int b) { bits += static_cast<uint64_t>(b); });
  return static_cast<uint32_t>((bits + 7) / 8);
}

// An upper bound of code_table_body_bytes for n symbols: every symbol costs at most 5 bits (a
// zero run of r ≥ 5 costs 21 bits ≤ 5r).
CO3_HD uint32_t code_table_body_bound(uint32_t n) {
  return static_cast<uint32_t>((uint64_t{n} * kTokenBits + 7) / 8);
}

// Writes the body (code_table_body_bytes(lengths, n) bytes, the padding bits zero) into out,
// least-significant bit first. Every byte of the body is written; no byte beyond it.
CO3_HD uint32_t write_code_table_body(const uint8_t* lengths, uint32_t n, uint8_t* out) {
  uint64_t used = 0;
  code_table_fields(lengths, n, [&](uint32_t value, int bits) {
    for (int i = 0; i < bits; ++i, ++used) {
      if (used % 8 == 0) out[used / 8] = 0;
      out[used / 8] |= static_cast<uint8_t>((value >> i & 1u) << (used % 8));
    }
  });
  return static_cast<uint32_t>((used + 7) / 8);
}

// FORMAT.md §4: the 16-byte table header, reserved bytes zero.
CO3_HD void store_table_header(uint8_t* h, int symbol_bits, int max_length, uint32_t body_bytes) {
  for (int i = 0; i < 16; ++i) h[i] = 0;
  h[0] = static_cast<uint8_t>(symbol_bits);
  h[1] = static_cast<uint8_t>(max_length);
  memcpy(h + 4, &body_bytes, 4);
}

}  // namespace co3::detail
