// A code table's decoder on the CPU (docs/FORMAT.md §4): the structures of detail/decode_table.h
// built exactly as the GPU builds them, plus the bulk path's second-level tables
// (detail/decode_bulk.h).
#pragma once

#include <cstdint>
#include <vector>

#include "co3/detail/decode_bulk.h"
#include "co3/detail/decode_short.h"
#include "co3/detail/decode_wide.h"
#include "co3/huffman.h"
#include "packet.h"

namespace co3::detail {

struct TableDecoder {
  uint32_t limit[kMaxCodeLength + 1], offset[kMaxCodeLength + 1], first[kMaxCodeLength + 1];
  std::vector<uint16_t> symbols;
  std::vector<uint64_t> lut;       // lut_entry's, for decode_run (as on the GPU)
  std::vector<uint64_t> bulk_lut;  // the bulk path's (BulkTables)
  std::vector<uint32_t> sub;
  bool sub_refused = false;  // long codewords, but sub tables too sparse to build: canonical path
  std::vector<uint32_t> short_lut;  // decode_short.h's, for the 8-bit tables that take it
  std::vector<uint64_t> wide_first;  // decode_wide.h's, for the 16-bit tables that take it
  std::vector<uint32_t> wide_second;
  int max_len = 0, symbol_bits = 0;
  ChunkTables tables() const {
    return {lut.data(), {limit, offset, symbols.data(), max_len, symbol_bits}};
  }
  BulkTables bulk() const {
    return {bulk_lut.data(), sub.data(), tables().canonical,
            short_lut.empty() ? nullptr : short_lut.data(),
            wide_first.empty() ? nullptr : wide_first.data(), wide_second.data()};
  }
};

// The decoder of a validated table (lengths within max_length, Kraft ≤ 1, one code at least).
void build_table(const ParsedTable& t, TableDecoder& out);

// decode_wide.h's tables for a 16-bit table built by build_table (which builds them itself
// where that path pays); false, tables unusable, where the sub tables were refused.
bool build_wide_tables(TableDecoder& out);

}  // namespace co3::detail
