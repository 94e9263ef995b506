// The byte layout of docs/FORMAT.md as host+device code: constants, little-endian loads and
// stores, the segment descriptor, and the sizes from which every offset of a packet follows.
// The CPU codec (host/packet.*) and the kernels (kernels/) both build packets from these, so
// that the two cannot disagree on where a byte goes.
#pragma once

#include <cstdint>
#include <cstring>

#include "co3/detail/hd.h"
#include "co3/float_format.h"

namespace co3::detail {

inline constexpr uint8_t kMagic[4] = {'C', 'O', '3', 'p'};
// Version 1: no flags. Version 2: flags bit 0 (kFlagShapes) adds the shape section (§3a).
// Version 3: flags bit 1 (kFlagNonFinite) set, bit 0 optional: segments may carry a class map
// of their non-finite entries (§6a). Version 4: flags bit 2 (kFlagZeroBlocks) set, bits 0 and 1
// optional: segments may carry a zero-block map (§6b). An encoder writes the lowest version that
// holds what it writes.
inline constexpr uint16_t kVersionPlain = 1;
inline constexpr uint16_t kVersionShapes = 2;
inline constexpr uint16_t kVersionNonFinite = 3;
inline constexpr uint16_t kVersionZeroBlocks = 4;
inline constexpr uint16_t kFlagShapes = 1;
inline constexpr uint16_t kFlagNonFinite = 2;
inline constexpr uint16_t kFlagZeroBlocks = 4;
// §3: a zero-block map's blocks hold 2^b symbols, b = 1 … kMaxZeroBlockLog2 (2 … 64 symbols):
// the bound keeps what a packet byte can decode to near what the payload's one bit a symbol
// allows (a map byte stands for at most 8 · 64 symbols).
inline constexpr uint8_t kMaxZeroBlockLog2 = 6;
inline constexpr uint64_t kMaxDims = 64;
inline constexpr uint64_t kHeaderBytes = 32;
inline constexpr uint64_t kDescriptorBytes = 64;
inline constexpr uint64_t kTableHeaderBytes = 16;
inline constexpr uint64_t kCrcBytes = 4;
inline constexpr uint64_t kMaxElements = uint64_t{1} << 48;
inline constexpr uint32_t kMaxSegments = 1u << 24;
inline constexpr uint16_t kNoTable = 0xFFFF;
inline constexpr uint32_t kMaxTableBody = 65536;

CO3_HD constexpr uint64_t align8(uint64_t x) { return (x + 7) & ~uint64_t{7}; }

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "co3 assumes a little-endian host");

template <class T>
CO3_HD T load_le(const uint8_t* p) {
  T v;
  memcpy(&v, p, sizeof v);
  return v;
}
template <class T>
CO3_HD void store_le(uint8_t* p, T v) {
  memcpy(p, &v, sizeof v);
}

struct Descriptor {
  uint64_t numel = 0, data_offset = 0, payload_words = 0;
  float scale = 1, beta = 0, alpha = 0;
  uint32_t chunk_symbols = 0;
  uint16_t code_table = kNoTable;
  uint8_t dtype = 0, exp_bits = 0, man_bits = 0, layout = 0;
  int16_t bias = 0;
  uint8_t rounding = 0, entries_per_symbol = 1, code_source = 0;
  uint8_t class_map = 0;  // version 3: 1 when the segment carries a class map (§6a)
  uint8_t zero_block = 0;  // version 4: b ≥ 1 when the segment carries a zero-block map (§6b)

  CO3_HD uint64_t num_symbols() const {
    return (numel + entries_per_symbol - 1) / entries_per_symbol;
  }
  CO3_HD uint64_t num_chunks() const { return (num_symbols() + chunk_symbols - 1) / chunk_symbols; }
  // §6b: symbols a block (0 without a map), blocks, and the map's bytes with their padding.
  CO3_HD uint32_t block_symbols() const { return zero_block ? 1u << zero_block : 0u; }
  CO3_HD uint64_t num_blocks() const {
    return zero_block ? (num_symbols() + block_symbols() - 1) / block_symbols() : 0;
  }
  CO3_HD uint64_t zero_map_bytes() const { return ((num_blocks() + 7) / 8 + 7) & ~uint64_t{7}; }
  // Where the zero-block map (§6b) and the payload start: after the chunk table.
  CO3_HD uint64_t zero_map_offset() const { return data_offset + ((2 * num_chunks() + 7) & ~uint64_t{7}); }
  CO3_HD uint64_t payload_offset() const { return zero_map_offset() + zero_map_bytes(); }
  // Where the class map (§6a) starts: after the payload.
  CO3_HD uint64_t map_offset() const { return payload_offset() + ((4 * payload_words + 7) & ~uint64_t{7}); }
  CO3_HD FloatFormat format() const {
    return FloatFormat{exp_bits, man_bits, bias, static_cast<Layout>(layout)};
  }
};

// FORMAT.md §3, reserved bytes zero.
CO3_HD void store_descriptor(uint8_t* p, const Descriptor& d) {
  for (uint64_t i = 0; i < kDescriptorBytes; ++i) p[i] = 0;
  store_le(p + 0, d.numel);
  store_le(p + 8, d.data_offset);
  store_le(p + 16, d.payload_words);
  store_le(p + 24, d.scale);
  store_le(p + 28, d.beta);
  store_le(p + 32, d.alpha);
  store_le(p + 36, d.chunk_symbols);
  store_le(p + 40, d.code_table);
  p[42] = d.dtype;
  p[43] = d.exp_bits;
  p[44] = d.man_bits;
  p[45] = d.layout;
  store_le(p + 46, d.bias);
  p[48] = d.rounding;
  p[49] = d.entries_per_symbol;
  p[50] = d.code_source;
  p[51] = d.class_map;
  p[52] = d.zero_block;
}

CO3_HD Descriptor load_descriptor(const uint8_t* p) {
  Descriptor d;
  d.numel = load_le<uint64_t>(p + 0);
  d.data_offset = load_le<uint64_t>(p + 8);
  d.payload_words = load_le<uint64_t>(p + 16);
  d.scale = load_le<float>(p + 24);
  d.beta = load_le<float>(p + 28);
  d.alpha = load_le<float>(p + 32);
  d.chunk_symbols = load_le<uint32_t>(p + 36);
  d.code_table = load_le<uint16_t>(p + 40);
  d.dtype = p[42];
  d.exp_bits = p[43];
  d.man_bits = p[44];
  d.layout = p[45];
  d.bias = load_le<int16_t>(p + 46);
  d.rounding = p[48];
  d.entries_per_symbol = p[49];
  d.code_source = p[50];
  d.class_map = p[51];
  d.zero_block = p[52];
  return d;
}

// FORMAT.md §2: the version and flags of a packet with or without shapes, class maps and
// zero-block maps.
CO3_HD uint16_t packet_version(bool with_shapes, bool with_class_maps, bool with_zero_maps = false) {
  return with_zero_maps ? kVersionZeroBlocks
                        : with_class_maps ? kVersionNonFinite : (with_shapes ? kVersionShapes : kVersionPlain);
}
CO3_HD uint16_t packet_flags(bool with_shapes, bool with_class_maps, bool with_zero_maps = false) {
  return static_cast<uint16_t>((with_shapes ? kFlagShapes : 0) |
                               (with_class_maps ? kFlagNonFinite : 0) |
                               (with_zero_maps ? kFlagZeroBlocks : 0));
}

// FORMAT.md §2: the 32-byte header (reserved bytes zero).
CO3_HD void store_header(uint8_t* p, bool with_shapes, bool with_class_maps, uint64_t total_bytes,
                         uint32_t num_tables, uint32_t num_segments, bool with_zero_maps = false) {
  for (uint64_t i = 0; i < kHeaderBytes; ++i) p[i] = 0;
  p[0] = 0x43;  // kMagic, spelled out: device code cannot read a host constexpr array
  p[1] = 0x4F;
  p[2] = 0x33;
  p[3] = 0x70;
  store_le(p + 4, packet_version(with_shapes, with_class_maps, with_zero_maps));
  store_le(p + 6, packet_flags(with_shapes, with_class_maps, with_zero_maps));
  store_le(p + 8, total_bytes);
  store_le(p + 16, num_tables);
  store_le(p + 20, num_segments);
}

// Bytes of a segment's class map (§6a): 2 bits per entry, padded to 8; 0 without one.
CO3_HD uint64_t class_map_bytes(uint64_t numel, bool present) {
  return present ? align8((numel + 3) / 4) : 0;
}

// Bytes a segment's data takes (chunk table + zero-block map + payload + class map, each padded
// to 8).
CO3_HD uint64_t segment_data_bytes(uint64_t num_chunks, uint64_t payload_words,
                                   uint64_t map_bytes = 0, uint64_t zero_map_bytes = 0) {
  return align8(2 * num_chunks) + zero_map_bytes + align8(4 * payload_words) + map_bytes;
}

// §6b: bit k of a zero-block map (block k is coded).
CO3_HD bool block_coded(const uint8_t* map, uint64_t k) { return (map[k >> 3] >> (k & 7)) & 1; }

// §6b: how many of blocks [b0, b1) a map codes, 64 map bits at a time where it can: the GPU's
// directory stage counts a whole segment's map in one thread (the payload bound of §9.5).
CO3_HD uint64_t coded_blocks(const uint8_t* map, uint64_t b0, uint64_t b1) {
  uint64_t n = 0, k = b0;
  for (; k < b1 && (k & 63); ++k) n += block_coded(map, k);
  for (; k + 64 <= b1; k += 64)
    n += static_cast<uint64_t>(popcount64(load_le<uint64_t>(map + k / 8)));
  for (; k < b1; ++k) n += block_coded(map, k);
  return n;
}

// §6b: the symbols of blocks [b0, b1) that a map codes, `blocks` and `symbols` the segment's
// (its last block holds blocks · block_symbols − symbols fewer than the others).
CO3_HD uint64_t coded_symbols(const uint8_t* map, uint64_t b0, uint64_t b1, uint32_t block_symbols,
                              uint64_t blocks, uint64_t symbols) {
  uint64_t n = coded_blocks(map, b0, b1) * block_symbols;
  if (b0 < blocks && blocks <= b1 && block_coded(map, blocks - 1))
    n -= blocks * block_symbols - symbols;
  return n;
}

// Bytes a code table takes (header + body, padded to 8).
CO3_HD uint64_t table_bytes(uint64_t body_bytes) { return align8(kTableHeaderBytes + body_bytes); }

}  // namespace co3::detail
