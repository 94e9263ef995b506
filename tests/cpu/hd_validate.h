// The whole of docs/FORMAT.md §9 through the host+device pieces alone (detail/validate_packet.h,
// decode_table.h, decode_chunk.h), composed the way the GPU composes them: header, CRC,
// directory, token streams (building each table from its tokens), chunk tables, then every
// chunk's payload. Tests compare its verdict with parse_packet + decode on the same bytes.
#pragma once

#include <cstdint>
#include <vector>

#include "co3/crc32c.h"
#include "co3/detail/decode_chunk.h"
#include "co3/detail/validate_packet.h"

namespace co3::testing {

inline kernels::DeviceStatus validate_hd(const uint8_t* data, uint64_t size) {
  using namespace co3::detail;
  using kernels::Status;
  if (size < kHeaderBytes + kCrcBytes) return make_status(Status::short_packet, 0, size);
  DeviceStatus st = check_header(data, size, 0);
  if (st.code) return st;
  if (load_le<uint32_t>(data + size - 4) != crc32c(data, size - 4))
    return make_status(Status::crc_mismatch);
  const uint64_t cap = max_tables_in(size) < 65535 ? max_tables_in(size) : 65535;
  std::vector<uint64_t> table_offsets(cap);
  std::vector<SegmentLayout> segments;
  st = walk_directory(data, size, table_offsets.data(), static_cast<uint32_t>(cap), 0,
                      [&](uint32_t, const SegmentLayout& L) { segments.push_back(L); });
  if (st.code) return st;
  // Token streams: count and check, then place the symbols as the GPU's build does.
  const uint32_t num_tables = load_le<uint32_t>(data + 16);
  struct Built {
    uint32_t limit[kMaxCodeLength + 1], offset[kMaxCodeLength + 1], first[kMaxCodeLength + 1];
    std::vector<uint16_t> symbols;
    std::vector<uint64_t> lut;
  };
  std::vector<Built> built(num_tables);
  for (uint32_t t = 0; t < num_tables; ++t) {
    const uint8_t* h = data + table_offsets[t];
    uint32_t count[kMaxCodeLength + 1] = {};
    uint64_t detail = 0;
    const uint32_t body = load_le<uint32_t>(h + 4);
    const Status c = read_code_tokens(h + kTableHeaderBytes, body, 1u << h[0], h[1], count, &detail,
                                      [](uint32_t, int) {});
    if (c != Status::ok) return make_status(c, t, detail);
    Built& b = built[t];
    canonical_bases(count, h[1], b.limit, b.offset, b.first);
    uint32_t coded = 0;
    for (int len = 1; len <= kMaxCodeLength; ++len) coded += count[len];
    b.symbols.resize(coded);
    uint32_t next[kMaxCodeLength + 1];
    for (int len = 0; len <= kMaxCodeLength; ++len) next[len] = b.first[len];
    uint32_t scratch[kMaxCodeLength + 1] = {};
    read_code_tokens(
        h + kTableHeaderBytes, body, 1u << h[0], h[1], scratch, &detail,
        [&](uint32_t s, int len) { b.symbols[next[len]++] = static_cast<uint16_t>(s); });
    const CanonicalView view{b.limit, b.offset, b.symbols.data(), h[1], h[0]};
    b.lut.resize(kLutSize);
    for (uint32_t p = 0; p < kLutSize; ++p) b.lut[p] = lut_entry(view, p);
  }
  // Chunk tables, then payloads.
  for (uint32_t s = 0; s < segments.size(); ++s) {
    const SegmentLayout& L = segments[s];
    const uint8_t* table = data + L.d.data_offset;
    const uint8_t* zmap = data + L.d.zero_map_offset();
    uint64_t sum = 0;
    for (uint64_t k = 0; k < L.d.num_chunks(); ++k) {
      const uint16_t w = load_le<uint16_t>(table + 2 * k);
      if (!chunk_words_ok(w, L.max_words, chunk_codes_symbols(L.d, zmap, k)))
        return make_status(Status::chunk_size, s, k);
      sum += w;
    }
    if (sum != L.d.payload_words) return make_status(Status::chunk_sum, s, sum);
  }
  for (uint32_t s = 0; s < segments.size(); ++s) {
    const SegmentLayout& L = segments[s];
    if (!L.d.numel) continue;
    const Built& b = built[L.d.code_table];
    const ChunkTables tables{
        b.lut.data(), {b.limit, b.offset, b.symbols.data(), L.max_length, data[L.table_offset]}};
    const uint8_t* table = data + L.d.data_offset;
    const uint8_t* words = data + L.d.payload_offset();
    const uint8_t* zmap = data + L.d.zero_map_offset();
    const uint64_t nsym = L.d.num_symbols();
    for (uint64_t k = 0; k < L.d.num_chunks(); ++k) {
      ChunkStream cs;
      cs.words = load_le<uint16_t>(table + 2 * k);
      cs.padding_mask = coded_padding_mask(
          padding_entry_mask(k, L.d.num_chunks(), L.d.numel, L.d.entries_per_symbol,
                             1 + L.d.exp_bits + L.d.man_bits),
          zmap, L.d.zero_block, L.d.num_blocks());
      // Every symbol position, a zero-block map's left-out blocks (§6b) given as 0, as the GPU.
      const uint64_t begin = k * L.d.chunk_symbols;
      const uint64_t count = nsym - begin < L.d.chunk_symbols ? nsym - begin : L.d.chunk_symbols;
      Status c = decode_span(
          cs, tables, zmap, L.d.zero_block, begin, static_cast<uint32_t>(count),
          [&](uint32_t i) { return load_le<uint32_t>(words + 4 * uint64_t{i}); },
          [](uint32_t, uint32_t) {});
      if (c == Status::ok) c = finish_chunk(cs);
      if (c != Status::ok) return make_status(c, s, k);
      words += 4 * uint64_t{cs.words};
    }
  }
  return make_status(Status::ok);
}

}  // namespace co3::testing
