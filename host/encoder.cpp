#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>
#include <optional>
#include <string>

#include "co3/crc32c.h"
#include "co3/dtype.h"
#include "co3/error.h"
#include "co3/gennorm.h"
#include "co3/huffman.h"
#include "co3/rng.h"
#include "co3/detail/trace.h"
#include "encode_pipeline.h"
#include "packet.h"
#include "thread_pool.h"

namespace co3::detail {
namespace {

// u = g + γ·e as two rounded float32 operations (FORMAT.md §10).
inline float feedback_input(const EncodeInput& in, uint64_t i) {
  const float g = load_as_float(in.grad.data, in.grad.dtype, i);
  return in.memory ? fadd(g, fmul(in.gamma, in.memory[i])) : g;
}

Moments segment_moments(const EncodeInput& in, int threads) {
  const uint64_t tiles = (in.grad.numel + kTileEntries - 1) / kTileEntries;
  std::vector<Moments> parts(tiles);
  parallel_for(tiles, threads, 16, [&](size_t b, size_t e) {
    for (size_t t = b; t < e; ++t) {
      const uint64_t first = uint64_t{t} * kTileEntries;
      const size_t count = static_cast<size_t>(std::min<uint64_t>(kTileEntries, in.grad.numel - first));
      parts[t] = tile_moments([&](size_t i) { return feedback_input(in, first + i); }, count);
    }
  });
  return fold_pairwise(std::move(parts));
}

float choose_scale(const CodecConfig& cfg, const Moments& m, double beta, double alpha) {
  float s = 1.0f;
  switch (cfg.scale.policy) {
    case ScalePolicy::none: s = 1.0f; break;
    case ScalePolicy::value: s = cfg.scale.value; break;
    case ScalePolicy::absmax:
      s = m.max_abs > 0 ? fdiv(m.max_abs, max_finite(cfg.format)) : 1.0f;
      break;
    case ScalePolicy::gennorm:
      s = alpha > 0 ? static_cast<float>(alpha / gennorm_optimal_t(cfg.format, cfg.rounding, beta))
                    : 1.0f;
      break;
  }
  // A scale must be a normal positive float (FORMAT.md §3); data so small that it would not be
  // gets the smallest normal scale and quantizes as well as the format allows.
  if (!(s >= std::numeric_limits<float>::min())) s = std::numeric_limits<float>::min();
  if (!(s <= std::numeric_limits<float>::max())) s = std::numeric_limits<float>::max();
  return s;
}

// The informational fit fields are float32 in the descriptor: saturate rather than overflow.
float to_field(double v) {
  const double m = std::numeric_limits<float>::max();
  return static_cast<float>(v < m ? v : m);
}

}  // namespace

Quantized quantize(const EncodeInput& in, const CodecConfig& cfg, size_t segment, int threads) {
  CO3_TRACE("quantize");
  const FloatFormat f = cfg.format;
  Quantized q;
  q.numel = in.grad.numel;
  q.width = f.width();
  q.entries_per_symbol = resolved_entries_per_symbol(cfg);
  check(in.grad.data != nullptr || q.numel == 0, Errc::invalid_argument,
        "tensor " + std::to_string(segment) + ": null data with " + std::to_string(q.numel) +
            " elements");
  check(q.numel <= kMaxElements, Errc::invalid_argument,
        "tensor " + std::to_string(segment) + ": " + std::to_string(q.numel) +
            " elements exceed the format's 2^48");
  check(std::isfinite(in.gamma), Errc::invalid_argument,
        "tensor " + std::to_string(segment) + ": memory decay gamma is not finite");
  if (in.shape) {
    const std::string at = "tensor " + std::to_string(segment) + ": shape ";
    check(in.shape->size() <= kMaxDims, Errc::invalid_argument,
          at + "has " + std::to_string(in.shape->size()) + " dimensions, more than 64");
    uint64_t product = 1;
    for (int64_t k : *in.shape) {
      check(k >= 0 && static_cast<uint64_t>(k) <= kMaxElements, Errc::invalid_argument,
            at + "size " + std::to_string(k) + " outside 0..2^48");
      product = k == 0 || product <= kMaxElements / static_cast<uint64_t>(k)
                    ? product * static_cast<uint64_t>(k) : kMaxElements + 1;
    }
    check(product == q.numel, Errc::invalid_argument,
          at + "holds " + std::to_string(product) + " elements, the tensor " +
              std::to_string(q.numel));
  }
  if (in.fit) {
    check(in.fit->beta >= kBetaMin && in.fit->beta <= kBetaMax && std::isfinite(in.fit->alpha) &&
              in.fit->alpha >= 0,
          Errc::invalid_argument,
          "tensor " + std::to_string(segment) + ": given GenNorm fit beta " +
              std::to_string(in.fit->beta) + ", alpha " + std::to_string(in.fit->alpha) +
              " outside beta 0.03..16, alpha >= 0");
  }

  q.moments = segment_moments(in, threads);
  if (q.moments.non_finite && cfg.non_finite == NonFinitePolicy::error)
    fail(Errc::non_finite, "tensor " + std::to_string(segment) + ": " +
                               std::to_string(q.moments.non_finite) +
                               " non-finite values (NaN/Inf); the non-finite policy is 'error' "
                               "(use 'clamp' to map NaN to 0 and Inf to the largest value)");
  const GenNormFit fit = in.fit ? GenNormFit{in.fit->beta, in.fit->alpha}
                                : fit_gennorm(q.moments.mean_abs(), q.moments.mean_sq());
  q.beta = fit.beta;
  q.alpha = fit.alpha;
  q.scale = choose_scale(cfg, q.moments, fit.beta, fit.alpha);

  const int g = q.entries_per_symbol;
  const uint64_t nsym = (q.numel + g - 1) / g;
  q.symbols.resize(nsym);
  q.symbol_hist.assign(size_t{1} << (g * q.width), 0);
  q.entry_hist.assign(size_t{1} << q.width, 0);
  // Value of each code, for the error memory and the NMSE.
  std::vector<float> value(size_t{1} << q.width);
  for (uint32_t c = 0; c < value.size(); ++c) value[c] = fmul(decode_code(f, c), q.scale);

  // Everything the loop reads lives in locals: the histogram bins are uint64_t like q.numel, and
  // stores to them would otherwise force reloads of every captured field.
  const float scale = q.scale;
  const uint64_t numel = q.numel, seed = cfg.seed;
  const int width = q.width;
  const Rounding rounding = cfg.rounding;
  const bool stochastic = rounding == Rounding::stochastic;
  float* const memory = in.memory;
  const float* const values = value.data();
  uint16_t* const symbols = q.symbols.data();
  std::mutex merge;
  parallel_for(nsym, threads, 1 << 14, [&](size_t b, size_t e) {
    std::vector<uint64_t> sh(q.symbol_hist.size()), eh(q.entry_hist.size());
    uint64_t* const sym_bins = sh.data();
    uint64_t* const entry_bins = eh.data();
    double err = 0, ref = 0;
    for (size_t j = b; j < e; ++j) {
      uint32_t sym = 0;
      for (int t = 0; t < g; ++t) {
        const uint64_t i = uint64_t{j} * g + t;
        uint32_t code = 0;
        if (i < numel) {
          const float u = feedback_input(in, i);
          const bool finite = (f32_bits(u) & 0x7fffffffu) < 0x7f800000u;
          // NaN becomes 0 under the clamp policy; Inf saturates in encode_float.
          if (f32_bits(u) << 1 <= 0xff000000u)
            code = encode_float(fdiv(u, scale), f, rounding, stochastic ? random_word(seed, i) : 0);
          ++entry_bins[code];
          const float d = fsub(u, values[code]);
          if (finite) {
            err += static_cast<double>(d) * d;
            ref += static_cast<double>(u) * u;
          }
          if (memory) memory[i] = finite ? d : 0.0f;
        }
        sym |= code << (width * t);
      }
      symbols[j] = static_cast<uint16_t>(sym);
      ++sym_bins[sym];
    }
    std::lock_guard<std::mutex> lock(merge);
    for (size_t k = 0; k < sh.size(); ++k) q.symbol_hist[k] += sh[k];
    for (size_t k = 0; k < eh.size(); ++k) q.entry_hist[k] += eh[k];
    q.err_sq += err;
    q.ref_sq += ref;
  });
  return q;
}

void model_parameters(const Quantized& q, CodeSource src, double* beta, double* alpha) {
  GenNormFit fit{q.beta, q.alpha};
  if (src == CodeSource::normal) fit = fit_normal(q.moments.mean_sq());
  if (src == CodeSource::laplace) fit = fit_laplace(q.moments.mean_abs());
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
    gennorm_code_pmf(cfg.format, cfg.rounding, beta, alpha / q->scale, pmf.data());
    const double share = static_cast<double>(q->numel) / static_cast<double>(total);
    const uint32_t mask = (1u << q->width) - 1;
    for (uint32_t s = 0; s < symbols; ++s) {
      double p = share;
      for (int t = 0; t < q->entries_per_symbol; ++t) p *= pmf[(s >> (q->width * t)) & mask];
      mix[s] += p;
    }
  }
  // Every symbol gets a weight of at least 1, so a model code can encode any data.
  std::vector<uint64_t> w(symbols);
  for (size_t s = 0; s < symbols; ++s) {
    const double scaled = std::floor(mix[s] * 1099511627776.0);  // 2^40
    w[s] = scaled >= 1.0 ? static_cast<uint64_t>(scaled) : 1;
  }
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
      uint64_t bits = 0;
      for (size_t j = k * size_t{chunk_symbols}; j < end; ++j) bits += lengths[symbols[j]];
      words[k] = static_cast<uint16_t>((bits + 31) / 32);
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
      uint64_t window = 0;
      int bits = 0;
      for (size_t j = k * size_t{chunk_symbols}; j < end; ++j) {
        const uint32_t s = symbols[j];
        window |= uint64_t{rev[s]} << bits;
        bits += lengths[s];
        if (bits >= 32) {
          store_le(out, static_cast<uint32_t>(window));
          out += 4;
          window >>= 32;
          bits -= 32;
        }
      }
      if (bits > 0) store_le(out, static_cast<uint32_t>(window));
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

std::vector<uint8_t> encode(const std::vector<EncodeInput>& inputs, const CodecConfig& cfg,
                            EncodeReport* report) {
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
  std::vector<Segment> segs(inputs.size());
  std::vector<const Quantized*> coded;  // the non-empty segments
  for (size_t i = 0; i < inputs.size(); ++i) {
    segs[i].q = quantize(inputs[i], cfg, i, threads);
    if (segs[i].q.numel) coded.push_back(&segs[i].q);
  }
  check(cfg.shared_code || coded.size() <= 65535, Errc::invalid_argument,
        "more than 65535 non-empty tensors in one packet without shared_code");
  // One code for all (shared_code) or one per non-empty segment.
  // Codes and chunk sizes; the range ends where the packet is written ("pack").
  std::optional<TraceRange> codebook_range(std::in_place, "codebook");
  std::vector<std::vector<uint8_t>> tables;
  if (cfg.shared_code && !coded.empty()) tables.push_back(code_lengths_for(coded, cfg.code, cfg));
  for (Segment& s : segs) {
    if (!s.q.numel) continue;
    if (!cfg.shared_code) tables.push_back(code_lengths_for(s.q, cfg.code, cfg));
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
  std::vector<std::vector<uint8_t>> bodies;
  uint64_t size = kHeaderBytes + kDescriptorBytes * segs.size() + shape_section_bytes(shapes) + 4;
  for (const auto& lengths : tables) {
    bodies.push_back(write_code_lengths(lengths.data(), static_cast<uint32_t>(lengths.size())));
    size += align8(kTableHeaderBytes + bodies.back().size());
  }
  for (const Segment& s : segs) size += segment_data_bytes(s.words.size(), s.payload_words);

  codebook_range.reset();
  CO3_TRACE("pack");
  std::vector<uint8_t> pkt(size, 0);
  std::copy(kMagic, kMagic + 4, pkt.data());
  store_le(pkt.data() + 4, with_shapes ? kVersionShapes : kVersionPlain);
  store_le(pkt.data() + 6, with_shapes ? kFlagShapes : uint16_t{0});
  store_le(pkt.data() + 8, uint64_t{size});
  store_le(pkt.data() + 16, static_cast<uint32_t>(tables.size()));
  store_le(pkt.data() + 20, static_cast<uint32_t>(segs.size()));
  uint64_t cursor = kHeaderBytes + kDescriptorBytes * segs.size();
  for (const auto& shape : shapes) {
    store_le(pkt.data() + cursor, uint64_t{shape.size()});
    for (size_t k = 0; k < shape.size(); ++k)
      store_le(pkt.data() + cursor + 8 + 8 * k, static_cast<uint64_t>(shape[k]));
    cursor += 8 * (1 + shape.size());
  }
  for (const auto& body : bodies) {
    uint8_t* h = pkt.data() + cursor;
    h[0] = static_cast<uint8_t>(cfg.format.width() * resolved_entries_per_symbol(cfg));
    h[1] = static_cast<uint8_t>(resolved_max_code_length(cfg));
    store_le(h + 4, static_cast<uint32_t>(body.size()));
    std::copy(body.begin(), body.end(), h + kTableHeaderBytes);
    cursor += align8(kTableHeaderBytes + body.size());
  }
  if (report) report->segments.clear();
  std::vector<bool> table_reported(tables.size(), false);
  for (size_t i = 0; i < segs.size(); ++i) {
    const Segment& s = segs[i];
    Descriptor d;
    d.numel = s.q.numel;
    d.data_offset = cursor;
    d.payload_words = s.payload_words;
    d.scale = s.q.scale;
    d.beta = to_field(s.q.beta);
    d.alpha = to_field(s.q.alpha);
    d.chunk_symbols = cfg.chunk_symbols;
    d.code_table = s.table;
    d.dtype = static_cast<uint8_t>(inputs[i].grad.dtype);
    d.exp_bits = cfg.format.exp_bits;
    d.man_bits = cfg.format.man_bits;
    d.layout = static_cast<uint8_t>(cfg.format.layout);
    d.bias = cfg.format.bias;
    d.rounding = static_cast<uint8_t>(cfg.rounding);
    d.entries_per_symbol = static_cast<uint8_t>(s.q.entries_per_symbol);
    d.code_source = static_cast<uint8_t>(cfg.code);
    store_descriptor(pkt.data() + kHeaderBytes + kDescriptorBytes * i, d);
    uint8_t* table = pkt.data() + cursor;
    for (size_t k = 0; k < s.words.size(); ++k) store_le(table + 2 * k, s.words[k]);
    if (s.q.numel)
      pack_chunks(s.q.symbols, tables[s.table], cfg.chunk_symbols, s.words,
                  table + align8(2 * s.words.size()), threads);
    cursor += segment_data_bytes(s.words.size(), s.payload_words);
    if (report) {
      SegmentReport r;
      r.moments = s.q.moments;
      r.beta = s.q.beta;
      r.alpha = s.q.alpha;
      r.scale = s.q.scale;
      r.entropy_bits = entropy_bits(s.q.entry_hist);
      r.symbol_entropy_bits = entropy_bits(s.q.symbol_hist) / s.q.entries_per_symbol;
      r.payload_bits = 8 * segment_data_bytes(s.words.size(), s.payload_words);
      // A shared table is counted once, with the first segment that uses it.
      if (s.q.numel && !table_reported[s.table]) {
        r.table_bits = 8 * align8(kTableHeaderBytes + bodies[s.table].size());
        table_reported[s.table] = true;
      }
      r.nmse = s.q.ref_sq > 0 ? s.q.err_sq / s.q.ref_sq : 0.0;
      report->segments.push_back(r);
    }
  }
  store_le(pkt.data() + size - 4, crc32c_parallel(pkt.data(), size - 4, threads));
  if (report) report->packet_bytes = size;
  return pkt;
}

std::vector<uint8_t> encode(const TensorView& tensor, const CodecConfig& cfg, EncodeReport* report) {
  EncodeInput in;
  in.grad = tensor;
  return encode(std::vector<EncodeInput>{in}, cfg, report);
}

}  // namespace co3
