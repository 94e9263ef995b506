// The byte layout of docs/FORMAT.md: constants, descriptor (de)serialisation, and the
// validating parser shared by inspect() and the decoder. Internal to host/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "co3/codec.h"
#include "co3/detail/packet_layout.h"
#include "co3/error.h"
#include "co3/kernels/status.h"

namespace co3::detail {

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

// The error for a status of validate_packet.h (or any kernels::Status), worded as the CPU
// parser words it; `data` (may be null) is the packet it was found in, read (bounds-checked)
// for the values the message names. kernels::status_error is this without the bytes.
Error packet_error(const kernels::DeviceStatus& st, const uint8_t* data, size_t size);

}  // namespace co3::detail
