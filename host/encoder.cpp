#include <algorithm>
#include <cmath>
#include <mutex>
#include <optional>
#include <string>

#include "co3/crc32c.h"
#include "co3/dtype.h"
#include "co3/error.h"
#include "co3/gennorm.h"
#include "co3/gennorm_scale.h"
#include "co3/huffman.h"
#include "co3/rng.h"
#include "co3/detail/class_map.h"
#include "co3/detail/encode_bits.h"
#include "co3/detail/encode_checks.h"
#include "co3/detail/encode_code.h"
#include "co3/detail/encode_entry.h"
#include "co3/detail/encode_layout.h"
#include "co3/detail/encode_stats.h"
#include "co3/detail/trace.h"
#include "encode_pipeline.h"
#include "packet.h"
#include "thread_pool.h"

namespace co3::detail {
namespace {

Moments segment_moments(const EncodeInput& in, int threads) {
  const uint64_t tiles = (in.grad.numel + kTileEntries - 1) / kTileEntries;
  std::vector<Moments> parts(tiles);
  parallel_for(tiles, threads, 16, [&](size_t b, size_t e) {
    for (size_t t = b; t < e; ++t) {
      const uint64_t first = uint64_t{t} * kTileEntries;
      const size_t count = static_cast<size_t>(std::min<uint64_t>(kTileEntries, in.grad.numel - first));
      parts[t] = tile_moments(
          [&](size_t i) {
            return feedback_input(load_as_float(in.grad.data, in.grad.dtype, first + i), in.memory,
                                  in.gamma, first + i);
          },
          count);
    }
  });
  return fold_pairwise_in_place(parts.data(), parts.size());
}

}  // namespace

Quantized segment_stats(const EncodeInput& in, const CodecConfig& cfg, size_t segment,
                        int threads) {
  CO3_TRACE("moments");
  const FloatFormat f = cfg.format;
  Quantized q;
  q.numel = in.grad.numel;
  q.width = f.width();
  q.entries_per_symbol = resolved_entries_per_symbol(cfg);
  check_encode_input(in, segment);

  q.moments = segment_moments(in, threads);
  if (q.moments.non_finite && cfg.non_finite == NonFinitePolicy::error)
    fail(Errc::non_finite, non_finite_message(segment, q.moments.non_finite));
  const GenNormFit fit = segment_fit(q.moments, in.fit.has_value(), in.fit ? in.fit->beta : 0.0,
                                     in.fit ? in.fit->alpha : 0.0);
  q.beta = fit.beta;
  q.alpha = fit.alpha;
  q.scale = choose_scale(cfg.scale.policy, cfg.scale.value, f, q.moments.max_abs, fit.beta,
                         fit.alpha,
                         [&](double beta) {
                           return lookup_optimal_t(scale_table(f, cfg.rounding), beta);
                         });
  return q;
}

void quantize_symbols(const EncodeInput& in, const CodecConfig& cfg, Quantized& q, int threads) {
  CO3_TRACE("quantize");
  const FloatFormat f = cfg.format;
  const int g = q.entries_per_symbol;
  const uint64_t nsym = (q.numel + g - 1) / g;
  q.symbols.resize(nsym);
  q.symbol_hist.assign(size_t{1} << (g * q.width), 0);
  q.entry_hist.assign(size_t{1} << q.width, 0);
  // Value of each code, for the error memory and the NMSE.
  std::vector<float> value(size_t{1} << q.width);
  for (uint32_t c = 0; c < value.size(); ++c) value[c] = code_value(f, c, q.scale);

  // Everything the loop reads lives in locals: the histogram bins are uint64_t like q.numel, and
  // stores to them would otherwise force reloads of every captured field.
  const float scale = q.scale;
  const uint64_t numel = q.numel, seed = cfg.seed;
  const int width = q.width;
  const Rounding rounding = cfg.rounding;
  const float* const memory = in.memory;
  const void* const grad = in.grad.data;
  const DType dtype = in.grad.dtype;
  const float gamma = in.gamma;
  const float* const values = value.data();
  uint16_t* const symbols = q.symbols.data();
  const bool propagate = cfg.non_finite == NonFinitePolicy::propagate;
  // A tensor with a class map keeps its error memory as it was (a step that a loss scaler skips
  // must not move it); the map records every non-finite u.
  q.class_map = has_class_map(packet_coding(cfg), q.moments.non_finite);
  float* const write = q.class_map ? nullptr : in.memory;
  if (q.class_map) {
    q.map_words.resize(class_map_words(class_map_bytes(numel, true)));
    parallel_for(q.map_words.size(), threads, 1 << 12, [&](size_t b, size_t e) {
      for (size_t w = b; w < e; ++w)
        q.map_words[w] = class_map_word(w, numel, [&](uint64_t i) {
          return feedback_input(load_as_float(grad, dtype, i), memory, gamma, i);
        });
    });
  }
  std::mutex merge;
  parallel_for(nsym, threads, 1 << 14, [&](size_t b, size_t e) {
    std::vector<uint64_t> sh(q.symbol_hist.size()), eh(q.entry_hist.size());
    uint64_t* const sym_bins = sh.data();
    uint64_t* const entry_bins = eh.data();
    double err = 0, ref = 0;
    for (size_t j = b; j < e; ++j) {
      const uint32_t sym = encode_symbol(j, g, width, numel, [&](uint64_t i) {
        const float u = feedback_input(load_as_float(grad, dtype, i), memory, gamma, i);
        const EntryCode c = quantize_entry(u, i, scale, f, rounding, seed, propagate,
                                           [&](uint32_t code) { return values[code]; });
        ++entry_bins[c.code];
        if (c.finite) {
          err += static_cast<double>(c.diff) * c.diff;
          ref += static_cast<double>(u) * u;
        }
        if (write) write[i] = c.memory();
        return c.code;
      });
      symbols[j] = static_cast<uint16_t>(sym);
      ++sym_bins[sym];
    }
    std::lock_guard<std::mutex> lock(merge);
    for (size_t k = 0; k < sh.size(); ++k) q.symbol_hist[k] += sh[k];
    for (size_t k = 0; k < eh.size(); ++k) q.entry_hist[k] += eh[k];
    q.err_sq += err;
    q.ref_sq += ref;
  });
}

Quantized quantize(const EncodeInput& in, const CodecConfig& cfg, size_t segment, int threads) {
  Quantized q = segment_stats(in, cfg, segment, threads);
  quantize_symbols(in, cfg, q, threads);
  return q;
}

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

std::vector<uint16_t> chunk_words(const std::vector<uint16_t>& symbols, const uint8_t* lengths,
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

void pack_chunks(const std::vector<uint16_t>& symbols, const std::vector<uint8_t>& lengths,
                 uint32_t chunk_symbols, const std::vector<uint16_t>& words, uint8_t* payload,
                 int threads) {
  std::vector<uint32_t> rev(lengths.size());
  encode_table(lengths.data(), static_cast<uint32_t>(lengths.size()), rev.data());
  std::vector<uint64_t> first(words.size());
  uint64_t acc = 0;
  for (size_t k = 0; k < words.size(); ++k) {
    first[k] = acc;
    acc += words[k];
  }
  parallel_for(words.size(), threads, 16, [&](size_t b, size_t e) {
    for (size_t k = b; k < e; ++k) {
      uint8_t* out = payload + 4 * first[k];
      const size_t end = std::min(symbols.size(), (k + 1) * size_t{chunk_symbols});
      // The payload starts zeroed; each chunk is one range at bit 0 of its words.
      pack_range(symbols.data(), k * size_t{chunk_symbols}, end, lengths.data(), rev.data(), 0,
                 [out](uint64_t w, uint32_t v) {
                   store_le(out + 4 * w, load_le<uint32_t>(out + 4 * w) | v);
                 });
    }
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
    std::vector<uint16_t> words;
    uint64_t payload_words = 0;
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
  for (size_t i = 0; i < inputs.size(); ++i) {
    segs[i].q = segment_stats(inputs[i], cfg, i, threads);
    if (segs[i].q.numel) coded.push_back(&segs[i].q);
  }
  // Only a code built from the data can fail after the conversion (more symbols occur than
  // codes of max_code_length bits tell apart): then the memories are copied, to be put back
  // if the encode does not complete.
  MemoryRollback rollback(inputs, !prior && code_may_fail(cfg));
  for (size_t i = 0; i < inputs.size(); ++i) quantize_symbols(inputs[i], cfg, segs[i].q, threads);
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
    s.words = chunk_words(s.q.symbols, tables[s.table].data(), cfg.chunk_symbols, threads);
    for (uint16_t w : s.words) s.payload_words += w;
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
    data_offset.push_back(layout.segment(s.words.size(), s.payload_words,
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
                                            data_offset[i], s.payload_words, s.q.scale, s.q.beta,
                                            s.q.alpha, s.q.class_map);
    store_descriptor(pkt.data() + kHeaderBytes + kDescriptorBytes * i, d);
    for (size_t w = 0; w < s.q.map_words.size(); ++w)
      store_le(pkt.data() + d.map_offset() + 4 * w, s.q.map_words[w]);
    uint8_t* table = pkt.data() + data_offset[i];
    for (size_t k = 0; k < s.words.size(); ++k) store_le(table + 2 * k, s.words[k]);
    if (s.q.numel)
      pack_chunks(s.q.symbols, tables[s.table], cfg.chunk_symbols, s.words,
                  table + align8(2 * s.words.size()), threads);
    if (report) {
      SegmentReport r;
      r.moments = s.q.moments;
      r.beta = s.q.beta;
      r.alpha = s.q.alpha;
      r.scale = s.q.scale;
      r.entropy_bits = entropy_bits(s.q.entry_hist);
      r.symbol_entropy_bits = entropy_bits(s.q.symbol_hist) / s.q.entries_per_symbol;
      r.payload_bits = 8 * segment_data_bytes(s.words.size(), s.payload_words,
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
  if (report) report->packet_bytes = size;
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
