// Code tables for decoding (docs/FORMAT.md §4) as host+device code: the token stream reader,
// the canonical limit/offset structure, and the multi-symbol lookup table. The CPU decoder
// builds and uses exactly these; the GPU builds the same entries in parallel (one per thread).
//
// A table's decoder is, for its L = kLutBits-bit prefixes, a 64-bit entry holding every whole
// codeword that the prefix contains (up to kMaxLutSymbols, at most 48 bits of symbols), and for
// longer codewords the canonical path: the next max_len bits, read MSB-first, are compared with
// each length's left-justified limit (a binary search; limits never decrease with the length).
#pragma once

#include <cstdint>

#include "co3/detail/hd.h"
#include "co3/huffman.h"
#include "co3/kernels/status.h"

namespace co3::detail {

inline constexpr int kLutBits = 11;  // 2^11 entries × 8 bytes = 16 KiB of shared memory
inline constexpr uint32_t kLutSize = 1u << kLutBits;
inline constexpr int kLutSymbolBits = 48;
inline constexpr uint32_t kMaxLutSymbols = 11;  // 1-bit codes fill an 11-bit prefix

// Entry layout: bits 0–4 total bits of the whole codewords (0: the prefix holds none), 5–9 the
// first codeword's length, 10–13 their number, 16 + i·symbol_bits the i-th symbol.
CO3_HD uint32_t lut_total_bits(uint64_t e) {
  return static_cast<uint32_t>(e & 31);
}
CO3_HD uint32_t lut_first_bits(uint64_t e) {
  return static_cast<uint32_t>(e >> 5 & 31);
}
CO3_HD uint32_t lut_count(uint64_t e) {
  return static_cast<uint32_t>(e >> 10 & 15);
}
CO3_HD uint32_t lut_symbol(uint64_t e, uint32_t i, int symbol_bits) {
  return static_cast<uint32_t>(e >> (16 + i * symbol_bits)) & ((1u << symbol_bits) - 1);
}

// The canonical structure of a table (arrays of kMaxCodeLength + 1, index = length):
// limit[len] = one past the last codeword of length len, shifted left to max_len bits;
// offset[len] = index in `symbols` of length len's first symbol minus its first codeword;
// symbols = the coded symbols ordered by (length, symbol).
struct CanonicalView {
  const uint32_t* limit = nullptr;
  const uint32_t* offset = nullptr;
  const uint16_t* symbols = nullptr;
  int max_len = 0;
  int symbol_bits = 0;
};

// From the number of codewords of each length (count[0] ignored; lengths ≤ max_len; Kraft ≤ 1)
// to limit, offset and first_index (where each length's symbols start in `symbols`).
CO3_HD void canonical_bases(const uint32_t* count, int max_len, uint32_t* limit, uint32_t* offset,
                            uint32_t* first_index) {
  uint32_t code = 0, count_before = 0, index = 0;
  limit[0] = offset[0] = first_index[0] = 0;
  for (int len = 1; len <= kMaxCodeLength; ++len) {
    const uint32_t c = len <= max_len ? count[len] : 0;
    code = (code + count_before) << 1;  // first codeword of this length (the DEFLATE rule)
    count_before = c;
    // Kraft ≤ 1 keeps code + c ≤ 2^len, so the shift stays below 2^(max_len + 1).
    limit[len] = len <= max_len ? (code + c) << (max_len - len) : 0;
    offset[len] = index - code;  // u32 arithmetic, wrapping: symbols[code + offset]
    first_index[len] = index;
    index += c;
  }
}

// The codeword at the start of `window` (the next stream bits, the next bit in bit 0, zeros past
// the end) by the canonical path: its length, and *symbol; 0 if the bits are no codeword.
CO3_HD int decode_canonical(const CanonicalView& t, uint64_t window, uint32_t* symbol) {
  const uint32_t code =
      reverse_bits(static_cast<uint32_t>(window) & ((1u << t.max_len) - 1), t.max_len);
  // The shortest length whose limit exceeds the code: lengths without codewords repeat the
  // previous limit, so the first length found has a codeword, and code lies in its range.
  int lo = 1, hi = t.max_len + 1;
  while (lo < hi) {
    const int mid = (lo + hi) >> 1;
    if (code < t.limit[mid]) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  if (lo > t.max_len) return 0;
  *symbol = t.symbols[(code >> (t.max_len - lo)) + t.offset[lo]];
  return lo;
}

// decode_canonical for a window whose kLutBits-bit prefix has a lookup entry with no codeword
// (lut_count 0): the same length and symbol, by counting rather than searching. Why it is the
// same: limit[L] is a multiple of 2^(max_len − L), so the test code < limit[L] for L ≤ kLutBits
// reads only the prefix, and lut_entry found it false for every such L (the prefix starts no
// codeword of ≤ kLutBits bits). The length is then the first L > kLutBits with code < limit[L],
// that is kLutBits + 1 plus the number of L in (kLutBits, max_len] with code ≥ limit[L] (limits
// never decrease, so those L come first): a fixed loop of compares with no data-dependent
// branch, where the binary search's branches are mispredicted half the time.
CO3_HD int decode_canonical_long(const CanonicalView& t, uint64_t window, uint32_t* symbol) {
  const uint32_t code =
      reverse_bits(static_cast<uint32_t>(window) & ((1u << t.max_len) - 1), t.max_len);
  int len = kLutBits + 1;
  for (int L = kLutBits + 1; L <= t.max_len; ++L) len += code >= t.limit[L] ? 1 : 0;
  if (len > t.max_len) return 0;
  *symbol = t.symbols[(code >> (t.max_len - len)) + t.offset[len]];
  return len;
}

// Lookup entry for the kLutBits-bit prefix p: the whole codewords it starts with, greedily.
CO3_HD uint64_t lut_entry(const CanonicalView& t, uint32_t p) {
  const uint32_t cap_by_bits = static_cast<uint32_t>(kLutSymbolBits / t.symbol_bits);
  const uint32_t cap = cap_by_bits < kMaxLutSymbols ? cap_by_bits : kMaxLutSymbols;
  uint64_t e = 0;
  uint32_t used = 0, n = 0;
  while (n < cap) {
    uint32_t sym;
    // Bits past the prefix read as zero, so a codeword counts only if it ends inside it.
    const int len = decode_canonical(t, p >> used, &sym);
    if (len == 0 || used + len > static_cast<uint32_t>(kLutBits)) break;
    if (n == 0) e |= uint64_t(len) << 5;
    e |= uint64_t{sym} << (16 + n * t.symbol_bits);
    used += len;
    ++n;
  }
  return e | used | uint64_t{n} << 10;
}

// ---- The §4 token stream ----

inline constexpr uint32_t kZeroRunToken = 31;

// LSB-first bits of a body that may end anywhere (reads never pass body + bytes).
struct BodyBits {
  const uint8_t* body;
  uint64_t bits;
  uint64_t pos;
  CO3_HD uint32_t get(int n) {  // requires pos + n ≤ bits
    uint32_t v = 0;
    for (int i = 0; i < n; ++i, ++pos) v |= uint32_t{body[pos >> 3] >> (pos & 7) & 1u} << i;
    return v;
  }
};

// Reads a §4 body over an alphabet of n = 2^symbol_bits symbols with lengths ≤ max_len (both
// already range-checked), calling visit(symbol, length) for every symbol with a code, in symbol
// order, and count[len] += 1 for each (count: kMaxCodeLength + 1 entries, zeroed by the caller).
// Returns Status::ok or the first violation (the checks and order of read_code_lengths), with
// *detail set to the value the message names.
template <class Visit>
CO3_HD kernels::Status read_code_tokens(const uint8_t* body, uint32_t body_bytes, uint32_t n,
                                        int max_len, uint32_t* count, uint64_t* detail,
                                        Visit&& visit) {
  using kernels::Status;
  BodyBits in{body, uint64_t{body_bytes} * 8, 0};
  uint64_t kraft = 0;  // units of 2^−kMaxCodeLength
  uint32_t coded = 0;
  for (uint32_t s = 0; s < n;) {
    *detail = s;
    if (in.bits - in.pos < 5) return Status::table_body_ends;
    const uint32_t token = in.get(5);
    if (token == kZeroRunToken) {
      if (in.bits - in.pos < 16) return Status::table_body_ends;
      const uint32_t run = in.get(16) + 1;
      if (run > n - s) return Status::table_run_past_alphabet;
      s += run;
    } else if (token > static_cast<uint32_t>(kMaxCodeLength)) {
      *detail = token;
      return Status::table_invalid_token;
    } else if (token > static_cast<uint32_t>(max_len)) {
      *detail = token;
      return Status::table_length_exceeds_max;
    } else {
      if (token) {
        visit(s, static_cast<int>(token));
        ++count[token];
        kraft += uint64_t{1} << (kMaxCodeLength - token);
        ++coded;
      }
      ++s;
    }
  }
  const uint64_t left = in.bits - in.pos;
  *detail = left;
  if (left >= 8) return Status::table_bits_after_last;
  if (in.get(static_cast<int>(left)) != 0) return Status::table_nonzero_padding;
  if (coded == 0) return Status::table_no_code;
  if (kraft > uint64_t{1} << kMaxCodeLength) return Status::table_kraft;
  return Status::ok;
}

}  // namespace co3::detail
