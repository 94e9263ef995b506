// The device status word: how a kernel reports an error without a host round trip.
//
// Kernels never throw and never stop the stream: the first failing check writes a code, the
// segment (or table, or packet) it concerns and one number of detail into a DeviceStatus in
// device memory, and later stages skip their work once a code is set. The caller turns the word
// into the co3::Error the CPU codec would raise with a synchronous call (the decoder's is
// co3::kernels::raise_status_sync, status_sync.h). Plain C++: the CPU tests run the
// host+device validators that produce these codes.
#pragma once

#include <cstdint>

#include "co3/error.h"

namespace co3::kernels {

// Every failure a GPU stage can report, in the order of docs/FORMAT.md §9 for the packet checks.
// `segment` says which packet, table or segment the code concerns (see each group): a packet
// index in the batch, a table index in its packet, or a segment's output index in the batch
// (its segment index when the batch holds one packet). `detail` carries the offending value
// where one helps the message.
enum class Status : uint32_t {
  ok = 0,
  // §9.1, packet header (segment = packet index in the batch)
  short_packet = 1,  // detail: the length
  bad_magic,
  bad_version,    // detail: the version
  bad_flags,      // detail: the flags
  size_mismatch,  // total_bytes ≠ length; detail: total_bytes
  header_reserved,
  // §9.2
  crc_mismatch,
  // §9.3, counts and directory (segment = packet, or the segment whose shape record is at fault)
  too_many_tables,    // detail: num_tables
  too_many_segments,  // detail: num_segments
  descriptors_past_end,
  shape_past_end,
  shape_ndim,  // detail: ndim
  shape_size,  // detail: the size
  // §9.3/§9.4, code tables (segment = table index)
  table_header_past_end,
  table_symbol_bits,
  table_max_length,
  table_reserved,
  table_body_bytes,
  table_body_past_end,
  table_padding,
  table_body_ends,           // the tokens stop before the alphabet is covered; detail: symbol
  table_run_past_alphabet,   // detail: symbol
  table_invalid_token,       // detail: token
  table_length_exceeds_max,  // detail: length
  table_bits_after_last,     // detail: bits left
  table_nonzero_padding,
  table_no_code,
  table_kraft,
  // §9.5, segments (segment = output index)
  numel_range,  // detail: num_elements
  scale_range,
  beta_range,
  alpha_range,
  chunk_symbols_range,  // detail: chunk_symbols
  dtype_range,          // detail: dtype
  exp_bits_range,
  man_bits_range,
  width_range,
  layout_range,       // detail: layout
  format_no_value,    // the format has no nonzero finite value
  format_bias_low,    // subnormals below float32's range
  format_bias_high,   // largest value beyond float32's range
  rounding_range,     // detail: rounding
  group_range,        // entries_per_symbol; detail: the value
  code_source_range,  // detail: code_source
  descriptor_reserved,
  table_presence,     // code_table is 0xFFFF not exactly when num_elements is 0
  class_map_flag,     // class_map not 0 or 1, set before version 3 or without entries; detail: it
  shape_product,      // detail: the product
  code_table_index,   // detail: code_table
  code_table_width,   // the table's symbol_bits ≠ entries_per_symbol·width
  data_offset,        // detail: data_offset
  payload_too_small,  // detail: payload_words
  data_past_end,
  chunk_size,  // detail: chunk index
  chunk_sum,   // detail: the sum
  chunk_table_padding,
  class_map_padding,  // the class map's bits past the last entry or its padding bytes not zero
  payload_padding,
  unexplained_bytes,  // segment = packet; detail: bytes left
  // §9.6, chunks (segment = output index, detail = chunk index)
  invalid_codeword,
  run_past_words,
  extra_words,
  padding_bits,
  padding_entries,  // entries past n in the segment's last symbol are not code 0
  // The caller's side of the batch (segment = packet or output index)
  output_count,     // the packet's num_segments ≠ its outputs; detail: num_segments
  output_numel,     // an output's numel ≠ its segment's; detail: the segment's numel
  output_null,      // a segment with entries but no output pointer
  packet_capacity,  // the packet's length exceeds its buffer; detail: the length
  // §9.5, zero-block maps (version 4; segment = output index). Numbered after the rest so
  // that the earlier codes keep their values.
  zero_block_range,  // zero_block not 0, or 1 … 6 in a version-4 packet for a segment with entries
                     // whose chunk_symbols its blocks divide; detail: it
  zero_map_padding,  // the zero-block map's bits past the last block or its padding not zero

  // The encoder's findings, which the CPU codec throws as it finds them.
  // segment: the first tensor (in batch order) with NaN/Inf under the 'error' policy;
  // detail: how many of its entries are not finite (Errc::non_finite).
  non_finite = 1000,
  // segment: the code table; detail: symbols with a nonzero count (low 32 bits) and the length
  // limit (bits 32–39): more symbols occur than codes of that length can tell apart.
  code_too_many_symbols = 1001,
  // segment: the code table; Σ weight·length reaches 2^64 − 1.
  code_weights_too_large = 1002,
};

struct DeviceStatus {
  uint32_t code;     // a Status, 0 = ok
  uint32_t segment;  // see Status
  uint64_t detail;
};

// The error the CPU codec raises for the same fault: corrupt_packet for §9, invalid_argument
// for the caller's side, with a message naming the field (host/codec/decode_validate.cpp).
Error status_error(const DeviceStatus& s);

// Throws status_error(s) unless s is ok.
inline void raise_status(const DeviceStatus& s) {
  if (s.code != static_cast<uint32_t>(Status::ok)) throw status_error(s);
}

// raise_status_sync(d_status, stream), the one call of the device pipelines that synchronizes,
// is declared in co3/kernels/status_sync.h (it needs the CUDA runtime's types).


}  // namespace co3::kernels
