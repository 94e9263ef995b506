// Hostile packets, built by hand: a small writer made from docs/FORMAT.md alone (independent of
// the encoder) writes a valid one-segment fp4 packet from a Spec; each case breaks one rule, and
// the decoder must refuse it naming the field (`needle`). Used by test_packet (the CPU parser's
// messages, the host+device validator's verdict) and by the GPU decoder's tests (its verdict).
#pragma once

#include <cmath>
#include <cstdint>
#include <algorithm>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "co3/crc32c.h"

namespace co3::testing {

struct Spec {
  uint64_t numel = 5;
  float scale = 0.5f;
  uint32_t chunk = 32;
  uint16_t table = 0;
  uint8_t dtype = 0, E = 2, M = 1, layout = 0, g = 1, symbol_bits = 4, max_len = 2;
  int16_t bias = 1;
  // fp4 codes 0 (+0), 2 (+1.0) and 10 (-1.0) with lengths 1, 2, 2: codewords 0, 10, 11.
  std::vector<uint8_t> lengths = {1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0};
  std::vector<uint16_t> chunk_words = {1};
  // Entries [1, 0, -1, 0, -1]: codewords 10 0 11 0 11, MSB-first into an LSB-first stream.
  std::vector<uint32_t> payload = {0xD9};
  // Version 2 (FORMAT.md §3a): the shape section, as [ndim, sizes...] words.
  bool with_shape = false;
  std::vector<uint64_t> shape_words = {2, 1, 5};      // shape [1, 5]
  // Version 3 (FORMAT.md §6a): the class map's bytes (written padded to 8); empty: none.
  std::vector<uint8_t> class_map;
  std::function<void(std::vector<uint8_t>&)> tamper;  // applied before the CRC
};

template <class T>
inline void put(std::vector<uint8_t>& b, size_t off, T v) {
  std::memcpy(b.data() + off, &v, sizeof v);
}
inline size_t a8(size_t x) {
  return (x + 7) / 8 * 8;
}

inline std::vector<uint8_t> build(const Spec& s) {
  const size_t body = (5 * s.lengths.size() + 7) / 8;  // one 5-bit token per symbol
  const size_t shapes_at = 32 + 64;
  const size_t table_at = shapes_at + (s.with_shape ? 8 * s.shape_words.size() : 0);
  const size_t data_at = table_at + a8(16 + body);
  const size_t map_at = data_at + a8(2 * s.chunk_words.size()) + a8(4 * s.payload.size());
  const size_t total = map_at + a8(s.class_map.size()) + 4;
  const bool v3 = !s.class_map.empty();
  std::vector<uint8_t> b(total, 0);
  std::memcpy(b.data(), "CO3p", 4);
  put<uint16_t>(b, 4, v3 ? 3 : (s.with_shape ? 2 : 1));
  put<uint16_t>(b, 6, (v3 ? 2 : 0) | (s.with_shape ? 1 : 0));
  put<uint64_t>(b, 8, total);
  if (s.with_shape)
    for (size_t k = 0; k < s.shape_words.size(); ++k)
      put<uint64_t>(b, shapes_at + 8 * k, s.shape_words[k]);
  put<uint32_t>(b, 16, 1);
  put<uint32_t>(b, 20, 1);
  const size_t d = 32;
  put<uint64_t>(b, d + 0, s.numel);
  put<uint64_t>(b, d + 8, data_at);
  put<uint64_t>(b, d + 16, s.payload.size());
  put<float>(b, d + 24, s.scale);
  put<float>(b, d + 28, 0.7f);
  put<float>(b, d + 32, 0.9f);
  put<uint32_t>(b, d + 36, s.chunk);
  put<uint16_t>(b, d + 40, s.table);
  b[d + 42] = s.dtype;
  b[d + 43] = s.E;
  b[d + 44] = s.M;
  b[d + 45] = s.layout;
  put<int16_t>(b, d + 46, s.bias);
  b[d + 49] = s.g;
  b[d + 51] = v3 ? 1 : 0;
  b[table_at] = s.symbol_bits;
  b[table_at + 1] = s.max_len;
  put<uint32_t>(b, table_at + 4, static_cast<uint32_t>(body));
  for (size_t i = 0; i < s.lengths.size(); ++i)
    for (int k = 0; k < 5; ++k)
      if ((s.lengths[i] >> k) & 1) b[table_at + 16 + (5 * i + k) / 8] |= 1 << ((5 * i + k) % 8);
  for (size_t k = 0; k < s.chunk_words.size(); ++k)
    put<uint16_t>(b, data_at + 2 * k, s.chunk_words[k]);
  const size_t payload_at = data_at + a8(2 * s.chunk_words.size());
  for (size_t k = 0; k < s.payload.size(); ++k) put<uint32_t>(b, payload_at + 4 * k, s.payload[k]);
  std::copy(s.class_map.begin(), s.class_map.end(), b.begin() + map_at);
  if (s.tamper) s.tamper(b);
  put<uint32_t>(b, b.size() - 4, crc32c(b.data(), b.size() - 4));
  return b;
}

// The same entries two per symbol (g = 2, 8-bit symbols): symbols (1, 0), (-1, 0) and (-1, pad)
// are 0x02, 0x0A, 0x0A with codewords 0, 10; the symbol 0x2A ((-1, 1.0): a nonzero padding
// entry) has the codeword 11. Stream 0 10 10.
inline Spec grouped_spec() {
  Spec s;
  s.g = 2;
  s.symbol_bits = 8;
  s.lengths.assign(256, 0);
  s.lengths[0x02] = 1;
  s.lengths[0x0A] = 2;
  s.lengths[0x2A] = 2;
  s.payload = {0x0A};
  return s;
}

// Version 3: the entries [1, 0, -1, 0, -1] with a class map saying +Inf (entry 1), NaN (3) and
// -Inf (4): they decode to [0.5, +Inf, -0.5, NaN, -Inf] (entry 4's payload code is overridden).
inline Spec class_map_spec() {
  Spec s;
  s.class_map = {0xC4, 0x02};
  return s;
}

struct HostileCase {
  std::string what;    // the rule broken
  std::string needle;  // what the CPU's message must contain
  std::vector<uint8_t> packet;
};

inline std::vector<HostileCase> hostile_cases() {
  std::vector<HostileCase> out;
  const auto add = [&](const std::string& what, const std::string& needle,
                       const std::function<void(Spec&)>& mutate) {
    Spec s;
    mutate(s);
    out.push_back({what, needle, build(s)});
  };
  // Header fields.
  add("magic", "magic", [](Spec& s) { s.tamper = [](auto& b) { b[0] = 'X'; }; });
  add("version 4", "version", [](Spec& s) { s.tamper = [](auto& b) { b[4] = 4; }; });
  add("version 3 without the non-finite flag", "flags",
      [](Spec& s) { s.tamper = [](auto& b) { b[4] = 3; }; });
  add("version 2 without the shapes flag", "flags",
      [](Spec& s) { s.tamper = [](auto& b) { b[4] = 2; }; });
  add("version 1 with a flag", "flags", [](Spec& s) { s.tamper = [](auto& b) { b[6] = 1; }; });
  add("reserved header byte", "reserved", [](Spec& s) { s.tamper = [](auto& b) { b[30] = 1; }; });
  add("two segments claimed, one present", "segment",
      [](Spec& s) { s.tamper = [](auto& b) { b[20] = 2; }; });
  {
    auto longer = build(Spec{});
    longer.push_back(0);
    out.push_back({"a byte past total_bytes", "total_bytes", longer});
    auto flipped = build(Spec{});
    flipped[flipped.size() - 10] ^= 4;
    out.push_back({"a flipped payload bit", "CRC", flipped});
  }
  // Version 2 shapes.
  const auto shape = [&](const std::string& what, const std::string& needle,
                         std::vector<uint64_t> words) {
    add(what, needle, [&](Spec& s) {
      s.with_shape = true;
      s.shape_words = words;
    });
  };
  shape("shape of 10 elements", "shape holds 10 elements, num_elements says 5", {2, 2, 5});
  shape("65 dimensions", "ndim 65 exceeds 64", {65, 5});
  shape("a size past 2^48", "exceeds 2^48", {2, (uint64_t{1} << 48) + 1, 5});
  // Sizes whose product wraps 2^64 must not pass as 5 or 0.
  shape("a product that wraps", "shape holds", {3, uint64_t{1} << 48, uint64_t{1} << 48, 5});
  shape("a zero size", "shape holds 0 elements", {2, 0, 5});
  shape("more dimensions than bytes", "runs past the end", {40, 5});
  add("an unknown flag", "flags", [](Spec& s) {
    s.with_shape = true;
    s.tamper = [](auto& b) { b[6] = 3; };
  });
  // Code tables.
  add("Kraft sum 1.5", "Kraft", [](Spec& s) { s.lengths[4] = 1; });
  add("a length above max_length", "code table", [](Spec& s) { s.lengths[2] = 3; });
  add("32 symbols but 16 tokens", "code table", [](Spec& s) { s.symbol_bits = 5; });
  add("token 27", "code table", [](Spec& s) { s.tamper = [](auto& b) { b[96 + 16] = 27; }; });
  // Descriptor ranges.
  add("dtype 3", "dtype", [](Spec& s) { s.dtype = 3; });
  add("exp_bits 9", "exp_bits", [](Spec& s) { s.E = 9; });
  add("man_bits 11", "man_bits", [](Spec& s) { s.M = 11; });
  add("layout 3", "layout", [](Spec& s) { s.layout = 3; });
  add("entries_per_symbol 5", "entries_per_symbol", [](Spec& s) { s.g = 5; });
  add("chunk_symbols 16", "chunk_symbols", [](Spec& s) { s.chunk = 16; });
  add("scale -1", "scale", [](Spec& s) { s.scale = -1; });
  add("scale Inf", "scale", [](Spec& s) { s.scale = INFINITY; });
  add("code_table 1 of 1", "code_table", [](Spec& s) { s.table = 1; });
  add("bias -200", "bias", [](Spec& s) { s.bias = -200; });
  add("rounding 7", "rounding", [](Spec& s) { s.tamper = [](auto& b) { b[32 + 48] = 7; }; });
  add("reserved descriptor byte", "reserved",
      [](Spec& s) { s.tamper = [](auto& b) { b[32 + 60] = 1; }; });
  add("data_offset + 8", "data_offset",
      [](Spec& s) { s.tamper = [](auto& b) { b[32 + 8] += 8; }; });
  // Element counts and offsets against the payload. Zero padding bits read as the codeword '0',
  // so a count is caught once the stream runs dry (the CRC protects counts against accidents).
  add("31 elements", "run past", [](Spec& s) { s.numel = 31; });
  add("4 elements: a codeword left in the padding", "padding", [](Spec& s) { s.numel = 4; });
  add("2^40 elements: refused before allocating", "needs more payload",
      [](Spec& s) { s.numel = uint64_t{1} << 40; });
  add("2 words in the table, 1 in the payload", "chunk table sums",
      [](Spec& s) { s.chunk_words = {2}; });
  add("a whole unused word", "more words", [](Spec& s) {
    s.payload = {0xD9, 0};
    s.chunk_words = {2};
  });
  add("a set padding bit", "padding", [](Spec& s) { s.payload = {0xD9 | 0x400}; });
  {
    Spec s = grouped_spec();
    s.payload = {0x1A};  // 0 10 11: the last symbol is 0x2A, its padding entry 1.0
    out.push_back({"a padding entry of the last symbol not zero", "padding entries", build(s)});
  }
  // Version 3 class maps.
  add("a class map in a version-1 packet", "class_map 1", [](Spec& s) {
    s = class_map_spec();
    s.tamper = [](auto& b) { b[4] = 1, b[6] = 0; };
  });
  add("class_map 2", "class_map 2", [](Spec& s) {
    s = class_map_spec();
    s.tamper = [](auto& b) { b[32 + 51] = 2; };
  });
  add("a class map announced but absent", "runs past the end", [](Spec& s) {
    s.tamper = [](auto& b) { b[4] = 3, b[6] = 2, b[32 + 51] = 1; };
  });
  add("a class for an entry past the last", "class map bits", [](Spec& s) {
    s = class_map_spec();
    s.class_map[1] |= 1 << 2;  // entry 5 of 5
  });
  add("a nonzero class map padding byte", "class map bits", [](Spec& s) {
    s = class_map_spec();
    s.class_map.resize(8);
    s.class_map[7] = 3;
  });
  add("a class map for a segment without entries", "class_map 1", [](Spec& s) {
    s = class_map_spec();
    s.numel = 0;
    s.table = 0xFFFF;
  });
  add("a stream starting with an invalid codeword", "invalid codeword", [](Spec& s) {
    s.lengths = {1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};  // one codeword, '0'
    s.payload = {0x1};
  });
  return out;
}

}  // namespace co3::testing
