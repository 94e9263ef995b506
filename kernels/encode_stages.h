// Internal to kernels/: what one thread of each encoder kernel computes, as host+device
// functions over EncodeParams. The kernels (kernels/encode_*.cu) call these between their
// barriers, with CUB for the block reductions and scans and atomics for the shared words and
// bins; tests/gpu/test_gpu_encode_emulated.cpp calls the same functions in loops on the CPU, in
// the kernels' order, so the bookkeeping (segments, offsets, layout, padding, CRC) is checked
// against the CPU codec without a device. Each function states the invariant its kernel keeps.
#pragma once

#include <cstdint>
#include <type_traits>

#include "co3/detail/class_map.h"
#include "co3/detail/crc32c_hd.h"
#include "co3/detail/encode_bits.h"
#include "co3/detail/encode_code.h"
#include "co3/detail/encode_entry.h"
#include "co3/detail/encode_layout.h"
#include "co3/detail/encode_stats.h"
#include "co3/detail/failure_record.h"
#include "co3/detail/zero_blocks.h"
#include "co3/gennorm.h"
#include "co3/huffman.h"
#include "encode_plan.h"

namespace co3::kernels::enc {

// ---- Pass 1: moments ----

CO3_HD uint32_t segment_of_tile(const EncodeParams& p, uint64_t t) {
  return detail::find_segment(p.num_segments, t, [&](uint32_t k) { return p.jobs[k].first_tile; });
}

// Lane `lane` of tile t: entries lane, lane + 256, … of the tile added in order, exactly lane
// `lane` of tile_moments() (moments.h). The kernel then merges lane l + h into lane l for
// h = 128, …, 1 (tile_moments' halving fold) and stores lane 0 as tile_moments[t].
CO3_HD Moments tile_lane(const EncodeParams& p, uint64_t t, uint32_t lane) {
  const SegmentJob& job = p.jobs[segment_of_tile(p, t)];
  const uint64_t first = (t - job.first_tile) * kTileEntries;
  const uint64_t count = job.numel - first < kTileEntries ? job.numel - first : kTileEntries;
  Moments m;
  for (uint64_t i = lane; i < count; i += kTileLanes) {
    const uint64_t e = first + i;
    m.add(detail::feedback_input(load_entry(job.grad, job.dtype, e), job.memory, job.gamma, e));
  }
  return m;
}

// A segment's tiles are folded level by level (fold_level_item) from one of tile_moments and
// fold_buffer into the other: after `levels` levels, *from holds the current level and *to
// receives the next.
CO3_HD void fold_buffers(const EncodeParams& p, uint32_t s, uint32_t levels, Moments** from,
                         Moments** to) {
  Moments* a = p.tile_moments + p.jobs[s].first_tile;
  Moments* b = p.fold_buffer + p.jobs[s].first_tile;
  *from = levels % 2 ? b : a;
  *to = levels % 2 ? a : b;
}

// Thread 0 of segment s's block, once its tiles are folded to `total`: the fit and the scale,
// as host/codec/encode_plan.cpp computes them.
CO3_HD void finish_segment(const EncodeParams& p, uint32_t s, const Moments& total) {
  const SegmentJob& job = p.jobs[s];
  const GenNormFit fit = detail::segment_fit(total, job.has_fit, job.fit_beta, job.fit_alpha);
  SegmentResult& r = p.seg[s];
  r.moments = total;
  r.beta = fit.beta;
  r.alpha = fit.alpha;
  r.scale = detail::choose_scale(
      p.scale_policy, p.scale_value, p.pc.format, total.max_abs, fit.beta, fit.alpha,
      [&](double beta) { return lookup_optimal_t(p.scale_table, beta); },
      detail::RateTarget{p.pc.rounding, p.pc.entries_per_symbol, p.rate_payload_bits,
                         detail::zero_block_symbols(p.pc)});
}

// Does segment s stop the CPU codec (NaN/Inf under the 'error' policy)? The first such segment
// in batch order is first_bad; report_first_bad writes it and the status.
CO3_HD bool refuses(const EncodeParams& p, uint32_t s) {
  return p.non_finite == NonFinitePolicy::error && p.seg[s].moments.non_finite != 0;
}
CO3_HD void report_first_bad(const EncodeParams& p, uint32_t first, DeviceStatus* status) {
  *p.first_bad = first;
  if (first < p.num_segments) {
    status->code = static_cast<uint32_t>(Status::non_finite);
    status->segment = first;
    status->detail = p.seg[first].moments.non_finite;
  }
}

// ---- Pass 2: conversion, error memory, symbols ----

// Symbol tile b: its segment's job and scale in locals (registers on the device: the error
// memory stores cannot alias them), and which of its symbols it holds.
struct SymbolTile {
  SegmentJob job;
  float scale;
  float* memory;    // the error memory pass 2 writes (null: none)
  float* deferred;  // the error memory the memory pass writes (null: none)
  uint64_t begin, end;  // symbols of the segment
};
// An encode that fails leaves every memory as it was: a refused segment (first_bad) fails it
// before pass 2, so then no memory is written; a code built from the data can fail after pass 2
// (p.defer_memory), so then pass 2 writes none and the memory pass, once the status is known,
// writes it.
CO3_HD SymbolTile symbol_tile(const EncodeParams& p, uint64_t b, uint32_t first_bad) {
  const uint32_t s =
      detail::find_segment(p.num_segments, b, [&](uint32_t k) { return p.jobs[k].first_symtile; });
  const SegmentJob job = p.jobs[s];
  const uint64_t begin = (b - job.first_symtile) * kSymbolTile;
  const uint64_t end =
      job.num_symbols - begin < kSymbolTile ? job.num_symbols : begin + kSymbolTile;
  // A segment with a class map keeps its memory as it was too (a step a loss scaler skips).
  float* const writable =
      first_bad < p.num_segments || detail::has_class_map(p.pc, p.seg[s].moments.non_finite)
          ? nullptr
          : job.memory;
  return {job,  p.seg[s].scale, p.defer_memory ? nullptr : writable,
          p.defer_memory ? writable : nullptr, begin, end};
}

// Symbol j of a segment: its entries converted by exactly host/codec/encode_plan.cpp's calls, each
// entry's new error memory written into `memory` unless it is null. Entry i's memory is read
// (in u) and then written by this call only. value_of(code) is code_value(format, code, scale):
// computed, or read from a table of it (the kernel's shared-memory table for formats of ≤ 8 bits).
// Formats whose normal range starts in float32's (fp4, e4m3, e5m2, fp16, bf16: shift_format)
// under a deterministic rounding take code_shift.h's rounding of the bits, as the CPU encoder
// does: the same codes as quantize_entry's encode_float, without its branches (a condition
// uniform over the kernel).
template <class ValueOf>
CO3_HD uint32_t convert_symbol(const EncodeParams& p, const SegmentJob& job, float scale,
                               float* memory, uint64_t j, ValueOf value_of) {
  const FloatFormat f = p.pc.format;
  const bool shift = detail::shift_format(f) && detail::threshold_rounding(p.pc.rounding);
  const detail::ShiftView sv = detail::shift_view(f, p.pc.rounding);
  return detail::encode_symbol(j, p.pc.entries_per_symbol, f.width(), job.numel, [&](uint64_t i) {
    const float u =
        detail::feedback_input(load_entry(job.grad, job.dtype, i), job.memory, job.gamma, i);
    const detail::EntryCode c =
        shift ? detail::quantize_entry_shift(u, scale, sv, p.pc.propagate, value_of)
              : detail::quantize_entry(u, i, scale, f, p.pc.rounding, p.seed, p.pc.propagate,
                                       value_of);
    if (memory) memory[i] = c.memory();
    return c.code;
  });
}

// Pass 2 for symbol j of the tile's segment: converted, the memory written as symbol_tile says,
// the symbol stored.
template <class ValueOf>
CO3_HD uint32_t quantize_symbol(const EncodeParams& p, const SymbolTile& tile, uint64_t j,
                                ValueOf value_of) {
  const SegmentJob& job = tile.job;
  const uint32_t sym = convert_symbol(p, job, tile.scale, tile.memory, j, value_of);
  with_symbols(p, [&](auto* out) {
    out[job.first_symbol + j] = static_cast<std::remove_reference_t<decltype(*out)>>(sym);
  });
  return sym;
}

// The memory pass (p.defer_memory, after the layout and only when the status is ok): symbol j
// converted again, as pass 2 converted it, to write its entries' error memory.
template <class ValueOf>
CO3_HD void memory_symbol(const EncodeParams& p, const SymbolTile& tile, uint64_t j,
                          ValueOf value_of) {
  if (tile.deferred) convert_symbol(p, tile.job, tile.scale, tile.deferred, j, value_of);
}

CO3_HD unsigned long long* hist_row(const EncodeParams& p, uint32_t table) {
  return p.hist + uint64_t{table} * p.alphabet;
}

// ---- Zero-block maps (FORMAT.md §6b), after pass 2 ----

// b of the zero-block map segment s takes, 0 for none. SegmentResult::zero_block is written
// (choose_zero_map) only when the packet's config asks for maps.
CO3_HD uint8_t zero_block_of(const EncodeParams& p, uint32_t s) {
  return p.pc.zero_block_log2 ? p.seg[s].zero_block : uint8_t{0};
}
// Segment s's map in the workspace, or null when it takes none.
CO3_HD const uint8_t* zero_map_of(const EncodeParams& p, uint32_t s) {
  return zero_block_of(p, s) ? p.zero_maps + p.jobs[s].first_map_byte : nullptr;
}
CO3_HD uint64_t zero_map_blocks(const EncodeParams& p, const SegmentJob& job) {
  return (job.num_symbols + detail::zero_block_symbols(p.pc) - 1) >> p.pc.zero_block_log2;
}
CO3_HD uint32_t segment_of_map_byte(const EncodeParams& p, uint64_t i) {
  return detail::find_segment(p.num_segments, i,
                              [&](uint32_t k) { return p.jobs[k].first_map_byte; });
}

// Byte i of the maps' workspace (every segment's map, padding included): zero_map_byte of its
// segment's symbols, as apply_zero_blocks computes it. Bytes are independent: one a thread.
CO3_HD void zero_map_stage_byte(const EncodeParams& p, uint64_t i) {
  const SegmentJob& job = p.jobs[segment_of_map_byte(p, i)];
  with_symbols(p, [&](const auto* all) {
    p.zero_maps[i] = detail::zero_map_byte(all + job.first_symbol, job.num_symbols,
                                           p.pc.zero_block_log2, i - job.first_map_byte);
  });
}

// Thread `lane` of `lanes` of segment s's block, its map complete: the symbols of the coded
// blocks of its run of the map (runs of whole 64-block words: coded_blocks' fast path). The
// block's sum is the segment's coded symbols (integers, any order).
CO3_HD uint64_t zero_lane_coded(const EncodeParams& p, uint32_t s, uint32_t lane,
                                uint32_t lanes) {
  const SegmentJob& job = p.jobs[s];
  if (!job.num_map_bytes) return 0;
  const uint64_t blocks = zero_map_blocks(p, job);
  const uint64_t per = ((blocks + lanes - 1) / lanes + 63) & ~uint64_t{63};
  const uint64_t b0 = lane * per < blocks ? lane * per : blocks;
  const uint64_t b1 = b0 + per < blocks ? b0 + per : blocks;
  return detail::coded_symbols(p.zero_maps + job.first_map_byte, b0, b1,
                               detail::zero_block_symbols(p.pc), blocks, job.num_symbols);
}

// Thread 0 of segment s's block, `coded` its coded symbols: whether the segment takes its map
// (apply_zero_blocks' choice: zero_map_saves), recorded for the later stages. Returns what its
// table's count of symbol 0 gains (zero_map_hist0_change, modulo 2^64; 0 when it takes none),
// which the kernel adds to the histogram before the code is built (atomically: the segments of
// a shared table are other blocks).
CO3_HD uint64_t choose_zero_map(const EncodeParams& p, uint32_t s, uint64_t coded) {
  const SegmentJob& job = p.jobs[s];
  const bool take =
      job.num_map_bytes && detail::zero_map_saves(job.num_symbols, coded, zero_map_blocks(p, job));
  p.seg[s].zero_block = take ? static_cast<uint8_t>(p.pc.zero_block_log2) : uint8_t{0};
  return take ? detail::zero_map_hist0_change(job.num_symbols, coded) : 0;
}

// ---- Code tables ----

// The slot (scratch) of the block building tables; block b builds tables b, b + code_slots, ….
struct CodeSlot {
  unsigned long long* weights;
  double* mix;
  double* pmf;
  void* scratch;
};
CO3_HD CodeSlot code_slot(const EncodeParams& p, uint32_t slot) {
  return {p.slot_weights + uint64_t{slot} * p.alphabet, p.slot_mix + uint64_t{slot} * p.alphabet,
          p.slot_pmf + (uint64_t{slot} << p.pc.format.width()),
          p.slot_scratch + slot * p.pm_scratch_bytes};
}

// Thread 0, member k of table t (a model code): that segment's code pmf into the slot.
CO3_HD double member_pmf(const EncodeParams& p, uint32_t t, uint32_t k, double* pmf) {
  const TableJob& tj = p.tables[t];
  const uint32_t seg = p.members[tj.first_member + k];
  const SegmentResult& r = p.seg[seg];
  const GenNormFit fit = detail::model_fit(p.pc.code, GenNormFit{r.beta, r.alpha}, r.moments);
  gennorm_code_pmf(p.pc.format, p.pc.rounding, fit.beta,
                   detail::ddiv(fit.alpha, static_cast<double>(r.scale)), pmf);
  return detail::mixture_share(p.jobs[seg].numel, tj.total_numel);
}

// Symbol s's mixture after one more member: members are added in segment order for every
// symbol, the CPU's sequence of additions.
CO3_HD void mix_member(const EncodeParams& p, double* mix, const double* pmf, double share,
                       uint32_t s) {
  mix[s] = detail::dadd(mix[s], detail::symbol_model_mass(pmf, s, p.pc.format.width(),
                                                          p.pc.entries_per_symbol, share));
}

// Thread 0 of table t, its weights ready (the histogram row or the model weights): code
// lengths (package-merge, as co3::code_lengths with its checks), canonical bit-reversed codes,
// the body. A failed table codes nothing (every length 0): its status voids the packet, and
// every size stays within the plan's bounds.
CO3_HD void finish_table(const EncodeParams& p, uint32_t t, const unsigned long long* weights,
                         void* scratch) {
  const uint32_t A = p.alphabet;
  const int L = p.pc.max_code_length;
  uint8_t* const lengths = p.lengths + uint64_t{t} * A;
  TableResult& tr = p.tab[t];
  tr.failure = static_cast<uint32_t>(Status::ok);
  tr.detail = 0;
  uint64_t used = 0;
  for (uint32_t s = 0; s < A; ++s) used += weights[s] != 0;
  static_assert(sizeof(unsigned long long) == sizeof(uint64_t), "weights are u64");
  if (used > (uint64_t{1} << L)) {
    tr.failure = static_cast<uint32_t>(Status::code_too_many_symbols);
    tr.detail = used | uint64_t(L) << 32;
  } else if (!package_merge_lengths(reinterpret_cast<const uint64_t*>(weights), A, L, lengths,
                                    scratch)) {
    tr.failure = static_cast<uint32_t>(Status::code_weights_too_large);
  }
  if (tr.failure) {
    for (uint32_t s = 0; s < A; ++s) lengths[s] = 0;
  }
  encode_table(lengths, A, p.rev_codes + uint64_t{t} * A);
  tr.body_bytes =
      detail::write_code_table_body(lengths, A, p.bodies + uint64_t{t} * p.body_capacity);
}

// ---- Pass 3: chunk sizes, their scan, the layout ----

struct ChunkRange {
  uint32_t segment;
  uint64_t local;         // chunk index in the segment
  uint64_t first_symbol;  // in the symbol buffer
  uint64_t count;         // symbols
};
CO3_HD ChunkRange chunk_range(const EncodeParams& p, uint64_t k) {
  const uint32_t s =
      detail::find_segment(p.num_segments, k, [&](uint32_t q) { return p.jobs[q].first_chunk; });
  const SegmentJob& job = p.jobs[s];
  const uint64_t local = k - job.first_chunk;
  const uint64_t begin = local * p.pc.chunk_symbols;
  const uint64_t count =
      job.num_symbols - begin < p.pc.chunk_symbols ? job.num_symbols - begin : p.pc.chunk_symbols;
  return {s, local, job.first_symbol + begin, count};
}

// Thread `lane` of `lanes`: the code lengths of symbols lane, lane + lanes, … of chunk c that
// are coded (in a coded block of its segment's zero-block map, or every one without a map); the
// block's sum is the chunk's bits (integers, any order); a chunk of no coded symbol has none,
// so 0 words, as FORMAT.md §6b asks.
CO3_HD uint64_t chunk_lane_bits(const EncodeParams& p, const ChunkRange& c, uint32_t lane,
                                uint32_t lanes) {
  const uint8_t* lengths = p.lengths + uint64_t{p.jobs[c.segment].table} * p.alphabet;
  const uint8_t* const map = zero_map_of(p, c.segment);
  const uint64_t first = c.local * p.pc.chunk_symbols;  // the chunk's first symbol in its segment
  uint64_t bits = 0;
  with_symbols(p, [&](const auto* all) {
    const auto* sym = all + c.first_symbol;
    for (uint64_t j = lane; j < c.count; j += lanes)
      if (!map || detail::block_coded(map, (first + j) >> p.pc.zero_block_log2))
        bits += lengths[sym[j]];
  });
  return bits;
}

// The offsets scan (one block): thread `lane` of `lanes` owns the contiguous run
// [lane·per, (lane+1)·per) of the total_chunks + 1 chunk sizes (the last is 0); scan_run_sum
// adds its run, scan_run_write writes the run's exclusive prefixes from the block's exclusive
// scan `base` of the run sums. chunk_offsets[k] is then Σ chunk_words[0 … k).
CO3_HD uint64_t scan_per(const EncodeParams& p, uint32_t lanes) {
  return (p.total_chunks + 1 + lanes - 1) / lanes;
}
CO3_HD uint64_t scan_run_sum(const EncodeParams& p, uint32_t lane, uint32_t lanes) {
  const uint64_t per = scan_per(p, lanes), n = p.total_chunks + 1;
  uint64_t sum = 0;
  for (uint64_t k = lane * per; k < (lane + 1) * per && k < n; ++k) sum += p.chunk_words[k];
  return sum;
}
CO3_HD void scan_run_write(const EncodeParams& p, uint32_t lane, uint32_t lanes, uint64_t base) {
  const uint64_t per = scan_per(p, lanes), n = p.total_chunks + 1;
  for (uint64_t k = lane * per; k < (lane + 1) * per && k < n; ++k) {
    p.chunk_offsets[k] = base;
    base += p.chunk_words[k];
  }
}

// Thread 0 of the layout block: the first failed table's status (unless an earlier error is
// set: the CPU quantizes every segment before it builds a code), every offset by LayoutCursor in
// FORMAT.md §1's order (host/codec/encode_plan.cpp's walk), the size and the header.
CO3_HD void layout_offsets(const EncodeParams& p, uint8_t* packet, uint64_t* packet_bytes,
                           DeviceStatus* status) {
  if (status->code == static_cast<uint32_t>(Status::ok)) {
    for (uint32_t t = 0; t < p.num_tables; ++t) {
      if (p.tab[t].failure) {
        status->code = p.tab[t].failure;
        status->segment = t;
        status->detail = p.tab[t].detail;
        break;
      }
    }
  }
  detail::LayoutCursor c(p.num_segments, p.shape_section_bytes);
  for (uint32_t t = 0; t < p.num_tables; ++t) p.tab[t].offset = c.table(p.tab[t].body_bytes);
  bool with_class_maps = false, with_zero_maps = false;
  for (uint32_t s = 0; s < p.num_segments; ++s) {
    const SegmentJob& job = p.jobs[s];
    SegmentResult& r = p.seg[s];
    r.payload_words =
        p.chunk_offsets[job.first_chunk + job.num_chunks] - p.chunk_offsets[job.first_chunk];
    const bool map = detail::has_class_map(p.pc, r.moments.non_finite);
    const bool zero_map = zero_block_of(p, s) != 0;
    with_class_maps = with_class_maps || map;
    with_zero_maps = with_zero_maps || zero_map;
    r.data_offset = c.segment(job.num_chunks, r.payload_words,
                              detail::class_map_bytes(job.numel, map),
                              zero_map ? job.num_map_bytes : 0);
  }
  *packet_bytes = c.total();
  detail::store_header(packet, p.with_shapes, with_class_maps, c.total(), p.num_tables,
                       p.num_segments, with_zero_maps);
}

// Segment s's descriptor (FORMAT.md §3), once layout_offsets has placed it: also where its
// chunk table, zero-block map, payload and class map start.
CO3_HD detail::Descriptor segment_layout(const EncodeParams& p, uint32_t s) {
  const SegmentJob& job = p.jobs[s];
  const SegmentResult& r = p.seg[s];
  return detail::segment_descriptor(p.pc, job.numel, job.dtype, static_cast<uint16_t>(job.table),
                                    r.data_offset, r.payload_words, r.scale, r.beta, r.alpha,
                                    detail::has_class_map(p.pc, r.moments.non_finite),
                                    zero_block_of(p, s));
}

// Segment s's descriptor and (version 2) shape record.
CO3_HD void layout_segment(const EncodeParams& p, uint8_t* packet, uint32_t s) {
  const SegmentJob& job = p.jobs[s];
  detail::store_descriptor(packet + detail::kHeaderBytes + detail::kDescriptorBytes * s,
                           segment_layout(p, s));
  if (p.with_shapes)
    detail::store_shape_record(packet + job.shape_offset, p.dims + job.first_dim, job.ndim);
}

// Bytes k, k + lanes, … of table t's header, body and padding (byte 0's lane writes the header).
CO3_HD void layout_table(const EncodeParams& p, uint8_t* packet, uint32_t t, uint32_t lane,
                         uint32_t lanes) {
  const TableResult& tr = p.tab[t];
  uint8_t* h = packet + tr.offset;
  const uint8_t* body = p.bodies + uint64_t{t} * p.body_capacity;
  if (lane == 0)
    detail::store_table_header(h, p.pc.symbol_bits(), p.pc.max_code_length, tr.body_bytes);
  const uint64_t bytes = detail::table_bytes(tr.body_bytes);
  for (uint64_t k = detail::kTableHeaderBytes + lane; k < bytes; k += lanes) {
    const uint64_t b = k - detail::kTableHeaderBytes;
    h[k] = b < tr.body_bytes ? body[b] : 0;
  }
}

// ---- Pass 3: class maps (FORMAT.md §6a) ----

// The words of tile t's segment's class map that tile t writes: those of its kTileEntries
// entries, and for the segment's last tile every word to the map's end (its padding). Empty
// (begin = end) when the segment has no map.
struct MapWords {
  uint32_t segment;
  uint64_t begin, end;
};
CO3_HD MapWords class_map_tile(const EncodeParams& p, uint64_t t) {
  const uint32_t s = segment_of_tile(p, t);
  const SegmentJob& job = p.jobs[s];
  if (!detail::has_class_map(p.pc, p.seg[s].moments.non_finite)) return {s, 0, 0};
  const uint64_t words = detail::class_map_words(detail::class_map_bytes(job.numel, true));
  const uint64_t local = t - job.first_tile;
  const uint64_t per_tile = kTileEntries / detail::kClassesPerWord;
  const uint64_t begin = local * per_tile;
  return {s, begin, local + 1 == job.num_tiles ? words : begin + per_tile};
}

// Word w of segment s's class map, from u as pass 2 computes it, into the packet (after the
// layout: the map follows the segment's payload).
CO3_HD void store_class_map_word(const EncodeParams& p, uint8_t* packet, uint32_t s, uint64_t w) {
  const SegmentJob& job = p.jobs[s];
  const uint64_t map_at = segment_layout(p, s).map_offset();
  const uint32_t word = detail::class_map_word(w, job.numel, [&](uint64_t i) {
    return detail::feedback_input(load_entry(job.grad, job.dtype, i), job.memory, job.gamma, i);
  });
  detail::store_le(packet + map_at + 4 * w, word);
}

// ---- Pass 3: zero-block maps (FORMAT.md §6b) ----

// Byte i of the maps' workspace into the packet, after the layout: the map of a segment that
// takes one follows its chunk table (a segment that takes none writes nothing).
CO3_HD void store_zero_map_byte(const EncodeParams& p, uint8_t* packet, uint64_t i) {
  const uint32_t s = segment_of_map_byte(p, i);
  if (!zero_block_of(p, s)) return;
  packet[segment_layout(p, s).zero_map_offset() + (i - p.jobs[s].first_map_byte)] = p.zero_maps[i];
}

// ---- Pass 3: packing ----

// Thread `lane` of `lanes` packs the contiguous symbols [lo, hi) of a chunk.
struct PackLane {
  uint64_t lo, hi;
};
CO3_HD PackLane pack_lane(const ChunkRange& c, uint32_t lane, uint32_t lanes) {
  const uint64_t per = (c.count + lanes - 1) / lanes;
  const uint64_t lo = lane * per < c.count ? lane * per : c.count;
  return {lo, lo + per < c.count ? lo + per : c.count};
}
// Calls body(lo', hi') for the runs of coded symbols in chunk c's symbols [lo, hi), in order:
// all of [lo, hi) when its segment takes no zero-block map, else each run of consecutive coded
// blocks (chunks start on a block boundary: chunk_symbols is a multiple of the block).
template <class Body>
CO3_HD void for_coded_runs(const EncodeParams& p, const ChunkRange& c, uint64_t lo, uint64_t hi,
                           Body body) {
  const uint8_t* const map = zero_map_of(p, c.segment);
  if (!map) {
    body(lo, hi);
    return;
  }
  const int b = p.pc.zero_block_log2;
  const uint64_t first = c.local * p.pc.chunk_symbols;  // the chunk's first symbol in its segment
  uint64_t run = lo;                                    // where the current run starts
  for (uint64_t j = lo; j < hi;) {
    const uint64_t k = (first + j) >> b;
    const uint64_t end = ((k + 1) << b) - first < hi ? ((k + 1) << b) - first : hi;
    if (!detail::block_coded(map, k)) {
      if (run < j) body(run, j);
      run = end;
    }
    j = end;
  }
  if (run < hi) body(run, hi);
}

// The bits of the lane's coded symbols.
CO3_HD uint64_t pack_lane_bits(const EncodeParams& p, const ChunkRange& c, const PackLane& l) {
  const uint8_t* lengths = p.lengths + uint64_t{p.jobs[c.segment].table} * p.alphabet;
  uint64_t bits = 0;
  with_symbols(p, [&](const auto* all) {
    for_coded_runs(p, c, l.lo, l.hi, [&](uint64_t lo, uint64_t hi) {
      bits += detail::range_bits(all + c.first_symbol, lo, hi, lengths);
    });
  });
  return bits;
}
// ORs the codewords of the lane's coded symbols through or_word(word of the chunk, bits), the
// first at stream bit `offset` (the block's exclusive scan of pack_lane_bits), each run of coded
// symbols after the previous run's bits: pack_range puts every codeword on the bits the CPU's
// whole-chunk packing of the coded symbols gives it; words shared by two lanes are only OR-ed.
template <class OrWord>
CO3_HD void pack_lane_words(const EncodeParams& p, const ChunkRange& c, const PackLane& l,
                            uint64_t offset, OrWord or_word) {
  const uint32_t table = p.jobs[c.segment].table;
  const uint8_t* lengths = p.lengths + uint64_t{table} * p.alphabet;
  const uint32_t* rev = p.rev_codes + uint64_t{table} * p.alphabet;
  with_symbols(p, [&](const auto* all) {
    // Each run starts where the previous one's codewords ended.
    for_coded_runs(p, c, l.lo, l.hi, [&](uint64_t lo, uint64_t hi) {
      offset = detail::pack_range(all + c.first_symbol, lo, hi, lengths, rev, offset, or_word);
    });
  });
}

// Where chunk k's words go: its segment's payload (after the chunk table and any zero-block
// map) at the chunk's word offset.
CO3_HD uint32_t* chunk_out(const EncodeParams& p, uint8_t* packet, const ChunkRange& c,
                           uint64_t k) {
  const SegmentJob& job = p.jobs[c.segment];
  uint32_t* const payload =
      reinterpret_cast<uint32_t*>(packet + segment_layout(p, c.segment).payload_offset());
  return payload + (p.chunk_offsets[k] - p.chunk_offsets[job.first_chunk]);
}

// Thread 0 of chunk k's block: its chunk table entry; the segment's last chunk also writes the
// zero padding after the chunk table and after the payload. Blocks own disjoint bytes.
CO3_HD void finish_chunk(const EncodeParams& p, uint8_t* packet, const ChunkRange& c, uint64_t k) {
  const SegmentJob& job = p.jobs[c.segment];
  const detail::Descriptor d = segment_layout(p, c.segment);
  uint8_t* const table = packet + d.data_offset;
  detail::store_le(table + 2 * c.local, static_cast<uint16_t>(p.chunk_words[k]));
  if (c.local + 1 == job.num_chunks) {
    for (uint64_t b = 2 * job.num_chunks; b < detail::align8(2 * job.num_chunks); ++b) table[b] = 0;
    uint8_t* const payload = packet + d.payload_offset();
    for (uint64_t b = 4 * d.payload_words; b < detail::align8(4 * d.payload_words); ++b)
      payload[b] = 0;
  }
}

// ---- CRC ----

// Piece `piece` (kCrcPiece bytes, fewer or none at the end) of the packet's first `size` bytes:
// its finished CRC and length (an empty piece is (0, 0), the combination's identity). Whole
// words are read where the piece has them (pieces start 4096-aligned in an 8-aligned packet).
struct CrcPart {
  uint32_t crc;
  uint64_t bytes;
};
CO3_HD CrcPart crc_piece(const uint32_t* table, const uint8_t* packet, uint64_t size,
                         uint64_t piece) {
  const uint64_t start = piece * kCrcPiece;
  const uint64_t n = start < size ? (size - start < kCrcPiece ? size - start : kCrcPiece) : 0;
  if (!n) return {0u, 0};
  uint32_t reg = ~0u;
  const uint32_t* words = reinterpret_cast<const uint32_t*>(packet + start);
  for (uint64_t w = 0; w < n / 4; ++w) {
    const uint32_t v = words[w];
    for (int k = 0; k < 4; ++k) reg = (reg >> 8) ^ table[(reg ^ (v >> (8 * k))) & 0xFF];
  }
  reg = detail::crc32c_update(table, reg, packet + start + (n & ~uint64_t{3}), n & 3);
  return {~reg, n};
}
// A then B.
CO3_HD CrcPart crc_join(const CrcPart& a, const CrcPart& b) {
  return {detail::crc32c_combine_hd(a.crc, b.crc, b.bytes), a.bytes + b.bytes};
}

// ---- The end ----

// After everything: a failed encode leaves FORMAT.md §11's failure record (and its 32 bytes as
// the packet's size) instead of a meaningless packet, so that a reader of the buffer raises the
// error without the status word.
CO3_HD void finish_encode(uint8_t* packet, uint64_t* packet_bytes, const DeviceStatus* status) {
  if (status->code == static_cast<uint32_t>(Status::ok)) return;
  detail::store_failure_record(packet, status->code, status->segment, status->detail);
  *packet_bytes = detail::kFailureRecordBytes;
}

}  // namespace co3::kernels::enc
