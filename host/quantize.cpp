// The encoder's first two passes on the CPU: moments, fit and scale, then conversion, error
// memory, symbols and the symbol histogram. The per-entry arithmetic is encode_entry.h's and
// code_thresholds.h's; this file only chooses, once per segment, a loop specialized for what the
// segment needs (issue 13: a loop generic at run time over dtype, entries per symbol, rounding
// and error feedback cost more than the conversion itself).
#include <algorithm>
#include <mutex>

#include "co3/dtype.h"
#include "co3/error.h"
#include "co3/gennorm.h"
#include "co3/gennorm_scale.h"
#include "co3/detail/code_thresholds.h"
#include "co3/detail/encode_checks.h"
#include "co3/detail/encode_entry.h"
#include "co3/detail/encode_stats.h"
#include "co3/detail/trace.h"
#include "encode_pipeline.h"
#include "moments_tile.h"
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
      parts[t] = tile_moments_fast(in, first, count);
    }
  });
  return fold_pairwise_in_place(parts.data(), parts.size());
}

// The threshold tables of one segment (code_thresholds.h), built when the rounding allows them
// and the segment is large enough to repay them: T costs a few reference conversions per code,
// the buckets one pass; below that size the reference conversion per entry is cheaper.
struct Thresholds {
  std::vector<uint32_t> T;
  std::vector<uint64_t> buckets;
  ThresholdView view{};
};

constexpr uint32_t kMaxThresholdBuckets = 1u << 17;  // 1 MiB: bf16; fp16 (2^20) stays reference

bool build_thresholds(const Quantized& q, FloatFormat f, Rounding r, int threads, Thresholds* out) {
  if (!threshold_rounding(r)) return false;
  const int shift = threshold_bucket_shift(f);
  // The largest |u| bit pattern of the segment: its maximum, or +Inf's when it holds any
  // non-finite entry (NaN is mapped to 0 before the lookup).
  const uint32_t bound = q.moments.non_finite ? kF32InfBits : f32_bits(q.moments.max_abs);
  const uint32_t count = (bound >> shift) + 1;
  const uint32_t cmax = f.max_code();
  if (count > kMaxThresholdBuckets || q.numel < uint64_t{count} / 8 + uint64_t{8} * cmax) return false;
  out->T.assign(size_t{cmax} + 2, 0);
  uint32_t* const T = out->T.data();
  const float scale = q.scale;
  parallel_for(cmax, threads, 2048, [&](size_t b, size_t e) {
    for (size_t c = b; c < e; ++c) T[c + 1] = code_threshold(static_cast<uint32_t>(c + 1), scale, f, r);
  });
  out->buckets.resize(count);
  fill_threshold_buckets(T, cmax, shift, out->buckets.data(), count);
  out->view = {T, out->buckets.data(), cmax, count - 1, shift,
               static_cast<uint32_t>(f.exp_bits + f.man_bits)};
  return true;
}

// What a segment's conversion loop reads.
struct LoopArgs {
  const void* grad;
  DType dtype;
  float* memory;
  float gamma;
  uint64_t numel;
  int g, width;
  FloatFormat f;
  Rounding rounding;
  uint64_t seed;
  float scale;
  const float* values;  // code_value of every code; read only with memory or sums
  ThresholdView view;
  uint16_t* symbols;
};

// Symbols [b, e): the calls of the reference loop (feedback_input, quantize_entry or the
// thresholds' equal code, encode_symbol) with everything the segment fixes made a constant.
// kG = 0: g read at run time. kSums: Σ(u − q)² and Σu² for a report, otherwise not computed.
// Counts go to `copies` interleaved histograms (symbol j to copy j mod copies, `stride` bins
// apart) so that runs of one symbol do not wait on their own increments; the caller adds them.
template <int kG, bool kF32, bool kMemory, bool kTable, bool kSums>
__attribute__((flatten)) void quantize_symbols(const LoopArgs& args, size_t b, size_t e,
                                               uint64_t* hist, size_t stride, double* err_sq,
                                               double* ref_sq) {
  const LoopArgs a = args;  // a local copy: stores to hist or symbols cannot change it
  const int g = kG ? kG : a.g;
  const DType dtype = kF32 ? DType::f32 : a.dtype;
  float* const memory = kMemory ? a.memory : nullptr;
  const auto value_of = [&](uint32_t code) { return kMemory || kSums ? a.values[code] : 0.0f; };
  double err = 0, ref = 0;
  const auto code_of = [&](uint64_t i) {
    const float u = feedback_input(load_as_float(a.grad, dtype, i), memory, a.gamma, i);
    const EntryCode c = kTable ? entry_code(u, threshold_code(a.view, u), value_of)
                               : quantize_entry(u, i, a.scale, a.f, a.rounding, a.seed, value_of);
    if (kSums && c.finite) {
      err += static_cast<double>(c.diff) * c.diff;
      ref += static_cast<double>(u) * u;
    }
    if (kMemory) memory[i] = c.memory();
    return c.code;
  };
  const auto symbol = [&](size_t j) { return encode_whole_symbol(j, g, a.width, code_of); };
  // Every symbol but the segment's last has all g entries.
  const size_t whole = std::min<size_t>(e, a.numel / static_cast<uint64_t>(g));
  size_t j = b;
  for (; j + 4 <= whole; j += 4) {
    const uint32_t s0 = symbol(j), s1 = symbol(j + 1), s2 = symbol(j + 2), s3 = symbol(j + 3);
    a.symbols[j] = static_cast<uint16_t>(s0);
    a.symbols[j + 1] = static_cast<uint16_t>(s1);
    a.symbols[j + 2] = static_cast<uint16_t>(s2);
    a.symbols[j + 3] = static_cast<uint16_t>(s3);
    ++hist[s0];
    ++hist[stride + s1];
    ++hist[2 * stride + s2];
    ++hist[3 * stride + s3];
  }
  for (; j < e; ++j) {
    const uint32_t s = encode_symbol(j, g, a.width, a.numel, code_of);
    a.symbols[j] = static_cast<uint16_t>(s);
    ++hist[s];
  }
  *err_sq += err;
  *ref_sq += ref;
}

using LoopFn = void (*)(const LoopArgs&, size_t, size_t, uint64_t*, size_t, double*, double*);

template <int kG, bool kF32, bool kMemory>
LoopFn pick_loop(bool table, bool sums) {
  if (table) return sums ? quantize_symbols<kG, kF32, kMemory, true, true>
                         : quantize_symbols<kG, kF32, kMemory, true, false>;
  return sums ? quantize_symbols<kG, kF32, kMemory, false, true>
              : quantize_symbols<kG, kF32, kMemory, false, false>;
}

template <int kG>
LoopFn pick_loop(bool f32, bool memory, bool table, bool sums) {
  if (f32) return memory ? pick_loop<kG, true, true>(table, sums) : pick_loop<kG, true, false>(table, sums);
  return memory ? pick_loop<kG, false, true>(table, sums) : pick_loop<kG, false, false>(table, sums);
}

LoopFn pick_loop(int g, bool f32, bool memory, bool table, bool sums) {
  if (g == 1) return pick_loop<1>(f32, memory, table, sums);
  if (g == 2) return pick_loop<2>(f32, memory, table, sums);
  return pick_loop<0>(f32, memory, table, sums);
}

// The entry histogram from the symbol histogram: each symbol's g entries, less the padding
// entries of the last symbol (code 0, not entries of the tensor).
std::vector<uint64_t> entry_histogram(const Quantized& q) {
  std::vector<uint64_t> h(size_t{1} << q.width, 0);
  const uint32_t mask = (1u << q.width) - 1;
  for (uint32_t s = 0; s < q.symbol_hist.size(); ++s)
    if (q.symbol_hist[s])
      for (int t = 0; t < q.entries_per_symbol; ++t) h[(s >> (q.width * t)) & mask] += q.symbol_hist[s];
  if (q.numel) h[0] -= q.symbols.size() * q.entries_per_symbol - q.numel;
  return h;
}

}  // namespace

Quantized quantize(const EncodeInput& in, const CodecConfig& cfg, size_t segment, int threads,
                   bool sums) {
  CO3_TRACE("quantize");
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

  const int g = q.entries_per_symbol;
  const uint64_t nsym = (q.numel + g - 1) / g;
  q.symbols.resize(nsym);
  q.symbol_hist.assign(size_t{1} << (g * q.width), 0);
  const bool memory = in.memory != nullptr;
  Thresholds th;
  const bool table = build_thresholds(q, f, cfg.rounding, threads, &th);
  // Value of each code, for the error memory and the NMSE (and the reference loop's diff).
  std::vector<float> value;
  if (memory || sums) {
    value.resize(size_t{1} << q.width);
    for (uint32_t c = 0; c < value.size(); ++c) value[c] = code_value(f, c, q.scale);
  }
  const LoopArgs args{in.grad.data, in.grad.dtype, in.memory, in.gamma, q.numel, g, q.width,
                      f, cfg.rounding, cfg.seed, q.scale, value.data(), th.view,
                      q.symbols.data()};
  const LoopFn loop = pick_loop(g, in.grad.dtype == DType::f32, memory, table, sums);
  std::mutex merge;
  // Four interleaved histograms for alphabets up to 4096 symbols (fp4 pairs, 8-bit formats);
  // one for 16-bit symbols, whose counts rarely hit the same bin back to back.
  const size_t alphabet = q.symbol_hist.size();
  const size_t copies = alphabet <= 4096 ? 4 : 1;
  parallel_for(nsym, threads, 1 << 14, [&](size_t b, size_t e) {
    std::vector<uint64_t> hist(copies * alphabet);
    double err = 0, ref = 0;
    loop(args, b, e, hist.data(), copies == 4 ? alphabet : 0, &err, &ref);
    std::lock_guard<std::mutex> lock(merge);
    for (size_t k = 0; k < hist.size(); ++k) q.symbol_hist[k % alphabet] += hist[k];
    q.err_sq += err;
    q.ref_sq += ref;
  });
  q.entry_hist = entry_histogram(q);
  return q;
}

}  // namespace co3::detail
