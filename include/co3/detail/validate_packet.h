// The packet checks of docs/FORMAT.md §9 as host+device code that returns a status instead of
// throwing: the only copy of them. The GPU decoder (kernels/decode_validate.cu) and the CPU
// parser (host/codec/decode_validate.cpp's parse_packet) both call these, and one table there
// (packet_error; kernels::status_error for the GPU) turns a status into its message, reading
// the packet's bytes again, where it has them, for the values the message names.
//
// The checks are split where the GPU spreads them over threads: the header (§9.1), the
// directory walk (§9.3, table headers, §9.5 without the chunk table entries: one thread per
// packet), each table's token stream (§9.4: one thread per table, decode_table.h), each chunk
// table entry and the per-segment sums (§9.5), each chunk's payload (§9.6, decode_chunk.h).
// The CPU runs them in one pass (the tables' token streams and the chunk tables through
// walk_directory's hooks); only the order in which independent checks run differs between the
// two, so a packet is accepted or refused alike (which fault is named first may differ when a
// packet has several). No check reads outside [data, data + size).
#pragma once

#include <cstdint>

#include "co3/detail/class_map.h"
#include "co3/detail/hd.h"
#include "co3/detail/packet_layout.h"
#include "co3/huffman.h"
#include "co3/kernels/status.h"

namespace co3::detail {

using kernels::DeviceStatus;
using kernels::Status;

CO3_HD DeviceStatus make_status(Status c, uint64_t index = 0, uint64_t detail = 0) {
  return DeviceStatus{static_cast<uint32_t>(c), static_cast<uint32_t>(index), detail};
}

CO3_HD bool bytes_zero(const uint8_t* p, uint64_t n) {
  for (uint64_t i = 0; i < n; ++i)
    if (p[i]) return false;
  return true;
}

CO3_HD bool finite_f32(float x) {
  return (f32_bits(x) & 0x7f800000u) != 0x7f800000u;
}

// §2: version 1 has no flags, version 2 exactly SHAPES, version 3 NON_FINITE and maybe SHAPES,
// version 4 ZERO_BLOCKS and maybe the other two.
CO3_HD bool flags_valid(uint16_t version, uint16_t flags) {
  if (version == kVersionZeroBlocks)
    return (flags & kFlagZeroBlocks) && !(flags & ~(kFlagZeroBlocks | kFlagNonFinite | kFlagShapes));
  if (version == kVersionNonFinite)
    return flags == kFlagNonFinite || flags == (kFlagNonFinite | kFlagShapes);
  return version == kVersionShapes ? flags == kFlagShapes : flags == 0;
}

// §3: class_map is 0, or (version 3, or 4 with NON_FINITE) 1 for a segment with entries.
CO3_HD bool class_map_flag_valid(const Descriptor& d, bool maps_allowed) {
  return d.class_map == 0 || (maps_allowed && d.class_map == 1 && d.numel > 0);
}

// §3: zero_block is 0, or (version 4) 1 … 6 for a segment with entries whose blocks divide its
// chunks (so that no block straddles two chunks).
CO3_HD bool zero_block_valid(const Descriptor& d, bool zero_maps_allowed) {
  return d.zero_block == 0 ||
         (zero_maps_allowed && d.zero_block <= kMaxZeroBlockLog2 && d.numel > 0 &&
          d.chunk_symbols % (1u << d.zero_block) == 0);
}

// Which flags of the header at `data` allow class maps (§6a) and zero-block maps (§6b).
CO3_HD bool class_maps_allowed(const uint8_t* data) {
  return (load_le<uint16_t>(data + 6) & kFlagNonFinite) != 0;
}
CO3_HD bool zero_maps_allowed(const uint8_t* data) {
  return (load_le<uint16_t>(data + 6) & kFlagZeroBlocks) != 0;
}

// §9.1 on a buffer of `size` bytes (`packet` names it in the status). A decoder that cannot
// decode zero-block maps passes zero_maps = false: version 4 is then refused as an unsupported
// version, before anything else is read (every co3 decoder reads them now).
CO3_HD DeviceStatus check_header(const uint8_t* data, uint64_t size, uint32_t packet = 0,
                                 bool zero_maps = true) {
  if (size < kHeaderBytes + kCrcBytes) return make_status(Status::short_packet, packet, size);
  if (data[0] != 0x43 || data[1] != 0x4F || data[2] != 0x33 || data[3] != 0x70)
    return make_status(Status::bad_magic, packet);
  const uint16_t version = load_le<uint16_t>(data + 4);
  if (version != kVersionPlain && version != kVersionShapes && version != kVersionNonFinite &&
      !(zero_maps && version == kVersionZeroBlocks))
    return make_status(Status::bad_version, packet, version);
  const uint16_t flags = load_le<uint16_t>(data + 6);
  if (!flags_valid(version, flags)) return make_status(Status::bad_flags, packet, flags);
  const uint64_t total = load_le<uint64_t>(data + 8);
  if (total != size) return make_status(Status::size_mismatch, packet, total);
  if (!bytes_zero(data + 24, 8)) return make_status(Status::header_reserved, packet);
  return make_status(Status::ok);
}

// §3 fields that can be checked alone, in check_descriptor's order; `raw` is the descriptor,
// maps_allowed and zero_maps say the header's flags allow class maps and zero-block maps.
CO3_HD Status check_descriptor_hd(const Descriptor& d, const uint8_t* raw, bool maps_allowed,
                                  uint64_t* detail, bool zero_maps = false) {
  *detail = 0;
  if (d.numel > kMaxElements) {
    *detail = d.numel;
    return Status::numel_range;
  }
  if (!finite_f32(d.scale) || !(d.scale > 0)) return Status::scale_range;
  if (!finite_f32(d.beta) || !(d.beta >= 0)) return Status::beta_range;
  if (!finite_f32(d.alpha) || !(d.alpha >= 0)) return Status::alpha_range;
  *detail = d.chunk_symbols;
  if (d.chunk_symbols < 32 || d.chunk_symbols > 65536) return Status::chunk_symbols_range;
  *detail = d.dtype;
  if (d.dtype > 2) return Status::dtype_range;
  *detail = d.exp_bits;
  if (d.exp_bits < 1 || d.exp_bits > 8) return Status::exp_bits_range;
  *detail = d.man_bits;
  if (d.man_bits > 10) return Status::man_bits_range;
  const int w = 1 + d.exp_bits + d.man_bits;
  *detail = static_cast<uint64_t>(w);
  if (w > 16) return Status::width_range;
  *detail = d.layout;
  if (d.layout > 2) return Status::layout_range;
  // validate(FloatFormat)'s range rule (host/codec/config.cpp).
  const FloatFormat f = d.format();
  *detail = static_cast<uint64_t>(static_cast<int64_t>(d.bias));
  if (f.max_code() < 1) return Status::format_no_value;
  if (f.emin() - f.man_bits < -149) return Status::format_bias_low;
  const uint32_t top = f.max_code() >> f.man_bits;
  const int top_exp = top == 0 ? f.emin() - 1 : static_cast<int>(top) - 1 + f.emin();
  if (top_exp > 127) return Status::format_bias_high;
  *detail = d.rounding;
  if (d.rounding > 2) return Status::rounding_range;
  *detail = d.entries_per_symbol;
  if (d.entries_per_symbol < 1 || d.entries_per_symbol > 4 || d.entries_per_symbol * w > 16)
    return Status::group_range;
  *detail = d.code_source;
  if (d.code_source > 3) return Status::code_source_range;
  *detail = 0;
  if (!bytes_zero(raw + 53, 11)) return Status::descriptor_reserved;
  if ((d.numel == 0) != (d.code_table == kNoTable)) return Status::table_presence;
  *detail = d.class_map;
  if (!class_map_flag_valid(d, maps_allowed)) return Status::class_map_flag;
  *detail = d.zero_block;
  if (!zero_block_valid(d, zero_maps)) return Status::zero_block_range;
  *detail = 0;
  return Status::ok;
}

// What the directory walk learns about a segment that later stages need.
struct SegmentLayout {
  Descriptor d;
  uint64_t table_offset;  // the code table's header (when d.numel > 0)
  int max_length;         // its max_length (0 when d.numel = 0)
  uint32_t max_words;     // the most words a chunk may have: ceil(C · max_length / 32)
  uint64_t map_offset;    // the class map (§6a); 0 when the segment has none
  uint64_t map_bytes;
  uint64_t zero_map_bytes;  // the zero-block map (§6b), padding included; 0 without one
};

// Each table takes at least align8(16 + 1) bytes, so a buffer of `size` bytes holds at most
// size / 24 of them: the capacity walk_directory's table_offsets needs.
CO3_HD uint64_t max_tables_in(uint64_t size) {
  return size / 24;
}

// walk_directory's default hooks: nothing (the GPU reads the token streams and the chunk table
// entries in stages of their own, a thread per table or per entry).
struct NoTableHook {
  CO3_HD void operator()(uint32_t, uint64_t) const {}
};
struct NoChunkTableHook {
  CO3_HD DeviceStatus operator()(uint32_t, const SegmentLayout&) const {
    return make_status(Status::ok);
  }
};

// §9.3 and §9.5 (and §9.4's table headers) for a packet whose header and CRC passed.
// table_offsets: at least min(max_tables_in(size), 65535) entries of scratch. For each table
// on_table(t, offset) is called as soon as its header passed (the CPU reads its token stream
// there, so that a bad table is named before anything after it); for each segment
// on_chunk_table(s, layout) is called once its data lies inside the packet, before its padding
// is checked (the CPU checks the entries there: a wrong payload_words is named as such rather
// than as the padding it displaces), and a fault it returns ends the walk; visit(s, layout) is
// called in order, after the segment's checks passed. The chunk table entries, their sum
// (check_chunk_table) and the token streams (read_code_tokens) are otherwise left to the
// caller, and so is comparing num_segments with what the caller expects.
template <class OnTable, class OnChunkTable, class Visit>
CO3_HD DeviceStatus walk_directory(const uint8_t* data, uint64_t size, uint64_t* table_offsets,
                                   uint32_t table_capacity, uint32_t packet, OnTable&& on_table,
                                   OnChunkTable&& on_chunk_table, Visit&& visit) {
  const uint64_t end = size - kCrcBytes;
  const uint32_t num_tables = load_le<uint32_t>(data + 16);
  const uint32_t num_segments = load_le<uint32_t>(data + 20);
  if (num_tables > 65535) return make_status(Status::too_many_tables, packet, num_tables);
  if (num_segments > kMaxSegments)
    return make_status(Status::too_many_segments, packet, num_segments);
  uint64_t cursor = kHeaderBytes + kDescriptorBytes * uint64_t{num_segments};
  if (cursor > end) return make_status(Status::descriptors_past_end, packet);
  const bool shapes = (load_le<uint16_t>(data + 6) & kFlagShapes) != 0;
  const bool maps_allowed = class_maps_allowed(data);
  const bool zero_maps = zero_maps_allowed(data);
  const uint64_t shapes_at = cursor;
  if (shapes) {
    for (uint32_t s = 0; s < num_segments; ++s) {
      if (cursor + 8 > end) return make_status(Status::shape_past_end, s);
      const uint64_t ndim = load_le<uint64_t>(data + cursor);
      if (ndim > kMaxDims) return make_status(Status::shape_ndim, s, ndim);
      if (cursor + 8 + 8 * ndim > end) return make_status(Status::shape_past_end, s);
      for (uint64_t k = 0; k < ndim; ++k) {
        const uint64_t size_k = load_le<uint64_t>(data + cursor + 8 + 8 * k);
        if (size_k > kMaxElements) return make_status(Status::shape_size, s, size_k);
      }
      cursor += 8 + 8 * ndim;
    }
  }
  for (uint32_t t = 0; t < num_tables; ++t) {
    if (cursor + kTableHeaderBytes > end || t >= table_capacity)
      return make_status(Status::table_header_past_end, t);
    const uint8_t* h = data + cursor;
    const uint32_t body = load_le<uint32_t>(h + 4);
    if (h[0] < 1 || h[0] > 16) return make_status(Status::table_symbol_bits, t, h[0]);
    if (h[1] < 1 || h[1] > kMaxCodeLength) return make_status(Status::table_max_length, t, h[1]);
    if (!bytes_zero(h + 2, 2) || !bytes_zero(h + 8, 8))
      return make_status(Status::table_reserved, t);
    if (body < 1 || body > kMaxTableBody) return make_status(Status::table_body_bytes, t, body);
    const uint64_t next = cursor + table_bytes(body);
    if (next > end) return make_status(Status::table_body_past_end, t);
    if (!bytes_zero(h + kTableHeaderBytes + body, next - cursor - kTableHeaderBytes - body))
      return make_status(Status::table_padding, t);
    table_offsets[t] = cursor;
    on_table(t, cursor);
    cursor = next;
  }
  uint64_t shape_cursor = shapes_at;
  for (uint32_t s = 0; s < num_segments; ++s) {
    const uint8_t* raw = data + kHeaderBytes + kDescriptorBytes * s;
    SegmentLayout L;
    L.d = load_descriptor(raw);
    const Descriptor& d = L.d;
    uint64_t detail;
    const Status c = check_descriptor_hd(d, raw, maps_allowed, &detail, zero_maps);
    if (c != Status::ok) return make_status(c, s, detail);
    if (shapes) {
      // The product, saturated just past 2^48 so that it cannot wrap; a zero size makes it 0.
      const uint64_t ndim = load_le<uint64_t>(data + shape_cursor);
      uint64_t product = 1;
      bool zero = false;
      for (uint64_t k = 0; k < ndim; ++k) {
        const uint64_t n = load_le<uint64_t>(data + shape_cursor + 8 + 8 * k);
        zero = zero || n == 0;
        if (n) product = product > kMaxElements / n ? kMaxElements + 1 : product * n;
      }
      if (zero) product = 0;
      if (product != d.numel) return make_status(Status::shape_product, s, product);
      shape_cursor += 8 + 8 * ndim;
    }
    const int symbol_bits = d.entries_per_symbol * (1 + d.exp_bits + d.man_bits);
    L.table_offset = 0;
    L.max_length = 0;
    if (d.numel) {
      if (d.code_table >= num_tables) return make_status(Status::code_table_index, s, d.code_table);
      L.table_offset = table_offsets[d.code_table];
      if (data[L.table_offset] != symbol_bits) return make_status(Status::code_table_width, s);
      L.max_length = data[L.table_offset + 1];
    }
    L.max_words = static_cast<uint32_t>((uint64_t{d.chunk_symbols} * L.max_length + 31) / 32);
    if (d.data_offset != cursor) return make_status(Status::data_offset, s, d.data_offset);
    const uint64_t chunks = d.num_chunks();
    L.zero_map_bytes = d.zero_map_bytes();
    if (!d.zero_block) {
      // Every chunk has at least one word and every symbol at least one bit.
      if (!(d.payload_words <= end / 4 && chunks <= d.payload_words &&
            d.num_symbols() <= 32 * d.payload_words))
        return make_status(Status::payload_too_small, s, d.payload_words);
    } else {
      // §6b: the chunk table and the map first (a map takes at most 2^44 bytes, a chunk table
      // 2^44: no overflow), then every coded symbol at least one bit.
      if (!(d.payload_words <= end / 4 && chunks <= end / 2 && L.zero_map_bytes <= end &&
            cursor + align8(2 * chunks) + L.zero_map_bytes <= end))
        return make_status(Status::data_past_end, s);
      const uint8_t* zmap = data + cursor + align8(2 * chunks);
      const uint64_t blocks = d.num_blocks();
      if (!bytes_zero(zmap + (blocks + 7) / 8, L.zero_map_bytes - (blocks + 7) / 8) ||
          ((blocks & 7) && (zmap[blocks / 8] >> (blocks & 7))))
        return make_status(Status::zero_map_padding, s);
      if (coded_symbols(zmap, 0, blocks, d.block_symbols(), blocks, d.num_symbols()) > 32 * d.payload_words)
        return make_status(Status::payload_too_small, s, d.payload_words);
    }
    L.map_bytes = class_map_bytes(d.numel, d.class_map != 0);
    // A map takes (numel + 3) / 4 ≤ 2^46 bytes: no overflow; the buffer bounds it below.
    if (L.map_bytes > end) return make_status(Status::data_past_end, s);
    const uint64_t next =
        cursor + segment_data_bytes(chunks, d.payload_words, L.map_bytes, L.zero_map_bytes);
    if (next > end) return make_status(Status::data_past_end, s);
    L.map_offset = d.class_map ? next - L.map_bytes : 0;
    const DeviceStatus chunk_table = on_chunk_table(s, L);
    if (chunk_table.code) return chunk_table;
    if (!bytes_zero(data + cursor + 2 * chunks, align8(2 * chunks) - 2 * chunks))
      return make_status(Status::chunk_table_padding, s);
    const uint64_t payload_end = cursor + align8(2 * chunks) + L.zero_map_bytes + 4 * d.payload_words;
    if (!bytes_zero(data + payload_end, next - L.map_bytes - payload_end))
      return make_status(Status::payload_padding, s);
    if (d.class_map && !class_map_padding_zero(data + L.map_offset, d.numel, L.map_bytes))
      return make_status(Status::class_map_padding, s);
    visit(s, L);
    cursor = next;
  }
  if (cursor != end) return make_status(Status::unexplained_bytes, packet, end - cursor);
  return make_status(Status::ok);
}

template <class Visit>
CO3_HD DeviceStatus walk_directory(const uint8_t* data, uint64_t size, uint64_t* table_offsets,
                                   uint32_t table_capacity, uint32_t packet, Visit&& visit) {
  return walk_directory(data, size, table_offsets, table_capacity, packet, NoTableHook{},
                        NoChunkTableHook{}, visit);
}

// One chunk table entry (§9.5): 1 … max_words words; with a zero-block map (§6b), 0 exactly
// when the chunk codes no symbol.
CO3_HD bool chunk_words_ok(uint32_t words, uint32_t max_words, bool coded = true) {
  return coded ? words >= 1 && words <= max_words : words == 0;
}

// Whether chunk k of a segment codes a symbol: always, or with a zero-block map (§6b) when one
// of its blocks is coded. The map lies at `zmap` (the walk checked it is inside the packet).
// The GPU, which keeps no Descriptor past its directory stage, passes the fields themselves.
CO3_HD bool chunk_codes_symbols(const uint8_t* zmap, int zero_block, uint32_t chunk_symbols,
                                uint64_t blocks, uint64_t k) {
  if (!zero_block) return true;
  const uint64_t per = chunk_symbols >> zero_block, b0 = k * per;
  return coded_blocks(zmap, b0, b0 + per < blocks ? b0 + per : blocks) != 0;
}
CO3_HD bool chunk_codes_symbols(const Descriptor& d, const uint8_t* zmap, uint64_t k) {
  return chunk_codes_symbols(zmap, d.zero_block, d.chunk_symbols, d.num_blocks(), k);
}

// §9.5's chunk table of segment s, which walk_directory accepted (so it lies inside the
// packet): every entry, in order, then their sum against payload_words. The GPU checks the
// same entries one thread each (kernels/decode_validate.cu).
CO3_HD DeviceStatus check_chunk_table(const uint8_t* data, uint32_t s, const SegmentLayout& L) {
  const uint8_t* table = data + L.d.data_offset;
  const uint64_t chunks = L.d.num_chunks();
  uint64_t sum = 0;
  const uint8_t* zmap = data + L.d.zero_map_offset();
  for (uint64_t k = 0; k < chunks; ++k) {
    const uint16_t words = load_le<uint16_t>(table + 2 * k);
    if (!chunk_words_ok(words, L.max_words, chunk_codes_symbols(L.d, zmap, k)))
      return make_status(Status::chunk_size, s, k);
    sum += words;
  }
  if (sum != L.d.payload_words) return make_status(Status::chunk_sum, s, sum);
  return make_status(Status::ok);
}

}  // namespace co3::detail
