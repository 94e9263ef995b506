// The GPU decoder's per-item work as host+device functions: what one thread (or one lane) of
// each stage does. The kernels (decode_validate.cu, decode_payload.cu) only spread these over
// threads and add the warp and block cooperation (scans, reductions, barriers); the emulation
// test (tests/gpu/test_gpu_decode_emulated.cpp) runs the same functions in loops on the CPU, in
// the kernels' order, so that the stages' bookkeeping is checked where no device exists.
#pragma once

#include <cstdint>

#include "co3/detail/class_map.h"
#include "co3/detail/crc32c_hd.h"
#include "co3/detail/decode_chunk.h"
#include "co3/detail/decode_values.h"
#include "co3/detail/failure_record.h"
#include "co3/detail/validate_packet.h"
#include "decode_layout.h"

namespace co3::kernels::decode_detail {

using detail::load_le;
using detail::make_status;

CO3_HD uint64_t ceil_div(uint64_t a, uint64_t b) {
  return (a + b - 1) / b;
}

// The last index p < count with first(p) ≤ i, for a numbering in packet (or segment) order:
// the one that holds i when i is below the total (empty ones share the next one's first).
template <class First>
CO3_HD uint32_t find_last_at_or_before(uint32_t count, uint64_t i, First first) {
  uint32_t lo = 0, hi = count;
  while (hi - lo > 1) {
    const uint32_t mid = (lo + hi) / 2;
    if (first(mid) <= i) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return lo;
}

CO3_HD uint64_t packet_length(const PacketJob& j) {
  return j.d_bytes ? *j.d_bytes : j.span.capacity;
}

// Bytes [0, length − 4) are checksummed; none when the length is unusable (the directory stage
// reports it).
CO3_HD uint64_t crc_covered(const PacketJob& j) {
  const uint64_t length = packet_length(j);
  return length > j.span.capacity || length < detail::kHeaderBytes + detail::kCrcBytes
             ? 0
             : length - detail::kCrcBytes;
}

// CRC pieces: thread t of piece `local` checksums kCrcPieceBytes / kCrcThreads bytes; a range
// past the covered bytes is empty (CRC 0, size 0).
inline constexpr uint64_t kCrcThreadBytes = kCrcPieceBytes / kCrcThreads;
CO3_HD void crc_thread_range(const PacketJob& job, uint64_t local, uint32_t t,
                             const uint32_t* table, uint32_t* crc, uint64_t* size) {
  const uint64_t covered = crc_covered(job);
  const uint64_t b = local * kCrcPieceBytes + t * kCrcThreadBytes;
  const uint64_t e = b + kCrcThreadBytes < covered ? b + kCrcThreadBytes : covered;
  uint32_t reg = ~0u;
  for (uint64_t i = b; i < e; ++i) reg = (reg >> 8) ^ table[(reg ^ job.data[i]) & 0xFF];
  *crc = e > b ? ~reg : 0u;
  *size = e > b ? e - b : 0;
}

// One step of the piece's tree: (crc, size)[t] ← [t] ‖ [t + w] for t a multiple of 2·w. Empty
// ranges only follow non-empty ones, so an empty right side is skipped and an empty left side
// never meets a non-empty right side.
CO3_HD void crc_tree_step(uint32_t* crc, uint64_t* size, uint32_t t, uint32_t w) {
  if (t % (2 * w) == 0 && size[t + w] != 0) {
    crc[t] = detail::crc32c_combine_hd(crc[t], crc[t + w], size[t + w]);
    size[t] += size[t + w];
  }
}

// The packet's CRC from its pieces: all but the last are kCrcPieceBytes long, so one power of x
// serves every step but the last.
CO3_HD uint32_t packet_crc(const PacketJob& job, const uint32_t* piece_crc, uint64_t covered) {
  const uint64_t pieces = ceil_div(covered, kCrcPieceBytes);
  const uint32_t x_piece = detail::crc32c_x8n(kCrcPieceBytes);
  const uint32_t* c = piece_crc + job.span.crc_first;
  uint32_t crc = pieces ? c[0] : 0u;
  for (uint64_t i = 1; i < pieces; ++i) {
    const uint64_t size = covered - i * kCrcPieceBytes;
    crc = size >= kCrcPieceBytes ? detail::crc32c_multmod(x_piece, crc) ^ c[i]
                                 : detail::crc32c_combine_hd(crc, c[i], size);
  }
  return crc;
}

// Codes whose index is a segment of the packet (reported as the segment's output index).
CO3_HD bool segment_code(Status c) {
  return (c >= Status::shape_past_end && c <= Status::shape_size) ||
         (c >= Status::numel_range && c <= Status::payload_padding);
}

// Packet p, sequentially: header, CRC (from its pieces), the directory walk, a SegmentJob per
// output, a slot per distinct table that segments use, the tile numbering. Leaves ws.packets[p]
// all zero (later stages skip the packet) unless everything passed.
CO3_HD DeviceStatus directory_stage(uint32_t p, const PacketJob* jobs, const OutputJob* outputs,
                                    const Workspace& ws) {
  const PacketJob& job = jobs[p];
  const DecodePlan::PacketSpan& span = job.span;
  PacketState& st = ws.packets[p];
  st = PacketState{};
  const uint64_t length = packet_length(job);
  if (length > span.capacity) return make_status(Status::packet_capacity, p, length);
  // A sender's failure record (FORMAT.md §11) is refused with the sender's own error.
  const DeviceStatus record = detail::load_failure_record(job.data, length);
  if (record.code) return record;
  DeviceStatus s = detail::check_header(job.data, length, p);
  if (s.code) return s;
  const uint64_t covered = length - detail::kCrcBytes;
  if (load_le<uint32_t>(job.data + covered) != packet_crc(job, ws.crc, covered))
    return make_status(Status::crc_mismatch, p);

  const uint32_t num_tables = load_le<uint32_t>(job.data + 16);
  for (uint64_t t = 0; t < num_tables && t < span.table_cap; ++t)
    ws.table_slot[span.table_first + t] = -1;
  DeviceStatus fault{};  // the first fault of the caller's side, reported after the packet's
  uint32_t tiles = 0, slots = 0;
  uint64_t pool = 0;
  s = detail::walk_directory(
      job.data, length, ws.table_offset + span.table_first, static_cast<uint32_t>(span.table_cap),
      p, [&](uint32_t seg, const detail::SegmentLayout& L) {
        if (seg >= span.num_outputs) return;  // a count mismatch, reported below
        const uint32_t o = span.first_output + seg;
        const detail::Descriptor& d = L.d;
        if (!fault.code && outputs[o].numel != d.numel)
          fault = make_status(Status::output_numel, o, d.numel);
        if (!fault.code && d.numel && !outputs[o].data) fault = make_status(Status::output_null, o);
        SegmentJob j{};
        j.numel = d.numel;
        j.data_offset = d.data_offset;
        j.payload_words = d.payload_words;
        j.scale = d.scale;
        j.chunk_symbols = d.chunk_symbols;
        j.bias = d.bias;
        j.exp_bits = d.exp_bits;
        j.man_bits = d.man_bits;
        j.layout = d.layout;
        j.group = d.entries_per_symbol;
        j.symbol_bits = static_cast<uint8_t>(d.entries_per_symbol * (1 + d.exp_bits + d.man_bits));
        j.max_len = static_cast<uint8_t>(L.max_length);
        j.max_words = L.max_words;
        j.map_offset = L.map_offset;
        j.zero_map_offset = d.zero_map_offset();
        j.payload_offset = d.payload_offset();
        j.zero_block = d.zero_block;
        j.packet = p;
        j.tile_begin = tiles;
        j.tiles = static_cast<uint32_t>(ceil_div(d.num_chunks(), kTileChunks));
        // The plan's bounds hold for every packet the walk accepts; checked all the same, so
        // that no record is ever written outside its packet's span.
        if (uint64_t{tiles} + j.tiles >= span.tile_cap) {
          if (!fault.code) fault = make_status(Status::payload_too_small, o, d.payload_words);
          j.tiles = 0;
        }
        tiles += j.tiles;
        j.slot = 0;
        if (d.numel) {
          int32_t& slot = ws.table_slot[span.table_first + d.code_table];
          const uint8_t* h = job.data + L.table_offset;
          // A table codes ≤ 2^symbol_bits symbols, each with a 5-bit token of its body.
          const uint64_t body = load_le<uint32_t>(h + 4);
          const uint64_t alphabet = uint64_t{1} << h[0];
          const uint64_t need = alphabet < 8 * body / 5 ? alphabet : 8 * body / 5;
          if (slot < 0 && slots < span.slot_cap && pool + need <= span.pool_cap) {
            slot = static_cast<int32_t>(span.slot_first + slots++);
            SlotJob& k = ws.slots[slot];
            k.table_offset = L.table_offset;
            k.pool_offset = span.pool_first + pool;
            k.packet = p;
            k.max_len = L.max_length;
            k.symbol_bits = h[0];
            pool += need;
          }
          if (slot < 0) {
            if (!fault.code) fault = make_status(Status::payload_too_small, o, d.payload_words);
          } else {
            j.slot = static_cast<uint32_t>(slot);
          }
        }
        ws.segments[o] = j;
      });
  if (s.code) {
    if (segment_code(static_cast<Status>(s.code))) s.segment += span.first_output;
    return s;
  }
  const uint32_t num_segments = load_le<uint32_t>(job.data + 20);
  if (num_segments != span.num_outputs) return make_status(Status::output_count, p, num_segments);
  if (fault.code) return fault;
  st.num_tables = num_tables;
  st.num_segments = num_segments;
  st.num_slots = slots;
  st.tiles = tiles;
  return make_status(Status::ok);
}

// Sequential over the packets: the batch-wide numbering of tables, slots and tiles.
CO3_HD void prefix_stage(uint32_t packets, const Workspace& ws) {
  BatchTotals t{};
  for (uint32_t p = 0; p < packets; ++p) {
    PacketState& st = ws.packets[p];
    st.table_begin = t.tables;
    st.slot_begin = t.slots;
    st.tile_begin = t.tiles;
    t.tables += st.num_tables;
    t.slots += st.num_slots;
    t.tiles += st.tiles;
  }
  *ws.totals = t;
}

// Table i of the batch (i < totals.tables): its token stream (§9.4); for a table that segments
// use, its canonical structure and its symbols in (length, symbol) order, from a second read.
CO3_HD DeviceStatus table_stage(uint64_t i, const PacketJob* jobs, uint32_t packets,
                                const Workspace& ws) {
  const uint32_t p =
      find_last_at_or_before(packets, i, [&](uint32_t q) { return ws.packets[q].table_begin; });
  const uint64_t t = i - ws.packets[p].table_begin;
  const uint64_t record = jobs[p].span.table_first + t;
  const uint8_t* h = jobs[p].data + ws.table_offset[record];
  const uint32_t body = load_le<uint32_t>(h + 4);
  const uint32_t alphabet = 1u << h[0];
  uint32_t count[kMaxCodeLength + 1] = {};
  uint64_t detail = 0;
  const Status c = detail::read_code_tokens(h + detail::kTableHeaderBytes, body, alphabet, h[1],
                                            count, &detail, [](uint32_t, int) {});
  if (c != Status::ok) return make_status(c, t, detail);
  if (ws.table_slot[record] < 0) return make_status(Status::ok);
  SlotJob& k = ws.slots[ws.table_slot[record]];
  detail::canonical_bases(count, h[1], k.limit, k.offset, k.first);
  uint32_t next[kMaxCodeLength + 1];
  for (int len = 0; len <= kMaxCodeLength; ++len) next[len] = k.first[len];
  uint16_t* symbols = ws.pool + k.pool_offset;
  // The first read passed, so this one visits the same ≤ need symbols (directory_stage).
  uint32_t again[kMaxCodeLength + 1] = {};
  detail::read_code_tokens(
      h + detail::kTableHeaderBytes, body, alphabet, h[1], again, &detail,
      [&](uint32_t sym, int len) { symbols[next[len]++] = static_cast<uint16_t>(sym); });
  return make_status(Status::ok);
}

// Slot i of the batch (i < totals.slots) and the canonical view of its table.
CO3_HD SlotJob& slot_at(uint64_t i, const PacketJob* jobs, uint32_t packets, const Workspace& ws) {
  const uint32_t p =
      find_last_at_or_before(packets, i, [&](uint32_t q) { return ws.packets[q].slot_begin; });
  return ws.slots[jobs[p].span.slot_first + (i - ws.packets[p].slot_begin)];
}
CO3_HD detail::CanonicalView canonical_view(const SlotJob& k, const Workspace& ws) {
  return {k.limit, k.offset, ws.pool + k.pool_offset, k.max_len, k.symbol_bits};
}

// Tile i of the batch (i < totals.tiles): kTileChunks chunks of one segment.
struct TileView {
  uint32_t packet;
  uint32_t output;       // the segment's output index
  uint64_t tile;         // in its packet
  uint64_t array;        // its index in the workspace's tile arrays
  uint64_t first_chunk;  // its first chunk in the segment
  uint64_t chunks;       // the segment's chunks
  uint64_t symbols;      // the segment's symbols
  const uint8_t* chunk_table;
  const uint8_t* payload;
  const uint8_t* zero_map;  // §6b; read only when the segment has one (seg.zero_block)
};

CO3_HD TileView tile_at(uint64_t i, const PacketJob* jobs, uint32_t packets, const Workspace& ws) {
  TileView v;
  v.packet =
      find_last_at_or_before(packets, i, [&](uint32_t q) { return ws.packets[q].tile_begin; });
  const PacketJob& job = jobs[v.packet];
  const PacketState& st = ws.packets[v.packet];
  v.tile = i - st.tile_begin;
  v.array = job.span.tile_first + v.tile;
  const uint32_t first = job.span.first_output;
  v.output = first + find_last_at_or_before(st.num_segments, v.tile, [&](uint32_t s) {
               return uint64_t{ws.segments[first + s].tile_begin};
             });
  const SegmentJob& seg = ws.segments[v.output];
  v.symbols = ceil_div(seg.numel, seg.group);
  v.chunks = ceil_div(v.symbols, seg.chunk_symbols);
  v.first_chunk = (v.tile - seg.tile_begin) * kTileChunks;
  v.chunk_table = job.data + seg.data_offset;
  v.payload = job.data + seg.payload_offset;
  v.zero_map = job.data + seg.zero_map_offset;
  return v;
}

// The segment's blocks (§6b; 0 without a zero-block map).
CO3_HD uint64_t block_count(const TileView& v, const SegmentJob& seg) {
  return seg.zero_block ? ceil_div(v.symbols, uint64_t{1} << seg.zero_block) : 0;
}

// Lane `lane`'s chunk table entry (0 past the segment's chunks) and its check (§9.5): 1 … max
// words, or 0 exactly where a zero-block map leaves the chunk without a coded block.
CO3_HD uint32_t chunk_entry(const TileView& v, const Workspace& ws, uint32_t lane,
                            DeviceStatus* fault) {
  const uint64_t k = v.first_chunk + lane;
  *fault = make_status(Status::ok);
  if (k >= v.chunks) return 0;
  const SegmentJob& seg = ws.segments[v.output];
  const uint32_t words = load_le<uint16_t>(v.chunk_table + 2 * k);
  const bool coded = detail::chunk_codes_symbols(v.zero_map, seg.zero_block, seg.chunk_symbols,
                                                 block_count(v, seg), k);
  if (!detail::chunk_words_ok(words, seg.max_words, coded))
    *fault = make_status(Status::chunk_size, v.output, k);
  return words;
}

// Segment s of packet p after the tile prefixes: its chunk table's sum against payload_words.
CO3_HD DeviceStatus segment_sum_stage(uint32_t p, uint32_t s, const PacketJob* jobs,
                                      const Workspace& ws) {
  const DecodePlan::PacketSpan& span = jobs[p].span;
  const uint32_t o = span.first_output + s;
  const SegmentJob& seg = ws.segments[o];
  const uint64_t* prefix = ws.tile_prefix + span.tile_first;
  const uint64_t sum = prefix[seg.tile_begin + seg.tiles] - prefix[seg.tile_begin];
  return sum != seg.payload_words ? make_status(Status::chunk_sum, o, sum)
                                  : make_status(Status::ok);
}

// ---- The payload (§6, §7, §9.6) ----

// Lane `lane`'s chunk: its first payload word (`before`: the words of the tile's earlier
// chunks) and its number of symbols (0 past the segment's chunks). With a zero-block map (§6b)
// the count is every symbol position of the chunk, coded or not: decode_lane_run gives the
// left-out ones as symbol 0, so that the write-out below places runs as without a map.
CO3_HD const uint8_t* chunk_words_at(const TileView& v, const Workspace& ws, uint32_t before) {
  const uint64_t* prefix = ws.tile_prefix + (v.array - v.tile);
  const uint64_t segment_first_tile = ws.segments[v.output].tile_begin;
  return v.payload + 4 * (prefix[v.tile] - prefix[segment_first_tile] + before);
}
CO3_HD uint32_t chunk_symbol_count(const TileView& v, const SegmentJob& seg, uint32_t lane) {
  const uint64_t k = v.first_chunk + lane;
  if (k >= v.chunks) return 0;
  const uint64_t left = v.symbols - k * seg.chunk_symbols;
  return static_cast<uint32_t>(left < seg.chunk_symbols ? left : seg.chunk_symbols);
}

// Lane t's chunk stream before its first symbol: its words, and the bits of the segment's last
// symbol that must be zero (§6; with a zero-block map, only where the last block is coded).
CO3_HD detail::ChunkStream chunk_stream(const TileView& v, const SegmentJob& seg, uint32_t t,
                                        uint32_t words) {
  detail::ChunkStream cs;
  cs.words = words;
  const int w = 1 + seg.exp_bits + seg.man_bits;
  cs.padding_mask = detail::coded_padding_mask(
      detail::padding_entry_mask(v.first_chunk + t, v.chunks, seg.numel, seg.group, w),
      v.zero_map, seg.zero_block, block_count(v, seg));
  return cs;
}

// Lane t's run of a round: its chunk's next `take` symbol positions from `done`, each emitted
// (emit(j, symbol), j < take) at its position in the run; decode_span decodes the coded ones and
// gives those of left-out blocks (§6b) as 0.
template <class Load, class Emit>
CO3_HD Status decode_lane_run(detail::ChunkStream& cs, const detail::ChunkTables& tables,
                              const TileView& v, const SegmentJob& seg, uint32_t t, uint32_t done,
                              uint32_t take, Load&& load, Emit&& emit) {
  const uint64_t first = (v.first_chunk + t) * seg.chunk_symbols + done;
  return detail::decode_span(cs, tables, v.zero_map, seg.zero_block, first, take, load, emit);
}

CO3_HD detail::ChunkTables chunk_tables(const uint64_t* lut, const uint32_t* limit,
                                        const uint32_t* offset, const SegmentJob& seg,
                                        const Workspace& ws) {
  return {lut,
          {limit, offset, ws.pool + ws.slots[seg.slot].pool_offset, seg.max_len, seg.symbol_bits}};
}

// The bits stored for an entry code: the output dtype's (FORMAT.md §7), or float32's when
// accumulating (decode_values.h adds and rounds).
CO3_HD uint32_t value_bits(const SegmentJob& seg, const OutputJob& out, uint32_t code) {
  const FloatFormat f{seg.exp_bits, seg.man_bits, seg.bias, static_cast<Layout>(seg.layout)};
  return out.accumulate ? detail::f32_bits(detail::entry_value(f, seg.scale, code))
                        : detail::entry_bits(f, seg.scale, code, static_cast<DType>(out.dtype));
}

// Writes entry i from value_bits.
CO3_HD void put_entry(const OutputJob& out, uint64_t i, uint32_t bits) {
  const DType d = static_cast<DType>(out.dtype);
  if (d == DType::f32) {
    uint32_t* o = static_cast<uint32_t*>(out.data) + i;
    *o = out.accumulate ? detail::accumulate_bits(*o, detail::bits_f32(bits), d) : bits;
  } else {
    uint16_t* o = static_cast<uint16_t*>(out.data) + i;
    *o = static_cast<uint16_t>(
        out.accumulate ? detail::accumulate_bits(*o, detail::bits_f32(bits), d) : bits);
  }
}

// The first entry of lane t's run of a round that starts `done` symbols into its chunk, and the
// code of the run's e-th entry from its staged symbols (FORMAT.md §6: entry t of a symbol is
// bits [w·t, w·(t + 1))).
CO3_HD uint64_t run_first_entry(const TileView& v, const SegmentJob& seg, uint32_t t,
                                uint64_t done) {
  return ((v.first_chunk + t) * seg.chunk_symbols + done) * seg.group;
}
// e / g by a multiplication: with inv = ceil(2^16 / g) the quotient is exact for g ≤ 4 and
// e < 2^14 (a run has ≤ kRoundSymbols · 4 entries), and the per-entry loop has no division.
CO3_HD uint32_t group_inverse(uint32_t g) {
  return (65536 + g - 1) / g;
}
CO3_HD uint32_t run_entry_code(const uint32_t* staged, uint32_t e, uint32_t g, uint32_t inv,
                               int w) {
  const uint32_t q = (e * inv) >> 16;
  return (staged[q] >> (w * (e - q * g))) & ((1u << w) - 1);
}

// ---- Class maps (§6a), after the payload ----

// Word w of output o's class map (o's segment has one; w < class_map_words): its entries that
// are not finite stored, or added, as the payload's entries are.
CO3_HD void class_map_word_stage(const PacketJob* jobs, const OutputJob* outputs,
                                 const Workspace& ws, uint32_t o, uint64_t w) {
  const SegmentJob& seg = ws.segments[o];
  const OutputJob& out = outputs[o];
  const uint8_t* map = jobs[seg.packet].data + seg.map_offset;
  detail::apply_class_word(load_le<uint32_t>(map + 4 * w), w, [&](uint64_t i, float v) {
    put_entry(out, i,
              out.accumulate ? detail::f32_bits(v) : store_bits(v, static_cast<DType>(out.dtype)));
  });
}
CO3_HD uint64_t class_map_word_count(const SegmentJob& seg) {
  return seg.map_offset ? detail::class_map_words(detail::class_map_bytes(seg.numel, true)) : 0;
}

#if defined(__CUDACC__)
// First fault wins: later ones are dropped (every stage reads `code` before it trusts anything).
__device__ inline void post_status(DeviceStatus* s, DeviceStatus v) {
  if (v.code && atomicCAS(&s->code, 0u, v.code) == 0u) {
    s->segment = v.segment;
    s->detail = v.detail;
  }
}
__device__ inline bool failed(const DeviceStatus* s) {
  return *static_cast<const volatile uint32_t*>(&s->code) != 0;
}
#endif

}  // namespace co3::kernels::decode_detail
