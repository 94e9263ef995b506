// The byte layout of docs/FORMAT.md: constants, descriptor (de)serialisation, and the
// validating parser shared by inspect() and the decoder. Internal to host/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "co3/codec.h"

namespace co3::detail {

inline constexpr uint8_t kMagic[4] = {'C', 'O', '3', 'p'};
// Version 1: no flags. Version 2: flags bit 0 (kFlagShapes) adds the shape section (§3a).
// An encoder writes the lowest version that holds what it writes.
inline constexpr uint16_t kVersionPlain = 1;
inline constexpr uint16_t kVersionShapes = 2;
inline constexpr uint16_t kFlagShapes = 1;
inline constexpr uint64_t kMaxDims = 64;
inline constexpr size_t kHeaderBytes = 32;
inline constexpr size_t kDescriptorBytes = 64;
inline constexpr size_t kTableHeaderBytes = 16;
inline constexpr uint64_t kMaxElements = uint64_t{1} << 48;
inline constexpr uint32_t kMaxSegments = 1u << 24;
inline constexpr uint16_t kNoTable = 0xFFFF;

constexpr uint64_t align8(uint64_t x) { return (x + 7) & ~uint64_t{7}; }

struct Descriptor {
  uint64_t numel = 0, data_offset = 0, payload_words = 0;
  float scale = 1, beta = 0, alpha = 0;
  uint32_t chunk_symbols = 0;
  uint16_t code_table = kNoTable;
  uint8_t dtype = 0, exp_bits = 0, man_bits = 0, layout = 0;
  int16_t bias = 0;
  uint8_t rounding = 0, entries_per_symbol = 1, code_source = 0;

  uint64_t num_symbols() const { return (numel + entries_per_symbol - 1) / entries_per_symbol; }
  uint64_t num_chunks() const { return (num_symbols() + chunk_symbols - 1) / chunk_symbols; }
  FloatFormat format() const {
    return FloatFormat{exp_bits, man_bits, bias, static_cast<Layout>(layout)};
  }
};

void store_descriptor(uint8_t* dst, const Descriptor& d);

// Bytes a segment's data takes (chunk table + payload, each padded to 8).
inline uint64_t segment_data_bytes(uint64_t num_chunks, uint64_t payload_words) {
  return align8(2 * num_chunks) + align8(4 * payload_words);
}

struct ParsedTable {
  int symbol_bits = 0;
  int max_length = 0;
  std::vector<uint8_t> lengths;  // 2^symbol_bits code lengths
};

struct ParsedPacket {
  std::vector<Descriptor> segments;
  bool has_shapes = false;
  std::vector<std::vector<int64_t>> shapes;  // one per segment when has_shapes
  std::vector<ParsedTable> tables;
};

// Bytes of the shape section for these shapes (8 per segment plus 8 per dimension).
inline uint64_t shape_section_bytes(const std::vector<std::vector<int64_t>>& shapes) {
  uint64_t n = 0;
  for (const auto& s : shapes) n += 8 * (1 + s.size());
  return n;
}

// Validates steps 1–5 of FORMAT.md §9 and throws Error(corrupt_packet) naming the field.
ParsedPacket parse_packet(const uint8_t* data, size_t size, int threads);

template <class T>
inline T load_le(const uint8_t* p) {
  T v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}
template <class T>
inline void store_le(uint8_t* p, T v) {
  __builtin_memcpy(p, &v, sizeof v);
}

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "co3 assumes a little-endian host");

}  // namespace co3::detail
