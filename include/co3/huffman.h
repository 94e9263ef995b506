// Canonical, length-limited prefix codes (docs/FORMAT.md §4 and §6).
//
// The CO3_HD pieces run unchanged on the host and on the GPU: they work in caller-provided
// arrays, never allocate and never throw. The host wrappers at the end (host/codec/huffman.cpp)
// allocate, and validate code tables read from untrusted packets.
//
// Bit order: a payload stream is least-significant-bit first, and each codeword goes into it
// most-significant bit first. Encoders therefore emit bit-reversed codewords (encode_table) and
// the decoder's lookup table is indexed by bit-reversed prefixes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "co3/detail/hd.h"

namespace co3 {

inline constexpr int kMaxCodeLength = 24;
// Primary decode table size: 2^11 entries (8 KiB) fits comfortably in GPU shared memory.
inline constexpr int kDecodeLutBits = 11;

namespace detail {

// Package weights are sums of many leaf weights and may exceed 64 bits; saturating keeps every
// weight that matters exact (see package_merge_lengths).
CO3_HD uint64_t add_saturated(uint64_t a, uint64_t b) {
  const uint64_t s = a + b;
  return s < a ? ~uint64_t{0} : s;
}

template <class T>
CO3_HD void swap_values(T& a, T& b) {  // std::swap is not a device function
  const T t = a;
  a = b;
  b = t;
}

// Sorts (weight, symbol) pairs by weight: a stable LSD radix sort, 8 bits per pass, skipping
// passes whose digit is the same for every weight. Stability keeps equal weights in their input
// order, so symbols given in increasing order come out ordered by (weight, symbol). Runs in place
// with tmp_* (m entries each) as the other buffers; O(m) per pass, no recursion.
CO3_HD void sort_by_weight(uint64_t* weights, uint32_t* symbols, uint64_t* tmp_weights,
                           uint32_t* tmp_symbols, uint32_t m) {
  uint64_t used_bits = 0;
  for (uint32_t i = 0; i < m; ++i) used_bits |= weights[i];
  uint64_t* from_w = weights;
  uint32_t* from_s = symbols;
  uint64_t* to_w = tmp_weights;
  uint32_t* to_s = tmp_symbols;
  for (int shift = 0; shift < 64 && used_bits >> shift; shift += 8) {
    uint32_t start[256] = {};
    for (uint32_t i = 0; i < m; ++i) ++start[from_w[i] >> shift & 255];
    if (start[from_w[0] >> shift & 255] == m) continue;
    for (uint32_t d = 0, sum = 0; d < 256; ++d) {
      const uint32_t c = start[d];
      start[d] = sum;
      sum += c;
    }
    for (uint32_t i = 0; i < m; ++i) {
      const uint32_t at = start[from_w[i] >> shift & 255]++;
      to_w[at] = from_w[i];
      to_s[at] = from_s[i];
    }
    swap_values(from_w, to_w);
    swap_values(from_s, to_s);
  }
  if (from_w != weights) {
    for (uint32_t i = 0; i < m; ++i) {
      weights[i] = from_w[i];
      symbols[i] = from_s[i];
    }
  }
}

// package_merge_lengths' scratch: sorted leaf weights [n], two item lists [2n], one leaf/package
// bit per list item for levels 1 … max_len − 1, all u64; then the sorted symbols [n] and a sort
// buffer [n], u32.
CO3_HD size_t package_merge_flag_words(uint32_t n) { return (2 * size_t{n} + 63) / 64; }
CO3_HD size_t package_merge_u64_words(uint32_t n, int max_len) {
  const size_t levels = max_len > 1 ? static_cast<size_t>(max_len - 1) : 0;
  return 5 * size_t{n} + levels * package_merge_flag_words(n);
}

}  // namespace detail

// The low `len` bits of v in reverse order (0 when len = 0).
CO3_HD uint32_t reverse_bits(uint32_t v, int len) {
  if (len == 0) return 0;
#if defined(__CUDA_ARCH__)
  return __brev(v) >> (32 - len);
#else
  v = (v >> 1 & 0x55555555u) | (v & 0x55555555u) << 1;
  v = (v >> 2 & 0x33333333u) | (v & 0x33333333u) << 2;
  v = (v >> 4 & 0x0f0f0f0fu) | (v & 0x0f0f0f0fu) << 4;
  v = (v >> 8 & 0x00ff00ffu) | (v & 0x00ff00ffu) << 8;
  v = v >> 16 | v << 16;
  return v >> (32 - len);
#endif
}

// The canonical codewords of FORMAT.md §4 (the DEFLATE rule), as MSB-first values in the low
// lengths[s] bits of codes[s]; 0 for symbols without a code. Requires every length ≤
// kMaxCodeLength and the Kraft inequality.
CO3_HD void canonical_codes(const uint8_t* lengths, uint32_t n, uint32_t* codes) {
  uint32_t next[kMaxCodeLength + 1] = {};
  for (uint32_t s = 0; s < n; ++s) ++next[lengths[s]];
  // next[len] turns from the number of codes of length len into the first codeword of that
  // length: each length starts where the previous one ended, shifted one bit longer.
  uint32_t code = 0, count_before = 0;
  for (int len = 1; len <= kMaxCodeLength; ++len) {
    code = (code + count_before) << 1;
    count_before = next[len];
    next[len] = code;
  }
  for (uint32_t s = 0; s < n; ++s) codes[s] = lengths[s] ? next[lengths[s]]++ : 0;
}

// rev_codes[s] = the codeword of symbol s bit-reversed over its length, ready to be OR-ed into
// an LSB-first stream: `bits |= uint64_t{rev_codes[s]} << used; used += lengths[s];`.
CO3_HD void encode_table(const uint8_t* lengths, uint32_t n, uint32_t* rev_codes) {
  canonical_codes(lengths, n, rev_codes);
  for (uint32_t s = 0; s < n; ++s) rev_codes[s] = reverse_bits(rev_codes[s], lengths[s]);
}

CO3_HD size_t package_merge_scratch_bytes(uint32_t n, int max_len) {
  return 8 * detail::package_merge_u64_words(n, max_len) + 8 * size_t{n};
}

// Optimal code lengths no longer than max_len (Larmore–Hirschberg package-merge) for the
// symbols with weight > 0; weight 0 gives length 0 and a single weighted symbol gets length 1.
// With two or more weighted symbols the code is complete (Kraft sum exactly 1).
//
// Returns false, leaving `lengths` unspecified, when max_len is outside 1 … kMaxCodeLength, no
// weight is nonzero, more than 2^max_len weights are nonzero, or the optimal cost
// Σ weight·length reaches 2^64 − 1 (unreachable for symbol counts, where the cost is the payload
// size in bits).
//
// Determinism: leaves are ordered by (weight, symbol index), and where a leaf and a package
// weigh the same the leaf is taken first. Both rules are total, so every platform selects the
// same items and produces identical lengths.
//
// scratch: package_merge_scratch_bytes(n, max_len) bytes, 8-byte aligned.
// Time O(n·max_len).
CO3_HD bool package_merge_lengths(const uint64_t* weights, uint32_t n, int max_len,
                                  uint8_t* lengths, void* scratch) {
  if (max_len < 1 || max_len > kMaxCodeLength) return false;
  const size_t flag_words = detail::package_merge_flag_words(n);
  uint64_t* leaves = static_cast<uint64_t*>(scratch);
  uint64_t* lists[2] = {leaves + n, leaves + 3 * size_t{n}};
  uint64_t* flags = leaves + 5 * size_t{n};  // level l's bits at (l − 1)·flag_words
  uint32_t* order =
      reinterpret_cast<uint32_t*>(leaves + detail::package_merge_u64_words(n, max_len));

  uint32_t m = 0;
  for (uint32_t s = 0; s < n; ++s) {
    lengths[s] = 0;
    if (weights[s]) {
      leaves[m] = weights[s];
      order[m++] = s;
    }
  }
  if (m == 0 || m > (uint64_t{1} << max_len)) return false;
  if (m == 1) {
    lengths[order[0]] = 1;
    return true;
  }
  detail::sort_by_weight(leaves, order, lists[0], order + n, m);

  // Level max_len's list is the leaves. Each shallower level merges the leaves with the packages
  // (consecutive pairs) of the list below, recording which items are leaves. Only the first
  // 2m − 2 items of any list can ever be selected, so longer lists are cut there.
  const size_t cap = 2 * size_t{m} - 2;
  const uint64_t* below = leaves;
  size_t below_size = m;
  for (int level = max_len - 1; level >= 1; --level) {
    uint64_t* list = lists[level & 1];
    uint64_t* bits = flags + (level - 1) * flag_words;
    const size_t packages = below_size / 2;
    const size_t size = cap < m + packages ? cap : m + packages;
    uint64_t package = packages ? detail::add_saturated(below[0], below[1]) : 0;
    size_t leaf = 0, taken_packages = 0;
    uint64_t word = 0;
    for (size_t k = 0; k < size; ++k) {
      if (taken_packages == packages || (leaf < m && leaves[leaf] <= package)) {
        list[k] = leaves[leaf++];
        word |= uint64_t{1} << (k & 63);
      } else {
        list[k] = package;
        if (++taken_packages < packages) {
          const uint64_t* pair = below + 2 * taken_packages;
          package = detail::add_saturated(pair[0], pair[1]);
        }
      }
      if ((k & 63) == 63) {
        bits[k >> 6] = word;
        word = 0;
      }
    }
    if (size & 63) bits[size >> 6] = word;
    below = list;
    below_size = size;
  }

  // The selected items (the first 2m − 2 of level 1) weigh Σ weight·length in total. If that sum
  // stays below the saturation value, every selected item and every item it was built from is
  // exact, and every item that saturated truly outweighs them: the selection is the exact one.
  uint64_t cost = 0;
  for (size_t k = 0; k < cap; ++k) cost = detail::add_saturated(cost, below[k]);
  if (cost == ~uint64_t{0}) return false;

  // Trace the selection down: at each level the selected prefix holds the lightest `leaf_count`
  // leaves, each of which gains one bit of length, and its packages select twice as many items
  // of the level below.
  size_t take = cap;
  for (int level = 1; level <= max_len; ++level) {
    size_t leaf_count = take;
    if (level < max_len) {
      const uint64_t* bits = flags + (level - 1) * flag_words;
      leaf_count = 0;
      for (size_t w = 0; w < take / 64; ++w) leaf_count += detail::popcount64(bits[w]);
      if (take & 63) {
        leaf_count += detail::popcount64(bits[take / 64] & ((uint64_t{1} << (take & 63)) - 1));
      }
    }
    for (size_t i = 0; i < leaf_count; ++i) ++lengths[order[i]];
    take = 2 * (take - leaf_count);
  }
  return true;
}

// A table-driven decoder over device-copyable arrays (see DecodeTable).
struct DecodeTableView {
  // 2^lut_bits entries indexed by the next lut_bits stream bits: symbol << 8 | length for
  // codewords of at most lut_bits bits, 0 where the prefix needs more bits or is invalid.
  const uint32_t* lut = nullptr;
  int lut_bits = 0;  // min(max_len, kDecodeLutBits)
  int max_len = 0;
  // Canonical decoding of longer codewords, per length len (arrays of max_len + 1):
  // limit[len] is one past the last codeword of length len; a codeword c of that length is
  // symbol symbols[c + offset[len]] (u32 arithmetic, wrapping).
  const uint32_t* limit = nullptr;
  const uint32_t* offset = nullptr;
  const uint32_t* symbols = nullptr;  // coded symbols ordered by (length, symbol)
};

// Decodes the codeword at the start of `window` (the next ≥ max_len stream bits, the next bit
// in bit 0). Returns its length and sets *symbol, or returns 0 if the bits are no codeword.
// Near the end of a stream, fill the window with zeros and check that the length fits.
CO3_HD int decode_symbol(const DecodeTableView& t, uint64_t window, uint32_t* symbol) {
  const uint32_t prefix = static_cast<uint32_t>(window) & ((1u << t.lut_bits) - 1);
  const uint32_t entry = t.lut[prefix];
  if (entry & 0xff) {
    *symbol = entry >> 8;
    return static_cast<int>(entry & 0xff);
  }
  // Extend the codeword MSB-first, one bit per length. No shorter codeword matched, so `code` is
  // at least the first codeword of its length, and below the limit exactly when it is one.
  uint32_t code = reverse_bits(prefix, t.lut_bits);
  for (int len = t.lut_bits + 1; len <= t.max_len; ++len) {
    code = code << 1 | static_cast<uint32_t>(window >> (len - 1) & 1);
    if (code < t.limit[len]) {
      *symbol = t.symbols[code + t.offset[len]];
      return len;
    }
  }
  return 0;
}

// ---- Host wrappers (host/codec/huffman.cpp) ----

// The host-side storage of a DecodeTableView.
struct DecodeTable {
  int lut_bits = 0;
  int max_len = 0;
  std::vector<uint32_t> lut, limit, offset, symbols;

  DecodeTableView view() const {
    return {lut.data(), lut_bits, max_len, limit.data(), offset.data(), symbols.data()};
  }
};

// package_merge_lengths with allocation; throws Error(invalid_argument) instead of returning
// false.
std::vector<uint8_t> code_lengths(const std::vector<uint64_t>& weights, int max_len);

// The §4 token body for n code lengths (each ≤ kMaxCodeLength), zero-padded to whole bytes.
std::vector<uint8_t> write_code_lengths(const uint8_t* lengths, uint32_t n);

// Parses and validates a §4 body into n lengths; throws Error(corrupt_packet, "code table: …")
// for any violation. n must be 1 … 65536 and max_len 1 … kMaxCodeLength (invalid_argument).
void read_code_lengths(const uint8_t* body, size_t body_bytes, uint32_t n, int max_len,
                       uint8_t* lengths);

// Builds the decoder for valid lengths (≤ max_len, Kraft ≤ 1, at least one code); throws
// Error(invalid_argument) otherwise.
DecodeTable build_decode_table(const uint8_t* lengths, uint32_t n, int max_len);

}  // namespace co3
