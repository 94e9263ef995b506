// Where an encoder puts each part of a packet (FORMAT.md §1–3a), as host+device code on top of
// packet_layout.h: the coding parameters every segment of a packet shares, the descriptor of a
// segment, a shape record, and the running layout cursor. host/codec/encode_plan.cpp and
// kernels/encode_layout.cu walk the same cursor, so every offset agrees.
#pragma once

#include <cstdint>

#include "co3/config.h"
#include "co3/detail/encode_stats.h"
#include "co3/detail/hd.h"
#include "co3/detail/packet_layout.h"

namespace co3::detail {

// What a CodecConfig fixes for every segment of a packet, resolved (automatic choices made).
struct PacketCoding {
  FloatFormat format;
  Rounding rounding;
  CodeSource code;
  uint32_t chunk_symbols;
  int entries_per_symbol;  // g
  int max_code_length;     // L
  bool propagate;          // NonFinitePolicy::propagate: class maps for non-finite entries
  int zero_block_log2;     // b of CodecConfig::zero_block = 2^b symbols; 0: no zero-block maps

  CO3_HD int symbol_bits() const { return entries_per_symbol * format.width(); }
  CO3_HD uint64_t num_symbols(uint64_t numel) const {
    return (numel + static_cast<uint64_t>(entries_per_symbol) - 1) /
           static_cast<uint64_t>(entries_per_symbol);
  }
  CO3_HD uint64_t num_chunks(uint64_t numel) const {
    return (num_symbols(numel) + chunk_symbols - 1) / chunk_symbols;
  }
};

// Symbols a block of the packet's zero-block maps (FORMAT.md §6b); 0: none.
CO3_HD uint32_t zero_block_symbols(const PacketCoding& pc) {
  return pc.zero_block_log2 ? 1u << pc.zero_block_log2 : 0u;
}

inline PacketCoding packet_coding(const CodecConfig& c) {
  return {c.format,
          c.rounding,
          c.code,
          c.chunk_symbols,
          resolved_entries_per_symbol(c),
          resolved_max_code_length(c),
          c.non_finite == NonFinitePolicy::propagate,
          zero_block_log2(c.zero_block)};
}

// The descriptor of a segment (FORMAT.md §3).
CO3_HD Descriptor segment_descriptor(const PacketCoding& pc, uint64_t numel, DType dtype,
                                     uint16_t table, uint64_t data_offset, uint64_t payload_words,
                                     float scale, double beta, double alpha,
                                     bool class_map = false, uint8_t zero_block = 0) {
  Descriptor d;
  d.numel = numel;
  d.data_offset = data_offset;
  d.payload_words = payload_words;
  d.scale = scale;
  d.beta = fit_field(beta);
  d.alpha = fit_field(alpha);
  d.chunk_symbols = pc.chunk_symbols;
  d.code_table = table;
  d.dtype = static_cast<uint8_t>(dtype);
  d.exp_bits = pc.format.exp_bits;
  d.man_bits = pc.format.man_bits;
  d.layout = static_cast<uint8_t>(pc.format.layout);
  d.bias = pc.format.bias;
  d.rounding = static_cast<uint8_t>(pc.rounding);
  d.entries_per_symbol = static_cast<uint8_t>(pc.entries_per_symbol);
  d.code_source = static_cast<uint8_t>(pc.code);
  d.class_map = class_map ? 1 : 0;
  d.zero_block = zero_block;
  return d;
}

// Does a segment of these moments carry a class map (FORMAT.md §6a)? Under 'propagate', when it
// holds a non-finite u; its error memory is then left as it was.
CO3_HD bool has_class_map(const PacketCoding& pc, uint64_t non_finite) {
  return pc.propagate && non_finite > 0;
}

// Bytes of one shape record (FORMAT.md §3a).
CO3_HD uint64_t shape_record_bytes(uint64_t ndim) {
  return 8 * (1 + ndim);
}

// Writes one shape record: ndim, then the sizes outermost first.
CO3_HD void store_shape_record(uint8_t* p, const int64_t* dims, uint64_t ndim) {
  store_le(p, ndim);
  for (uint64_t k = 0; k < ndim; ++k) store_le(p + 8 + 8 * k, static_cast<uint64_t>(dims[k]));
}

// The byte offsets of a packet, walked in FORMAT.md §1's order: call table() once per code
// table, then segment() once per segment; total() is the packet's size with its CRC.
struct LayoutCursor {
  uint64_t at;

  CO3_HD explicit LayoutCursor(uint64_t num_segments, uint64_t shape_section_bytes)
      : at(kHeaderBytes + kDescriptorBytes * num_segments + shape_section_bytes) {}
  CO3_HD uint64_t table(uint64_t body_bytes) {
    const uint64_t offset = at;
    at += table_bytes(body_bytes);
    return offset;
  }
  CO3_HD uint64_t segment(uint64_t num_chunks, uint64_t payload_words, uint64_t map_bytes = 0,
                          uint64_t zero_map_bytes = 0) {
    const uint64_t offset = at;
    at += segment_data_bytes(num_chunks, payload_words, map_bytes, zero_map_bytes);
    return offset;
  }
  CO3_HD uint64_t total() const { return at + kCrcBytes; }
};

}  // namespace co3::detail
