#include <algorithm>
#include <cstring>
#include <string>
#include <type_traits>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "co3/codec.h"
#include "co3/detail/class_map.h"
#include "co3/detail/decode_bulk.h"
#include "co3/detail/decode_short.h"
#include "co3/detail/decode_wide.h"
#include "co3/detail/decode_values.h"
#include "co3/detail/trace.h"
#include "co3/dtype.h"
#include "co3/error.h"
#include "co3/huffman.h"
#include "co3/kernels/status.h"
#include "cpu_features.h"
#include "decode_tables.h"
#include "packet.h"
#include "thread_pool.h"

namespace co3 {
namespace {

using detail::Descriptor;
using detail::load_le;
using detail::TableDecoder;

// One chunk to decode: its words, its symbol count, where its symbols go (uint8_t symbols for
// tables of ≤ 8-bit symbols, uint16_t otherwise).
template <class Sym>
struct ChunkJob {
  const uint8_t* words;
  uint32_t word_count, count;
  Sym* sym;  // count + kSymbolSlack slots
  uint32_t padding_mask;  // detail::padding_entry_mask of the chunk
  uint32_t load(uint32_t i) const { return load_le<uint32_t>(words + 4 * uint64_t{i}); }
  const uint8_t* end() const { return words + 4 * uint64_t{word_count}; }
};
constexpr uint32_t kSymbolSlack = 16;  // ≥ a bulk step's 8 bytes of slots

// Which bulk path a table takes before decode_run: none (decode_run alone), decode_bulk.h's
// multi-symbol entries, decode_short.h's one-symbol entries (8-bit symbols) or decode_wide.h's
// two-level ones (16-bit symbols, kSteps a refill).
enum class Bulk { none, multi, single, wide };

// The rest of a chunk from the bulk stream s: the bulk alone while it can, decode_run from its
// position for the remainder and every check, then the end-of-chunk checks. Status::ok or the
// first violation.
template <Bulk kBulk, int kSymbolBits, uint32_t kSteps, class Sym>
kernels::Status finish_chunk_symbols(detail::BulkStream& b, const detail::BulkTables& bt,
                                     const detail::ChunkTables& t, const ChunkJob<Sym>& c) {
  if constexpr (kBulk == Bulk::multi) {
    detail::decode_bulk<detail::lut_symbol_cap(kSymbolBits), kSymbolBits, detail::kBulkSteps>(
        b, bt, c.end(), c.count, c.sym);
  } else if constexpr (kBulk == Bulk::single) {
    detail::decode_short(b, bt.short_lut, c.end(), c.count, c.sym);
  } else if constexpr (kBulk == Bulk::wide) {
    detail::decode_wide<kSteps>(b, {bt.wide_first, bt.wide_second}, c.end(), c.count, c.sym);
  }
  const auto load = [&](uint32_t i) { return c.load(i); };
  detail::ChunkStream s = detail::chunk_stream_at(b, c.word_count, load);
  const uint32_t k = b.k;
  const kernels::Status st = detail::decode_run(
      s, t, c.count - k, load, [&](uint32_t j, uint32_t v) { c.sym[k + j] = static_cast<Sym>(v); });
  if (st != kernels::Status::ok) return st;
  // The bulk loop may have decoded the chunk's last symbol: take it from the symbols.
  s.padding_mask = c.padding_mask;
  s.last = c.count ? c.sym[c.count - 1] : 0;
  return detail::finish_chunk(s);
}

// Chunks decoded together, their bulk interleaved: six chains of dependent lookups hide each
// other's latency (decode_short_group, decode_wide_group; six decoded bf16 about 10% and e4m3
// about 4% faster than four, although their streams no longer all fit in registers); the
// multi-symbol path takes them in pairs.
constexpr uint32_t kGroup = 6;
// The n chunks (n ≤ kGroup) as one interleaved group, group(std::integral_constant<int, n>):
// 2 … 6 lanes; a chunk alone is left to finish_chunk_symbols.
template <class Group>
void interleave_chunks(uint32_t n, Group group) {
  static_assert(kGroup == 6, "the cases below");
  switch (n) {
    case 6: return group(std::integral_constant<int, 6>{});
    case 5: return group(std::integral_constant<int, 5>{});
    case 4: return group(std::integral_constant<int, 4>{});
    case 3: return group(std::integral_constant<int, 3>{});
    case 2: return group(std::integral_constant<int, 2>{});
    default: return;
  }
}

// Chunks jobs[0 … n) (1 ≤ n ≤ kGroup): their symbols, st[i] the verdict of chunk i.
template <Bulk kBulk, int kSymbolBits, uint32_t kSteps, class Sym>
void decode_chunk_group(const detail::BulkTables& bt, const detail::ChunkTables& t,
                        const ChunkJob<Sym>* jobs, uint32_t n, kernels::Status* st) {
  detail::BulkStream s[kGroup];
  const uint8_t* end[kGroup];
  uint32_t count[kGroup];
  Sym* out[kGroup];
  for (uint32_t i = 0; i < n; ++i) {
    s[i] = detail::bulk_stream(jobs[i].words);
    end[i] = jobs[i].end();
    count[i] = jobs[i].count;
    out[i] = jobs[i].sym;
  }
  if constexpr (kBulk == Bulk::multi) {
    for (uint32_t i = 0; i + 1 < n; i += 2)
      detail::decode_bulk_pair<detail::lut_symbol_cap(kSymbolBits), kSymbolBits, detail::kBulkSteps>(
          s[i], s[i + 1], bt, end[i], end[i + 1], count[i], count[i + 1], out[i], out[i + 1]);
  } else if constexpr (kBulk == Bulk::single) {
    interleave_chunks(n, [&](auto lanes) {
      detail::decode_short_group<decltype(lanes)::value>(s, bt.short_lut, end, count, out);
    });
  } else if constexpr (kBulk == Bulk::wide) {
    const detail::WideTables wt{bt.wide_first, bt.wide_second};
    interleave_chunks(n, [&](auto lanes) {
      detail::decode_wide_group<kSteps, decltype(lanes)::value>(s, wt, end, count, out);
    });
  }
  for (uint32_t i = 0; i < n; ++i) st[i] = finish_chunk_symbols<kBulk, kSymbolBits, kSteps>(s[i], bt, t, jobs[i]);
}

template <class Sym>
using GroupDecoder = void (*)(const detail::BulkTables&, const detail::ChunkTables&,
                              const ChunkJob<Sym>*, uint32_t, kernels::Status*);

// The same decoders compiled for BMI2 (shifts by a register without the count in CL and the
// moves around it: the bit buffer's refills and every lookup's consume), chosen at run time
// (cpu_features.h).
template <Bulk kBulk, int kSymbolBits, uint32_t kSteps, class Sym>
__attribute__((flatten)) CO3_TARGET_BMI2 void decode_chunk_group_bmi2(
    const detail::BulkTables& bt, const detail::ChunkTables& t, const ChunkJob<Sym>* jobs,
    uint32_t n, kernels::Status* st) {
  decode_chunk_group<kBulk, kSymbolBits, kSteps, Sym>(bt, t, jobs, n, st);
}

template <Bulk kBulk, int kSymbolBits, uint32_t kSteps, class Sym>
GroupDecoder<Sym> group_for() {
  return detail::cpu_has_bmi2() ? decode_chunk_group_bmi2<kBulk, kSymbolBits, kSteps, Sym>
                                : decode_chunk_group<kBulk, kSymbolBits, kSteps, Sym>;
}

// decode_wide.h's path with the steps per refill its max_len allows.
template <class Sym>
GroupDecoder<Sym> wide_decoder(int max_len) {
  switch (detail::wide_steps_per_refill(max_len)) {
    case 5: return group_for<Bulk::wide, 16, 5, Sym>();
    case 4: return group_for<Bulk::wide, 16, 4, Sym>();
    case 3: return group_for<Bulk::wide, 16, 3, Sym>();
    default: return group_for<Bulk::wide, 16, 2, Sym>();
  }
}

// The bulk path for the common symbol widths (fp4 pairs and 8-bit formats, the 16-bit ones);
// other widths go through decode_run alone. Tables with a short_lut or wide tables take those.
template <class Sym>
GroupDecoder<Sym> group_decoder(const TableDecoder& table) {
  if constexpr (sizeof(Sym) == 1) {
    if (table.symbol_bits == 8)
      return table.short_lut.empty() ? group_for<Bulk::multi, 8, 0, Sym>()
                                     : group_for<Bulk::single, 8, 0, Sym>();
  } else {
    if (table.symbol_bits == 16)
      return table.wide_first.empty() ? group_for<Bulk::multi, 16, 0, Sym>()
                                      : wide_decoder<Sym>(table.max_len);
  }
  return group_for<Bulk::none, 8 * sizeof(Sym), 0, Sym>();
}

// n entries of bf16 codes into float32 at o (any alignment): bf16_code_f32_bits of each.
inline __attribute__((always_inline)) void write_bf16_f32_body(const uint16_t* sym, uint64_t n,
                                                               float scale, uint8_t* o) {
  for (uint64_t i = 0; i < n; ++i) {
    const uint32_t v = detail::bf16_code_f32_bits(sym[i], scale);
    std::memcpy(o + 4 * i, &v, 4);  // little-endian host (store_le)
  }
}
__attribute__((flatten)) CO3_TARGET_AVX2 void write_bf16_f32_avx2(const uint16_t* sym, uint64_t n,
                                                                  float scale, uint8_t* o) {
  write_bf16_f32_body(sym, n, scale, o);
}
void write_bf16_f32(const uint16_t* sym, uint64_t n, float scale, uint8_t* o) {
  if (detail::cpu_has_avx2()) {
    write_bf16_f32_avx2(sym, n, scale, o);
  } else {
    write_bf16_f32_body(sym, n, scale, o);
  }
}

// n byte symbols of one entry each into their 32-bit values (e4m3, e5m2 into float32): the
// table lookup, sixteen entries a gather with AVX-512 and eight with AVX2 (issue 25: the scalar
// lookups were a third of the 8-bit formats' decode), the same values. `o`: any alignment.
inline void write_byte_values_body(const uint8_t* sym, uint64_t n, const uint32_t* values, uint8_t* o) {
  for (uint64_t i = 0; i < n; ++i) detail::store_le(o + 4 * i, values[sym[i]]);
}
#if defined(__x86_64__)
CO3_TARGET_AVX512 void write_byte_values_avx512(const uint8_t* sym, uint64_t n, const uint32_t* values,
                                                uint8_t* o) {
  uint64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    // The masked forms with a zero source: the plain ones start from _mm512_undefined, which
    // GCC 12 reports as maybe-uninitialized.
    const __m512i idx = _mm512_maskz_cvtepu8_epi32(0xFFFF, _mm_loadu_si128(reinterpret_cast<const __m128i*>(sym + i)));
    _mm512_storeu_si512(o + 4 * i, _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), 0xFFFF, idx, values, 4));
  }
  write_byte_values_body(sym + i, n - i, values, o + 4 * i);
}
CO3_TARGET_AVX2 void write_byte_values_avx2(const uint8_t* sym, uint64_t n, const uint32_t* values,
                                            uint8_t* o) {
  uint64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i idx = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(sym + i)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + 4 * i),
                        _mm256_i32gather_epi32(reinterpret_cast<const int*>(values), idx, 4));
  }
  write_byte_values_body(sym + i, n - i, values, o + 4 * i);
}
#endif
// Returns false where no vector version runs (the caller's unrolled loop does it).
bool write_byte_values(const uint8_t* sym, uint64_t n, const uint32_t* values, uint8_t* o) {
#if defined(__x86_64__)
  if (detail::cpu_has_avx512()) return write_byte_values_avx512(sym, n, values, o), true;
  if (detail::cpu_has_avx2()) return write_byte_values_avx2(sym, n, values, o), true;
#endif
  return false;
}

template <class Out, class Sym>
void decode_segment(const uint8_t* data, const Descriptor& d, const TableDecoder& table,
                    DType out_dtype, void* output, size_t segment, int threads) {
  const FloatFormat f = d.format();
  const int g = d.entries_per_symbol;
  // bf16 into float32: the values computed (vectorized), not looked up.
  const bool bf16_f32 = sizeof(Sym) == 2 && sizeof(Out) == 4 && g == 1 && out_dtype == DType::f32 &&
                        f == formats::bf16;
  // The value of every code otherwise (65,536 of them for 16-bit formats: not built for bf16).
  std::vector<Out> values(bf16_f32 ? 0 : size_t{1} << f.width());
  for (uint32_t c = 0; c < values.size(); ++c)
    values[c] = static_cast<Out>(detail::entry_bits(f, d.scale, c, out_dtype));
  const int w = f.width();
  const uint32_t mask = (1u << w) - 1;
  const uint64_t chunks = d.num_chunks(), nsym = d.num_symbols();
  const uint8_t* chunk_table = data + d.data_offset;
  const uint8_t* payload = data + d.payload_offset();
  // §6b: a zero-block map's chunks code only their coded blocks' symbols.
  const uint8_t* zmap = data + d.zero_map_offset();
  const uint64_t blocks = d.num_blocks();
  const uint32_t block = d.block_symbols();
  const uint64_t blocks_per_chunk = d.zero_block ? d.chunk_symbols / block : 0;
  std::vector<uint64_t> first(chunks);
  uint64_t acc = 0;
  for (uint64_t k = 0; k < chunks; ++k) {
    first[k] = acc;
    acc += load_le<uint16_t>(chunk_table + 2 * k);
  }
  // Byte symbols of two entries (fp4 pairs): both values by one load and one store.
  using Pair = std::conditional_t<sizeof(Out) == 4, uint64_t, uint32_t>;
  std::vector<Pair> pairs;
  if (sizeof(Sym) == 1 && g == 2) {
    pairs.resize(256);
    for (uint32_t s = 0; s < 256; ++s)
      pairs[s] = Pair{values[s & mask]} | Pair{values[(s >> w) & mask]} << (8 * sizeof(Out));
  }
  const detail::ChunkTables tables = table.tables();
  const detail::BulkTables bulk = table.bulk();
  const GroupDecoder<Sym> decode_group = group_decoder<Sym>(table);
  uint8_t* const out = static_cast<uint8_t*>(output);  // any alignment: stores by store_le
  // A chunk's symbols; with a zero-block map, its coded ones (the padding check then applies
  // only where the segment's last block is coded, its last coded symbol being the last symbol).
  const auto chunk_count = [&](size_t k) {
    const uint64_t begin = uint64_t{k} * d.chunk_symbols;
    return static_cast<uint32_t>(std::min<uint64_t>(nsym, begin + d.chunk_symbols) - begin);
  };
  const auto job = [&](size_t k, Sym* sym) {
    uint32_t count = chunk_count(k);
    uint32_t padding = detail::padding_entry_mask(k, chunks, d.numel, g, w);
    if (d.zero_block) {
      const uint64_t b0 = k * blocks_per_chunk, b1 = std::min(blocks, b0 + blocks_per_chunk);
      count = static_cast<uint32_t>(detail::coded_symbols(zmap, b0, b1, block, blocks, nsym));
      if (!detail::block_coded(zmap, blocks - 1)) padding = 0;
    }
    return ChunkJob<Sym>{payload + 4 * first[k], load_le<uint16_t>(chunk_table + 2 * k), count,
                         sym, padding};
  };
  // §6b: chunk k's coded symbols, decoded to the front of its slots, moved to their blocks
  // (from the last block back, so that no move overwrites symbols not yet moved) and the
  // blocks the map leaves out filled with symbol 0. Then the chunk holds all its symbols.
  const auto expand = [&](size_t k, ChunkJob<Sym>& c) {
    const uint64_t b0 = k * blocks_per_chunk, b1 = std::min(blocks, b0 + blocks_per_chunk);
    uint64_t coded_end = c.count;
    for (uint64_t b = b1; b-- > b0;) {
      const uint64_t len = b + 1 == blocks ? nsym - b * block : block;
      Sym* const dst = c.sym + (b - b0) * block;
      if (detail::block_coded(zmap, b)) {
        coded_end -= len;
        std::memmove(dst, c.sym + coded_end, len * sizeof(Sym));
      } else {
        std::fill(dst, dst + len, Sym{0});
      }
    }
    c.count = chunk_count(k);
  };
  // Entries of chunk k's symbols (the last symbol of a segment may be partly padding).
  const auto write = [&](size_t k, const ChunkJob<Sym>& c) {
    const uint64_t begin = uint64_t{k} * d.chunk_symbols;
    const uint64_t i0 = begin * g, i1 = std::min<uint64_t>(d.numel, (begin + c.count) * g);
    uint8_t* const o = out + i0 * sizeof(Out);
    const Sym* const sym = c.sym;
    if (bf16_f32) {
      write_bf16_f32(reinterpret_cast<const uint16_t*>(sym), i1 - i0, d.scale, o);
    } else if (g == 1) {
      const uint64_t n = i1 - i0;
      bool done = false;
      if constexpr (sizeof(Sym) == 1 && sizeof(Out) == 4) done = write_byte_values(sym, n, values.data(), o);
      if (!done) {
        uint64_t i = 0;
        for (; i + 4 <= n; i += 4) {  // unrolled: the loop's own instructions were a third of it
          detail::store_le(o + i * sizeof(Out), values[sym[i]]);
          detail::store_le(o + (i + 1) * sizeof(Out), values[sym[i + 1]]);
          detail::store_le(o + (i + 2) * sizeof(Out), values[sym[i + 2]]);
          detail::store_le(o + (i + 3) * sizeof(Out), values[sym[i + 3]]);
        }
        for (; i < n; ++i) detail::store_le(o + i * sizeof(Out), values[sym[i]]);
      }
    } else if (g == 2 && !pairs.empty()) {
      const uint64_t n = i1 - i0;
      for (uint64_t j = 0; j < n / 2; ++j) detail::store_le(o + 2 * j * sizeof(Out), pairs[sym[j]]);
      if (n % 2) detail::store_le(o + (n - 1) * sizeof(Out), values[sym[n / 2] & mask]);
    } else if (g == 2) {  // no division by a run-time g
      const uint64_t n = i1 - i0;
      for (uint64_t j = 0; j < n / 2; ++j) {
        detail::store_le(o + 2 * j * sizeof(Out), values[sym[j] & mask]);
        detail::store_le(o + (2 * j + 1) * sizeof(Out), values[(sym[j] >> w) & mask]);
      }
      if (n % 2) detail::store_le(o + (n - 1) * sizeof(Out), values[sym[n / 2] & mask]);
    } else {
      for (uint64_t i = 0; i < i1 - i0; ++i)
        detail::store_le(o + i * sizeof(Out), values[(sym[i / g] >> (w * (i % g))) & mask]);
    }
  };
  // At least 65,536 symbols a thread, as the encoder's conversion: less is not worth a worker.
  const size_t min_chunks = std::max<size_t>(1, (size_t{1} << 16) / d.chunk_symbols);
  detail::parallel_for(chunks, threads, min_chunks, [&](size_t b, size_t e) {
    const size_t stride = size_t{d.chunk_symbols} + kSymbolSlack;
    std::vector<Sym> sym(kGroup * stride);
    for (size_t k = b; k < e; k += kGroup) {
      const uint32_t n = static_cast<uint32_t>(std::min<size_t>(kGroup, e - k));
      ChunkJob<Sym> jobs[kGroup];
      for (uint32_t i = 0; i < n; ++i) jobs[i] = job(k + i, sym.data() + i * stride);
      // Chunks that code no symbol (§6b; the chunk table check made their words 0) are not
      // decoded: the others are decoded together, in order.
      ChunkJob<Sym> coded[kGroup];
      uint32_t index[kGroup], m = 0;
      for (uint32_t i = 0; i < n; ++i)
        if (jobs[i].count) {
          index[m] = i;
          coded[m++] = jobs[i];
        }
      kernels::Status st[kGroup];
      if (m) decode_group(bulk, tables, coded, m, st);
      for (uint32_t j = 0; j < m; ++j)
        if (st[j] != kernels::Status::ok)
          throw kernels::status_error({static_cast<uint32_t>(st[j]), static_cast<uint32_t>(segment), k + index[j]});
      if (d.zero_block)
        for (uint32_t i = 0; i < n; ++i) expand(k + i, jobs[i]);
      for (uint32_t i = 0; i < n; ++i) write(k + i, jobs[i]);
    }
  });
}

// §6a: the entries a class map marks become ±Inf or NaN in the output dtype.
template <class Out>
void apply_class_map(const uint8_t* data, const Descriptor& d, DType out_dtype, void* output,
                     int threads) {
  const uint8_t* map = data + d.map_offset();
  const uint64_t words = detail::class_map_words(detail::class_map_bytes(d.numel, true));
  uint8_t* out = static_cast<uint8_t*>(output);
  detail::parallel_for(words, threads, 1 << 14, [&](size_t b, size_t e) {
    for (size_t w = b; w < e; ++w)
      detail::apply_class_word(load_le<uint32_t>(map + 4 * w), w, [&](uint64_t i, float v) {
        detail::store_le(out + i * sizeof(Out), static_cast<Out>(store_bits(v, out_dtype)));
      });
  });
}

void decode_parsed(const uint8_t* data, const detail::ParsedPacket& p,
                   const std::vector<void*>& outputs, bool as_f32, int threads) {
  CO3_TRACE("decode chunks");
  check(outputs.size() == p.segments.size(), Errc::invalid_argument, [&] {
    return "decode: " + std::to_string(outputs.size()) + " outputs for a packet of " +
           std::to_string(p.segments.size()) + " segments";
  });
  // Each table once, however many segments share it.
  std::vector<TableDecoder> tables(p.tables.size());
  for (size_t t = 0; t < p.tables.size(); ++t) build_table(p.tables[t], tables[t]);
  for (size_t s = 0; s < p.segments.size(); ++s) {
    const Descriptor& d = p.segments[s];
    if (!d.numel) continue;
    check(outputs[s] != nullptr, Errc::invalid_argument,
          [&] { return "decode: output " + std::to_string(s) + " is null"; });
    const DType out = as_f32 ? DType::f32 : static_cast<DType>(d.dtype);
    const TableDecoder& view = tables[d.code_table];
    const bool byte_symbols = view.symbol_bits <= 8;
    if (out == DType::f32) {
      if (byte_symbols) decode_segment<uint32_t, uint8_t>(data, d, view, out, outputs[s], s, threads);
      else decode_segment<uint32_t, uint16_t>(data, d, view, out, outputs[s], s, threads);
      if (d.class_map) apply_class_map<uint32_t>(data, d, out, outputs[s], threads);
    } else {
      if (byte_symbols) decode_segment<uint16_t, uint8_t>(data, d, view, out, outputs[s], s, threads);
      else decode_segment<uint16_t, uint16_t>(data, d, view, out, outputs[s], s, threads);
      if (d.class_map) apply_class_map<uint16_t>(data, d, out, outputs[s], threads);
    }
  }
}

}  // namespace

void decode_into(const uint8_t* data, size_t size, const std::vector<void*>& outputs, bool as_f32,
                 int threads) {
  CO3_TRACE("co3::decode");
  decode_parsed(data, detail::parse_packet(data, size, threads), outputs, as_f32, threads);
}

std::vector<DecodedTensor> decode(const uint8_t* data, size_t size, bool as_f32, int threads) {
  CO3_TRACE("co3::decode");
  const detail::ParsedPacket p = detail::parse_packet(data, size, threads);
  std::vector<DecodedTensor> out(p.segments.size());
  std::vector<void*> ptrs(out.size());
  for (size_t s = 0; s < out.size(); ++s) {
    out[s].dtype = as_f32 ? DType::f32 : static_cast<DType>(p.segments[s].dtype);
    out[s].numel = p.segments[s].numel;
    if (p.has_shapes) out[s].shape = p.shapes[s];
    out[s].bytes.resize(out[s].numel * dtype_size(out[s].dtype));
    ptrs[s] = out[s].bytes.data();
  }
  decode_parsed(data, p, ptrs, as_f32, threads);
  return out;
}

}  // namespace co3
