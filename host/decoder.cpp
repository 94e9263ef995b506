#include <string>

#include "co3/codec.h"
#include "co3/dtype.h"
#include "co3/error.h"
#include "co3/huffman.h"
#include "co3/detail/trace.h"
#include "packet.h"
#include "thread_pool.h"

namespace co3 {
namespace {

using detail::Descriptor;
using detail::load_le;

// Output bits of every entry code: value(code) × scale, in the output dtype (FORMAT.md §7).
std::vector<uint32_t> value_table(const Descriptor& d, DType out) {
  const FloatFormat f = d.format();
  std::vector<uint32_t> v(size_t{1} << f.width());
  for (uint32_t c = 0; c < v.size(); ++c)
    v[c] = store_bits(detail::fmul(decode_code(f, c), d.scale), out);
  return v;
}

template <class Out>
void decode_segment(const uint8_t* data, const Descriptor& d, const DecodeTableView& view,
                    DType out_dtype, void* output, size_t segment, int threads) {
  const std::vector<uint32_t> values = value_table(d, out_dtype);
  const int g = d.entries_per_symbol;
  const int w = 1 + d.exp_bits + d.man_bits;
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
      const auto bad = [&](const char* what) {
        fail(Errc::corrupt_packet, "segment " + std::to_string(segment) + ", chunk " +
                                       std::to_string(k) + ": " + what);
      };
      const uint8_t* words = payload + 4 * first[k];
      const uint32_t nw = load_le<uint16_t>(chunk_table + 2 * k);
      uint32_t next = 0;
      uint64_t window = 0;
      int avail = 0;
      const uint64_t begin = uint64_t{k} * d.chunk_symbols;
      const uint64_t end = std::min<uint64_t>(nsym, begin + d.chunk_symbols);
      for (uint64_t j = begin; j < end; ++j) {
        if (avail <= 32 && next < nw) {
          window |= uint64_t{load_le<uint32_t>(words + 4 * next)} << avail;
          avail += 32;
          ++next;
        }
        uint32_t sym;
        const int len = decode_symbol(view, window, &sym);
        if (len == 0) bad("invalid codeword");
        if (len > avail) bad("symbols run past the chunk's words");
        window >>= len;
        avail -= len;
        for (int t = 0; t < g; ++t) {
          const uint64_t i = j * g + t;
          if (i < d.numel)
            detail::store_le(out + i * sizeof(Out), static_cast<Out>(values[(sym >> (w * t)) & mask]));
        }
      }
      if (next != nw || avail >= 32) bad("chunk has more words than its symbols use");
      if (window != 0) bad("padding bits are not zero");
    }
  });
}

void decode_parsed(const uint8_t* data, const detail::ParsedPacket& p,
                   const std::vector<void*>& outputs, bool as_f32, int threads) {
  CO3_TRACE("decode chunks");
  check(outputs.size() == p.segments.size(), Errc::invalid_argument,
        "decode: " + std::to_string(outputs.size()) + " outputs for a packet of " +
            std::to_string(p.segments.size()) + " segments");
  // Each table once, however many segments share it.
  std::vector<DecodeTable> tables;
  tables.reserve(p.tables.size());
  for (const auto& t : p.tables)
    tables.push_back(build_decode_table(t.lengths.data(), static_cast<uint32_t>(t.lengths.size()),
                                        t.max_length));
  for (size_t s = 0; s < p.segments.size(); ++s) {
    const Descriptor& d = p.segments[s];
    if (!d.numel) continue;
    check(outputs[s] != nullptr, Errc::invalid_argument,
          "decode: output " + std::to_string(s) + " is null");
    const DType out = as_f32 ? DType::f32 : static_cast<DType>(d.dtype);
    const DecodeTableView view = tables[d.code_table].view();
    if (out == DType::f32)
      decode_segment<uint32_t>(data, d, view, out, outputs[s], s, threads);
    else
      decode_segment<uint16_t>(data, d, view, out, outputs[s], s, threads);
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
