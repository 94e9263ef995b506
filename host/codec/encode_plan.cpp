#include <algorithm>
#include <cmath>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "co3/crc32c.h"
#include "co3/dtype.h"
#include "co3/error.h"
#include "co3/gennorm.h"
#include "co3/huffman.h"
#include "co3/detail/class_map.h"
#include "co3/detail/encode_bits.h"
#include "co3/detail/encode_checks.h"
#include "co3/detail/encode_code.h"
#include "co3/detail/encode_layout.h"
#include "co3/detail/encode_stats.h"
#include "co3/detail/rate_target.h"
#include "co3/detail/trace.h"
#include "cpu_features.h"
#include "encode_pipeline.h"
#include "packet.h"
#include "thread_pool.h"

namespace co3::detail {

void model_parameters(const Quantized& q, CodeSource src, double* beta, double* alpha) {
  const GenNormFit fit = model_fit(src, GenNormFit{q.beta, q.alpha}, q.moments);
  *beta = fit.beta;
  *alpha = fit.alpha;
}

std::vector<uint8_t> code_lengths_for(const std::vector<const Quantized*>& qs, CodeSource src,
                                      const CodecConfig& cfg) {
  const int L = resolved_max_code_length(cfg);
  const size_t symbols = qs.front()->symbol_hist.size();
  if (src == CodeSource::histogram) {
    std::vector<uint64_t> counts(symbols, 0);
    for (const Quantized* q : qs)
      for (size_t k = 0; k < symbols; ++k) counts[k] += q->symbol_hist[k];
    return code_lengths(counts, L);
  }
  // A model code for several segments codes their mixture, each weighted by its entries.
  uint64_t total = 0;
  for (const Quantized* q : qs) total += q->numel;
  std::vector<double> mix(symbols, 0.0), pmf;
  for (const Quantized* q : qs) {
    double beta, alpha;
    model_parameters(*q, src, &beta, &alpha);
    pmf.assign(size_t{1} << q->width, 0.0);
    gennorm_code_pmf(cfg.format, cfg.rounding, beta, ddiv(alpha, q->scale), pmf.data());
    const double share = mixture_share(q->numel, total);
    for (uint32_t s = 0; s < symbols; ++s)
      mix[s] = dadd(mix[s], symbol_model_mass(pmf.data(), s, q->width, q->entries_per_symbol, share));
  }
  std::vector<uint64_t> w(symbols);
  for (size_t s = 0; s < symbols; ++s) w[s] = model_weight(mix[s]);
  return code_lengths(w, L);
}

std::vector<uint8_t> code_lengths_for(const Quantized& q, CodeSource src, const CodecConfig& cfg) {
  return code_lengths_for(std::vector<const Quantized*>{&q}, src, cfg);
}

std::vector<uint16_t> chunk_words(const SymbolVector& symbols, const uint8_t* lengths,
                                  uint32_t chunk_symbols, int threads) {
  const size_t chunks = (symbols.size() + chunk_symbols - 1) / chunk_symbols;
  std::vector<uint16_t> words(chunks);
  parallel_for(chunks, threads, 16, [&](size_t b, size_t e) {
    for (size_t k = b; k < e; ++k) {
      const size_t end = std::min(symbols.size(), (k + 1) * size_t{chunk_symbols});
      words[k] = static_cast<uint16_t>(
          chunk_words_for(range_bits(symbols.data(), k * size_t{chunk_symbols}, end, lengths)));
    }
  });
  return words;
}

namespace {

using PackChunk = uint64_t (*)(const uint16_t*, uint64_t, uint64_t, CodeWords, uint8_t*);
using PackPairs = uint64_t (*)(const uint16_t*, uint64_t, uint64_t, CodeWords, CodeWords, uint8_t*);

// The packers compiled for BMI2 as well (shifts by a register without the count in CL, and
// without the moves around it), chosen at run time (cpu_features.h).
template <int kPerStore>
__attribute__((flatten)) CO3_TARGET_BMI2 uint64_t pack_bytes_bmi2(const uint16_t* sym, uint64_t begin,
                                                                 uint64_t end, CodeWords cw,
                                                                 uint8_t* out) {
  return pack_chunk_bytes<kPerStore, uint16_t>(sym, begin, end, cw, out);
}
__attribute__((flatten)) CO3_TARGET_BMI2 uint64_t pack_pairs_bmi2(const uint16_t* sym, uint64_t begin,
                                                                 uint64_t end, CodeWords pairs,
                                                                 CodeWords cw, uint8_t* out) {
  return pack_chunk_pairs<2>(sym, begin, end, pairs, cw, out);
}

PackChunk pack_chunk_for(int max_len) {
  const bool bmi2 = cpu_has_bmi2();
  switch (codewords_per_store(max_len)) {
    case 4: return bmi2 ? pack_bytes_bmi2<4> : pack_chunk_bytes<4, uint16_t>;
    case 3: return bmi2 ? pack_bytes_bmi2<3> : pack_chunk_bytes<3, uint16_t>;
    default: return bmi2 ? pack_bytes_bmi2<2> : pack_chunk_bytes<2, uint16_t>;
  }
}

PackPairs pack_pairs_for() {
  return cpu_has_bmi2() ? pack_pairs_bmi2 : pack_chunk_pairs<2>;
}

// The pair table pays for itself (65,536 entries) from about this many symbols on.
constexpr size_t kPairSymbols = size_t{1} << 18;

}  // namespace

PackedChunks pack_segment(const SymbolVector& symbols, const std::vector<uint8_t>& lengths,
                          uint32_t chunk_symbols, int threads) {
  std::vector<uint32_t> codes(lengths.size());
  encode_table(lengths.data(), static_cast<uint32_t>(lengths.size()), codes.data());
  const CodeWords cw{codes.data(), lengths.data()};
  const uint8_t max_len = *std::max_element(lengths.begin(), lengths.end());
  const PackChunk by_symbol = pack_chunk_for(max_len);
  // 8-bit alphabets with short codes (e4m3, e5m2: L = 12) add codewords in pairs.
  std::vector<uint32_t> pair_codes;
  std::vector<uint8_t> pair_lens;
  if (lengths.size() == 256 && max_len <= kPairMaxLen && symbols.size() >= kPairSymbols) {
    pair_codes.resize(size_t{1} << 16);
    pair_lens.resize(size_t{1} << 16);
    for (uint32_t b = 0; b < 256; ++b)
      for (uint32_t a = 0; a < 256; ++a) pair_codeword(cw, a, b, &pair_codes[a | b << 8], &pair_lens[a | b << 8]);
  }
  const CodeWords pairs{pair_codes.data(), pair_lens.data()};
  static_assert(codewords_per_store(2 * kPairMaxLen) >= 2, "two pairs between stores");
  const PackPairs by_pairs = pack_pairs_for();
  const auto pack = [&](const uint16_t* sym, uint64_t begin, uint64_t end, uint8_t* out) {
    return pair_codes.empty() ? by_symbol(sym, begin, end, cw, out) : by_pairs(sym, begin, end, pairs, cw, out);
  };
  const size_t chunks = (symbols.size() + chunk_symbols - 1) / chunk_symbols;
  PackedChunks p;
  p.words.resize(chunks);
  std::vector<std::pair<size_t, PackedChunks::Part>> parts;
  std::mutex mu;
  parallel_for(chunks, threads, 16, [&](size_t b, size_t e) {
    const size_t first = b * size_t{chunk_symbols}, last = std::min(symbols.size(), e * size_t{chunk_symbols});
    // Each chunk at most max_len bits a symbol, whole words, and the packer's 8 bytes of room.
    // Not zeroed: the packer's stores cover every byte of every chunk's words.
    PackedChunks::Part part{std::unique_ptr<uint8_t[]>(new uint8_t[(last - first) * max_len / 8 + 4 * (e - b) + 8]), 0};
    uint8_t* const bytes = part.bytes.get();
    size_t at = 0;
    for (size_t k = b; k < e; ++k) {
      const size_t begin = k * size_t{chunk_symbols};
      const size_t end = std::min(symbols.size(), begin + chunk_symbols);
      const uint64_t words = chunk_words_for(pack(symbols.data(), begin, end, bytes + at));
      p.words[k] = static_cast<uint16_t>(words);
      at += 4 * words;
    }
    part.size = at;
    std::lock_guard<std::mutex> lock(mu);
    parts.emplace_back(b, std::move(part));
  });
  std::sort(parts.begin(), parts.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  for (auto& part : parts) p.parts.push_back(std::move(part.second));
  for (uint16_t w : p.words) p.payload_words += w;
  return p;
}

void write_payload(const PackedChunks& p, uint8_t* payload, int threads) {
  // One part per packing thread: copied in parallel (a serial copy of a large payload was the
  // encoder's one pass that did not scale with threads).
  std::vector<size_t> at(p.parts.size() + 1, 0);
  for (size_t i = 0; i < p.parts.size(); ++i) at[i + 1] = at[i] + p.parts[i].size;
  parallel_for(p.parts.size(), threads, 1, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i)
      std::copy(p.parts[i].bytes.get(), p.parts[i].bytes.get() + p.parts[i].size, payload + at[i]);
  });
}

double entropy_bits(const std::vector<uint64_t>& hist) {
  uint64_t total = 0;
  for (uint64_t c : hist) total += c;
  if (!total) return 0;
  double h = 0;
  for (uint64_t c : hist)
    if (c) {
      const double p = static_cast<double>(c) / static_cast<double>(total);
      h -= p * std::log2(p);
    }
  return h;
}

}  // namespace co3::detail

namespace co3 {

namespace {

// Copies of the error memories an encode may write, put back by the destructor unless the
// encode commits: a failed encode leaves every memory as it was.
class MemoryRollback {
 public:
  MemoryRollback(const std::vector<EncodeInput>& inputs, bool enabled) {
    if (!enabled) return;
    for (const EncodeInput& in : inputs)
      if (in.memory)
        saved_.push_back({in.memory, std::vector<float>(in.memory, in.memory + in.grad.numel)});
  }
  MemoryRollback(const MemoryRollback&) = delete;
  MemoryRollback& operator=(const MemoryRollback&) = delete;
  ~MemoryRollback() {
    for (auto& [memory, copy] : saved_) std::copy(copy.begin(), copy.end(), memory);
  }
  void commit() { saved_.clear(); }

 private:
  std::vector<std::pair<float*, std::vector<float>>> saved_;
};

// encode() with a code built from the data (prior null) or given (a PriorCode).
std::vector<uint8_t> encode_packet(const std::vector<EncodeInput>& inputs, const CodecConfig& cfg,
                                   const PriorCode* prior, EncodeReport* report) {
  using namespace detail;
  CO3_TRACE("co3::encode");
  validate(cfg);
  check(inputs.size() <= kMaxSegments, Errc::invalid_argument, "more than 2^24 tensors in one packet");
  const int threads = resolve_threads(cfg.threads);
  struct Segment {
    Quantized q;
    uint16_t table = kNoTable;
    PackedChunks packed;
  };
  // Every argument is checked before any error memory is written.
  size_t non_empty = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    check_encode_input(inputs[i], i);
    non_empty += inputs[i].grad.numel != 0;
  }
  check(cfg.shared_code || non_empty <= 65535, Errc::invalid_argument,
        "more than 65535 non-empty tensors in one packet without shared_code");
  if (prior) check_prior_code(*prior, cfg, non_empty);
  // Every segment's statistics (and the non-finite check) before any error memory is written,
  // so that a refused tensor leaves every memory as it was.
  std::vector<Segment> segs(inputs.size());
  std::vector<const Quantized*> coded;  // the non-empty segments
  const double rate_payload = rate_policy_payload(inputs, cfg);
  for (size_t i = 0; i < inputs.size(); ++i) {
    segs[i].q = segment_stats(inputs[i], cfg, i, threads, rate_payload);
    if (segs[i].q.numel) coded.push_back(&segs[i].q);
  }
  // Only a code built from the data can fail after the conversion (more symbols occur than
  // codes of max_code_length bits tell apart): then the memories are copied, to be put back
  // if the encode does not complete.
  MemoryRollback rollback(inputs, !prior && code_may_fail(cfg));
  for (size_t i = 0; i < inputs.size(); ++i)
    quantize_symbols(inputs[i], cfg, segs[i].q, threads, report != nullptr);
  // One code for all (shared_code) or one per non-empty segment.
  // Codes and chunk sizes; the range ends where the packet is written ("pack").
  std::optional<TraceRange> codebook_range(std::in_place, "codebook");
  std::vector<std::vector<uint8_t>> tables;
  const auto next_table = [&](const std::vector<const Quantized*>& qs) {
    tables.push_back(prior ? prior->tables[tables.size()] : code_lengths_for(qs, cfg.code, cfg));
  };
  if (cfg.shared_code && !coded.empty()) next_table(coded);
  for (Segment& s : segs) {
    if (!s.q.numel) continue;
    if (!cfg.shared_code) next_table({&s.q});
    s.table = static_cast<uint16_t>(tables.size() - 1);
    s.packed = pack_segment(s.q.symbols, tables[s.table], cfg.chunk_symbols, threads);
  }
  // Shapes (a version-2 packet) as soon as one input carries one; the others get [numel].
  std::vector<std::vector<int64_t>> shapes;
  bool with_shapes = false;
  for (const EncodeInput& in : inputs) with_shapes = with_shapes || in.shape.has_value();
  if (with_shapes) {
    for (size_t i = 0; i < inputs.size(); ++i)
      shapes.push_back(inputs[i].shape ? *inputs[i].shape
                                       : std::vector<int64_t>{static_cast<int64_t>(inputs[i].grad.numel)});
  }
  const PacketCoding pc = packet_coding(cfg);
  std::vector<std::vector<uint8_t>> bodies;
  uint64_t shape_bytes = 0;
  for (const auto& shape : shapes) shape_bytes += shape_record_bytes(shape.size());
  LayoutCursor layout(segs.size(), shape_bytes);
  std::vector<uint64_t> table_offset;
  for (const auto& lengths : tables) {
    bodies.push_back(write_code_lengths(lengths.data(), static_cast<uint32_t>(lengths.size())));
    table_offset.push_back(layout.table(bodies.back().size()));
  }
  std::vector<uint64_t> data_offset;
  bool with_class_maps = false;
  for (const Segment& s : segs) {
    data_offset.push_back(layout.segment(s.packed.words.size(), s.packed.payload_words,
                                         class_map_bytes(s.q.numel, s.q.class_map)));
    with_class_maps = with_class_maps || s.q.class_map;
  }
  const uint64_t size = layout.total();

  codebook_range.reset();
  CO3_TRACE("pack");
  std::vector<uint8_t> pkt(size, 0);
  store_header(pkt.data(), with_shapes, with_class_maps, size, static_cast<uint32_t>(tables.size()),
               static_cast<uint32_t>(segs.size()));
  uint64_t shape_at = kHeaderBytes + kDescriptorBytes * segs.size();
  for (const auto& shape : shapes) {
    store_shape_record(pkt.data() + shape_at, shape.data(), shape.size());
    shape_at += shape_record_bytes(shape.size());
  }
  for (size_t t = 0; t < tables.size(); ++t) {
    uint8_t* h = pkt.data() + table_offset[t];
    store_table_header(h, pc.symbol_bits(), pc.max_code_length,
                       static_cast<uint32_t>(bodies[t].size()));
    std::copy(bodies[t].begin(), bodies[t].end(), h + kTableHeaderBytes);
  }
  if (report) report->segments.clear();
  std::vector<bool> table_reported(tables.size(), false);
  for (size_t i = 0; i < segs.size(); ++i) {
    const Segment& s = segs[i];
    const Descriptor d = segment_descriptor(pc, s.q.numel, inputs[i].grad.dtype, s.table,
                                            data_offset[i], s.packed.payload_words, s.q.scale,
                                            s.q.beta, s.q.alpha, s.q.class_map);
    store_descriptor(pkt.data() + kHeaderBytes + kDescriptorBytes * i, d);
    for (size_t w = 0; w < s.q.map_words.size(); ++w)
      store_le(pkt.data() + d.map_offset() + 4 * w, s.q.map_words[w]);
    uint8_t* table = pkt.data() + data_offset[i];
    const std::vector<uint16_t>& words = s.packed.words;
    for (size_t k = 0; k < words.size(); ++k) store_le(table + 2 * k, words[k]);
    write_payload(s.packed, table + align8(2 * words.size()), threads);
    if (report) {
      SegmentReport r;
      r.moments = s.q.moments;
      r.beta = s.q.beta;
      r.alpha = s.q.alpha;
      r.scale = s.q.scale;
      r.entropy_bits = entropy_bits(s.q.entry_hist);
      r.symbol_entropy_bits = entropy_bits(s.q.symbol_hist) / s.q.entries_per_symbol;
      r.payload_bits = 8 * segment_data_bytes(s.packed.words.size(), s.packed.payload_words,
                                              class_map_bytes(s.q.numel, s.q.class_map));
      // A shared table is counted once, with the first segment that uses it.
      if (s.q.numel && !table_reported[s.table]) {
        r.table_bits = 8 * table_bytes(bodies[s.table].size());
        table_reported[s.table] = true;
      }
      r.nmse = s.q.ref_sq > 0 ? s.q.err_sq / s.q.ref_sq : 0.0;
      report->segments.push_back(r);
    }
  }
  store_le(pkt.data() + size - 4, crc32c_parallel(pkt.data(), size - 4, threads));
  if (report) {
    uint64_t entries = 0;
    for (const EncodeInput& in : inputs) entries += in.grad.numel;
    report->packet_bytes = size;
    report->bits_per_entry = entries ? 8.0 * static_cast<double>(size) / static_cast<double>(entries) : 0.0;
    report->target_bits_per_entry = cfg.scale.policy == ScalePolicy::rate ? cfg.scale.bits_per_entry : 0.0;
  }
  rollback.commit();
  return pkt;
}

}  // namespace

std::vector<uint8_t> encode(const std::vector<EncodeInput>& inputs, const CodecConfig& cfg,
                            EncodeReport* report) {
  return encode_packet(inputs, cfg, nullptr, report);
}

std::vector<uint8_t> encode(const std::vector<EncodeInput>& inputs, const CodecConfig& cfg,
                            const PriorCode& prior, EncodeReport* report) {
  return encode_packet(inputs, cfg, &prior, report);
}

PriorCode prior_code(const uint8_t* packet, size_t size) {
  PriorCode p;
  for (detail::ParsedTable& t : detail::parse_packet(packet, size, 0).tables)
    p.tables.push_back(std::move(t.lengths));
  return p;
}

std::vector<uint8_t> encode(const TensorView& tensor, const CodecConfig& cfg, EncodeReport* report) {
  EncodeInput in;
  in.grad = tensor;
  return encode(std::vector<EncodeInput>{in}, cfg, report);
}

}  // namespace co3
