#include <algorithm>
#include <string>

#include "co3/codec.h"
#include "co3/detail/class_map.h"
#include "co3/detail/decode_chunk.h"
#include "co3/detail/decode_values.h"
#include "co3/detail/trace.h"
#include "co3/dtype.h"
#include "co3/error.h"
#include "co3/huffman.h"
#include "co3/kernels/status.h"
#include "packet.h"
#include "thread_pool.h"

namespace co3 {
namespace {

using detail::Descriptor;
using detail::load_le;

// A code table's decoder, built by the host+device pieces of detail/decode_table.h exactly as
// the GPU builds it: per-length counts, canonical bases, symbols by (length, symbol), and one
// lookup entry per kLutBits-bit prefix.
struct TableDecoder {
  uint32_t limit[kMaxCodeLength + 1], offset[kMaxCodeLength + 1], first[kMaxCodeLength + 1];
  std::vector<uint16_t> symbols;
  std::vector<uint64_t> lut;
  detail::ChunkTables tables() const {
    return {lut.data(), {limit, offset, symbols.data(), max_len, symbol_bits}};
  }
  int max_len = 0, symbol_bits = 0;
};

void build_table(const detail::ParsedTable& t, TableDecoder& out) {
  uint32_t count[kMaxCodeLength + 1] = {};
  for (uint8_t len : t.lengths) ++count[len];
  out.max_len = t.max_length;
  out.symbol_bits = t.symbol_bits;
  detail::canonical_bases(count, t.max_length, out.limit, out.offset, out.first);
  out.symbols.resize(t.lengths.size() - count[0]);
  uint32_t next[kMaxCodeLength + 1];
  std::copy(out.first, out.first + kMaxCodeLength + 1, next);
  for (uint32_t s = 0; s < t.lengths.size(); ++s)
    if (t.lengths[s]) out.symbols[next[t.lengths[s]]++] = static_cast<uint16_t>(s);
  out.lut.resize(detail::kLutSize);
  const detail::ChunkTables view = out.tables();
  for (uint32_t p = 0; p < detail::kLutSize; ++p) out.lut[p] = detail::lut_entry(view.canonical, p);
}

template <class Out>
void decode_segment(const uint8_t* data, const Descriptor& d, const detail::ChunkTables& tables,
                    DType out_dtype, void* output, size_t segment, int threads) {
  const FloatFormat f = d.format();
  std::vector<uint32_t> values(size_t{1} << f.width());
  for (uint32_t c = 0; c < values.size(); ++c)
    values[c] = detail::entry_bits(f, d.scale, c, out_dtype);
  const int g = d.entries_per_symbol;
  const int w = f.width();
  const uint32_t mask = (1u << w) - 1;
  const uint64_t chunks = d.num_chunks(), nsym = d.num_symbols();
  const uint8_t* chunk_table = data + d.data_offset;
  const uint8_t* payload = chunk_table + detail::align8(2 * chunks);
  std::vector<uint64_t> first(chunks);
  uint64_t acc = 0;
  for (uint64_t k = 0; k < chunks; ++k) {
    first[k] = acc;
    acc += load_le<uint16_t>(chunk_table + 2 * k);
  }
  uint8_t* out = static_cast<uint8_t*>(output);
  detail::parallel_for(chunks, threads, 4, [&](size_t b, size_t e) {
    for (size_t k = b; k < e; ++k) {
      const uint8_t* words = payload + 4 * first[k];
      detail::ChunkStream s;
      s.words = load_le<uint16_t>(chunk_table + 2 * k);
      s.padding_mask = detail::padding_entry_mask(k, chunks, d.numel, g, w);
      const uint64_t begin = uint64_t{k} * d.chunk_symbols;
      const uint64_t end = std::min<uint64_t>(nsym, begin + d.chunk_symbols);
      kernels::Status st = detail::decode_run(
          s, tables, static_cast<uint32_t>(end - begin),
          [&](uint32_t i) { return load_le<uint32_t>(words + 4 * uint64_t{i}); },
          [&](uint32_t j, uint32_t sym) {
            for (int t = 0; t < g; ++t) {
              const uint64_t i = (begin + j) * g + t;
              if (i < d.numel)
                detail::store_le(out + i * sizeof(Out),
                                 static_cast<Out>(values[(sym >> (w * t)) & mask]));
            }
          });
      if (st == kernels::Status::ok) st = detail::finish_chunk(s);
      if (st != kernels::Status::ok)
        throw kernels::status_error({static_cast<uint32_t>(st), static_cast<uint32_t>(segment), k});
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
  check(outputs.size() == p.segments.size(), Errc::invalid_argument,
        "decode: " + std::to_string(outputs.size()) + " outputs for a packet of " +
            std::to_string(p.segments.size()) + " segments");
  // Each table once, however many segments share it.
  std::vector<TableDecoder> tables(p.tables.size());
  for (size_t t = 0; t < p.tables.size(); ++t) build_table(p.tables[t], tables[t]);
  for (size_t s = 0; s < p.segments.size(); ++s) {
    const Descriptor& d = p.segments[s];
    if (!d.numel) continue;
    check(outputs[s] != nullptr, Errc::invalid_argument,
          "decode: output " + std::to_string(s) + " is null");
    const DType out = as_f32 ? DType::f32 : static_cast<DType>(d.dtype);
    const detail::ChunkTables view = tables[d.code_table].tables();
    if (out == DType::f32) {
      decode_segment<uint32_t>(data, d, view, out, outputs[s], s, threads);
      if (d.class_map) apply_class_map<uint32_t>(data, d, out, outputs[s], threads);
    } else {
      decode_segment<uint16_t>(data, d, view, out, outputs[s], s, threads);
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
