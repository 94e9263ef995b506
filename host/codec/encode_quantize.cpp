// The encoder's first two passes on the CPU: moments, fit and scale, then conversion, error
// memory, symbols and the symbol histogram. The per-entry arithmetic is encode_entry.h's and
// code_thresholds.h's; this file only chooses, once per segment, a loop specialized for what the
// segment needs (issue 13: a loop generic at run time over dtype, entries per symbol, rounding
// and error feedback cost more than the conversion itself).
#include <algorithm>
#include <memory>
#include <mutex>

#include "co3/dtype.h"
#include "co3/error.h"
#include "co3/gennorm.h"
#include "co3/gennorm_scale.h"
#include "co3/detail/rate_target.h"
#include "co3/detail/class_map.h"
#include "co3/detail/code_shift.h"
#include "co3/detail/code_thresholds.h"
#include "co3/detail/encode_checks.h"
#include "co3/detail/encode_entry.h"
#include "co3/detail/encode_layout.h"
#include "co3/detail/encode_stats.h"
#include "co3/detail/trace.h"
#include "cpu_features.h"
#include "encode_pipeline.h"
#include "gennorm_fit.h"
#include "encode_moments.h"
#include "thread_pool.h"

namespace co3::detail {
namespace {

// How a segment's codes are found: quantize_entry itself, the bucket table of
// code_thresholds.h, its signed table (segments whose u are all finite; signed_exact: and no
// bucket of it holds two thresholds, so no entry needs threshold_code), (formats with
// kCountCmax finite magnitudes: fp4) a count of thresholds, or code_shift.h's rounding of the
// bits: shift_code (per-entry shifts, vectorized with AVX2 and up) or shift_code_f1 (bias 127:
// one shift, vectorized everywhere).
enum class Conv { reference, buckets, signed_table, signed_exact, count, shift, shift_f1 };
constexpr uint32_t kCountCmax = 5;

// The threshold tables of one segment (code_thresholds.h), built when the rounding allows them
// and the segment is large enough to repay them: T costs a few reference conversions per code,
// the buckets one pass; below that size the reference conversion per entry is cheaper.
struct Thresholds {
  std::vector<uint32_t> T;
  std::vector<uint64_t> buckets;
  std::unique_ptr<uint64_t[]> signed_table;  // only its filled entries are ever read
  ThresholdView view{};
};

constexpr uint32_t kMaxThresholdBuckets = 1u << 17;  // 1 MiB: bf16; fp16 (2^20) stays reference

Conv build_thresholds(const Quantized& q, FloatFormat f, Rounding r, int threads, Thresholds* out) {
  if (!threshold_rounding(r)) return Conv::reference;
  const int shift = threshold_bucket_shift(f);
  // The largest |u| bit pattern of the segment: its maximum, or +Inf's when it holds any
  // non-finite entry (NaN is mapped to 0 before the lookup).
  const uint32_t bound = q.moments.non_finite ? kF32InfBits : f32_bits(q.moments.max_abs);
  const uint32_t cmax = f.max_code();
  const bool count = cmax == kCountCmax;
  const uint32_t buckets = count ? 1 : (bound >> shift) + 1;
  if (buckets > kMaxThresholdBuckets || q.numel < uint64_t{buckets} / 8 + uint64_t{8} * cmax)
    return Conv::reference;
  out->T.assign(size_t{cmax} + 2, 0);
  uint32_t* const T = out->T.data();
  const float scale = q.scale;
  parallel_for(cmax, threads, 2048, [&](size_t b, size_t e) {
    for (size_t c = b; c < e; ++c) T[c + 1] = code_threshold(static_cast<uint32_t>(c + 1), scale, f, r);
  });
  if (!count) {
    out->buckets.resize(buckets);
    fill_threshold_buckets(T, cmax, shift, out->buckets.data(), buckets);
  }
  out->view = {T, out->buckets.data(), cmax, buckets - 1, shift,
               static_cast<uint32_t>(f.exp_bits + f.man_bits)};
  if (count) return Conv::count;
  // fp16's half would be 2^20 entries: it keeps the buckets.
  if (q.moments.non_finite || signed_table_half(shift) > (1u << 18)) return Conv::buckets;
  // Sized for every bit pattern (at most 4 MiB, of which only the filled entries are
  // touched): u never exceeds the moments' max_abs, which bounds the filled ones, but a read
  // past them stays inside the allocation whatever happens.
  out->signed_table.reset(new uint64_t[uint64_t{2} * signed_table_half(shift)]);
  fill_signed_table(out->view, out->signed_table.get());
  for (uint64_t b : out->buckets)
    if (b >> 63) return Conv::signed_table;
  return Conv::signed_exact;
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
  const uint64_t* signed_table;
  ShiftView shift;
  void* symbols;  // Sym (SymbolBuffer): uint8_t or uint16_t
};

// Symbols [b, e): the calls of the reference loop (feedback_input, quantize_entry or the
// thresholds' equal code, encode_symbol) with everything the segment fixes made a constant.
// kG = 0: g read at run time. kSums: Σ(u − q)² and Σu² for a report, otherwise not computed.
// Counts go to four interleaved histograms (symbol j to copy j mod 4, `stride` bins apart; 0
// for one) so that runs of one symbol do not wait on their own increments; the caller adds them.
// Conv::count and the shifts take blocks of symbols through separate loops (u, codes, memory,
// symbols, counts), of which the first two and the symbols' vectorize; the AVX2 and AVX-512
// versions below take eight or sixteen lanes with variable shifts, chosen at run time.
template <class Sym, int kG, bool kF32, bool kMemory, Conv kConv, bool kSums>
inline __attribute__((always_inline)) void convert_range_body(const LoopArgs& args, size_t b,
                                                              size_t e, uint64_t* hist,
                                                              size_t stride, double* err_sq,
                                                              double* ref_sq) {
  const LoopArgs a = args;  // a local copy: stores to hist or symbols cannot change it
  const int g = kG ? kG : a.g;
  const DType dtype = kF32 ? DType::f32 : a.dtype;
  float* const memory = kMemory ? a.memory : nullptr;
  const auto value_of = [&](uint32_t code) { return kMemory || kSums ? a.values[code] : 0.0f; };
  double err = 0, ref = 0;
  const auto u_of = [&](uint64_t i) { return feedback_input(load_as_float(a.grad, dtype, i), memory, a.gamma, i); };
  const auto code_for = [&](float u, uint64_t i) {
    if (kConv == Conv::count) return threshold_count_code<kCountCmax>(a.view.T, a.view.sign_shift, u);
    if (kConv == Conv::buckets) return threshold_code(a.view, u);
    if (kConv == Conv::signed_table) {
      const uint32_t c = signed_table_code(a.signed_table, a.view.shift, f32_bits(u));
      return __builtin_expect(c != kSignedSlow, 1) ? c : threshold_code(a.view, u);
    }
    if (kConv == Conv::signed_exact) return signed_table_code(a.signed_table, a.view.shift, f32_bits(u));
    if (kConv == Conv::shift) return shift_code(a.shift, fdiv(u, a.scale));
    if (kConv == Conv::shift_f1) return shift_code_f1(a.shift, fdiv(u, a.scale));
    // Segments here hold no non-finite u under 'propagate' (those take quantize_mapped).
    return quantize_entry(u, i, a.scale, a.f, a.rounding, a.seed, /*propagate=*/false, value_of).code;
  };
  const auto finish = [&](float u, uint64_t i, uint32_t code) {  // memory, sums; returns code
    const EntryCode c = entry_code(u, code, value_of);
    if (kSums && c.finite) {
      err += static_cast<double>(c.diff) * c.diff;
      ref += static_cast<double>(u) * u;
    }
    if (kMemory) memory[i] = c.memory();
    return code;
  };
  const auto code_of = [&](uint64_t i) {
    const float u = u_of(i);
    return finish(u, i, code_for(u, i));
  };
  Sym* const symbols = static_cast<Sym*>(a.symbols);
  const auto put = [&](size_t j, uint32_t s, size_t copy) {
    symbols[j] = static_cast<Sym>(s);
    ++hist[copy * stride + s];
  };
  // Every symbol but the segment's last has all g entries.
  const size_t whole = std::min<size_t>(e, a.numel / static_cast<uint64_t>(g));
  size_t j = b;
  if (kConv == Conv::count || kConv == Conv::shift || kConv == Conv::shift_f1) {
    constexpr size_t kBlock = 256;  // symbols; u and codes of their entries stay in L1
    float u[4 * kBlock];
    uint32_t codes[4 * kBlock];
    // Whole blocks, then the rest of the whole symbols as one shorter block (a small tensor is
    // mostly rest: per entry, the scalar loop below cost several times the blocks).
    for (size_t bs; (bs = std::min(kBlock, whole > j ? whole - j : 0)) != 0; j += bs) {
      const uint64_t i0 = j * static_cast<uint64_t>(g);
      const size_t n = bs * static_cast<size_t>(g);
      for (size_t k = 0; k < n; ++k) u[k] = u_of(i0 + k);
      // The loop invariants as locals (read through code_for's captures, the per-entry shifts
      // did not vectorize).
      const ShiftView v = a.shift;
      const float scale = a.scale;
      if (kConv == Conv::count) {
        for (size_t k = 0; k < n; ++k) codes[k] = threshold_count_code<kCountCmax>(a.view.T, a.view.sign_shift, u[k]);
      } else if (kConv == Conv::shift) {
        for (size_t k = 0; k < n; ++k) codes[k] = shift_code(v, fdiv(u[k], scale));
      } else {
        for (size_t k = 0; k < n; ++k) codes[k] = shift_code_f1(v, fdiv(u[k], scale));
      }
      if (kMemory || kSums)
        for (size_t k = 0; k < n; ++k) finish(u[k], i0 + k, codes[k]);
      Sym* const sym = symbols + j;
      if (g == 1) {
        for (size_t t = 0; t < bs; ++t) sym[t] = static_cast<Sym>(codes[t]);
      } else {
        for (size_t t = 0; t < bs; ++t)
          sym[t] = static_cast<Sym>(encode_whole_symbol(t, g, a.width, [&](uint64_t i) { return codes[i]; }));
      }
      size_t t = 0;
      for (; t + 4 <= bs; t += 4) {
        ++hist[sym[t]];
        ++hist[stride + sym[t + 1]];
        ++hist[2 * stride + sym[t + 2]];
        ++hist[3 * stride + sym[t + 3]];
      }
      for (; t < bs; ++t) ++hist[sym[t]];
    }
  }
  for (; j + 4 <= whole; j += 4) {
    const uint32_t s0 = encode_whole_symbol(j, g, a.width, code_of);
    const uint32_t s1 = encode_whole_symbol(j + 1, g, a.width, code_of);
    const uint32_t s2 = encode_whole_symbol(j + 2, g, a.width, code_of);
    const uint32_t s3 = encode_whole_symbol(j + 3, g, a.width, code_of);
    put(j, s0, 0);
    put(j + 1, s1, 1);
    put(j + 2, s2, 2);
    put(j + 3, s3, 3);
  }
  for (; j < e; ++j) put(j, encode_symbol(j, g, a.width, a.numel, code_of), 0);
  *err_sq += err;
  *ref_sq += ref;
}

// convert_range_body as a function for each instruction set (cpu_features.h): the baseline and
// the AVX2 and AVX-512 versions, same bits.
#define CO3_CONVERT_RANGE(name, target)                                                          \
  template <class Sym, int kG, bool kF32, bool kMemory, Conv kConv, bool kSums>                 \
  __attribute__((flatten)) target void name(const LoopArgs& args, size_t b, size_t e,           \
                                            uint64_t* hist, size_t stride, double* err_sq,      \
                                            double* ref_sq) {                                   \
    convert_range_body<Sym, kG, kF32, kMemory, kConv, kSums>(args, b, e, hist, stride, err_sq, ref_sq); \
  }
CO3_CONVERT_RANGE(convert_range, )
CO3_CONVERT_RANGE(convert_range_avx2, CO3_TARGET_AVX2)
CO3_CONVERT_RANGE(convert_range_avx512, CO3_TARGET_AVX512)
#undef CO3_CONVERT_RANGE

using LoopFn = void (*)(const LoopArgs&, size_t, size_t, uint64_t*, size_t, double*, double*);

// The vectorized conversions (Conv::shift, Conv::shift_f1, Conv::count) in the widest version the
// CPU runs.
template <class Sym, int kG, bool kF32, bool kMemory, Conv kConv>
LoopFn pick_loop(bool sums) {
  if (kConv == Conv::shift || kConv == Conv::shift_f1 || kConv == Conv::count) {
    if (cpu_has_avx512())
      return sums ? convert_range_avx512<Sym, kG, kF32, kMemory, kConv, true>
                  : convert_range_avx512<Sym, kG, kF32, kMemory, kConv, false>;
    if (cpu_has_avx2())
      return sums ? convert_range_avx2<Sym, kG, kF32, kMemory, kConv, true>
                  : convert_range_avx2<Sym, kG, kF32, kMemory, kConv, false>;
  }
  return sums ? convert_range<Sym, kG, kF32, kMemory, kConv, true>
              : convert_range<Sym, kG, kF32, kMemory, kConv, false>;
}

// Only the symbol types a conversion meets are compiled: a run-time g (kG = 0, g ≥ 3) always
// has 16-bit symbols and a fixed g of 1 or 2 with fp4 (Conv::count) byte ones (byte_symbols);
// Conv::shift_f1 is bias 127's, formats of at least 9 bits.
template <int kG, bool kF32, bool kMemory>
LoopFn pick_loop(Conv conv, bool bytes, bool sums) {
  if (conv == Conv::count) {
    if constexpr (kG == 0) return pick_loop<uint16_t, kG, kF32, kMemory, Conv::count>(sums);
    else return pick_loop<uint8_t, kG, kF32, kMemory, Conv::count>(sums);
  }
  if (conv == Conv::shift_f1) return pick_loop<uint16_t, kG, kF32, kMemory, Conv::shift_f1>(sums);
  if (bytes && kG != 0) {
    if (conv == Conv::shift) return pick_loop<uint8_t, kG, kF32, kMemory, Conv::shift>(sums);
    if (conv == Conv::buckets) return pick_loop<uint8_t, kG, kF32, kMemory, Conv::buckets>(sums);
    if (conv == Conv::signed_table) return pick_loop<uint8_t, kG, kF32, kMemory, Conv::signed_table>(sums);
    if (conv == Conv::signed_exact) return pick_loop<uint8_t, kG, kF32, kMemory, Conv::signed_exact>(sums);
    return pick_loop<uint8_t, kG, kF32, kMemory, Conv::reference>(sums);
  }
  if (conv == Conv::shift) return pick_loop<uint16_t, kG, kF32, kMemory, Conv::shift>(sums);
  if (conv == Conv::buckets) return pick_loop<uint16_t, kG, kF32, kMemory, Conv::buckets>(sums);
  if (conv == Conv::signed_table) return pick_loop<uint16_t, kG, kF32, kMemory, Conv::signed_table>(sums);
  if (conv == Conv::signed_exact) return pick_loop<uint16_t, kG, kF32, kMemory, Conv::signed_exact>(sums);
  return pick_loop<uint16_t, kG, kF32, kMemory, Conv::reference>(sums);
}

template <int kG>
LoopFn pick_loop(bool f32, bool memory, Conv conv, bool bytes, bool sums) {
  if (f32) return memory ? pick_loop<kG, true, true>(conv, bytes, sums) : pick_loop<kG, true, false>(conv, bytes, sums);
  return memory ? pick_loop<kG, false, true>(conv, bytes, sums) : pick_loop<kG, false, false>(conv, bytes, sums);
}

LoopFn pick_loop(int g, bool f32, bool memory, Conv conv, bool bytes, bool sums) {
  if (g == 1) return pick_loop<1>(f32, memory, conv, bytes, sums);
  if (g == 2) return pick_loop<2>(f32, memory, conv, bytes, sums);
  return pick_loop<0>(f32, memory, conv, bytes, sums);
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

// A segment under 'propagate' that holds NaN/Inf (rare: a step a loss scaler will skip): the
// reference conversion entry by entry, the class map (FORMAT.md §6a) of every non-finite u, and
// no error-memory write. Speed does not matter here; being the GPU's bytes does.
void quantize_mapped(const EncodeInput& in, const CodecConfig& cfg, Quantized& q, int threads) {
  const FloatFormat f = cfg.format;
  const int g = q.entries_per_symbol;
  const uint64_t numel = q.numel, seed = cfg.seed;
  const int width = q.width;
  std::vector<float> value(size_t{1} << q.width);
  for (uint32_t c = 0; c < value.size(); ++c) value[c] = code_value(f, c, q.scale);
  const auto u_of = [&](uint64_t i) {
    return feedback_input(load_as_float(in.grad.data, in.grad.dtype, i), in.memory, in.gamma, i);
  };
  q.map_words.resize(class_map_words(class_map_bytes(numel, true)));
  parallel_for(q.map_words.size(), threads, 1 << 12, [&](size_t b, size_t e) {
    for (size_t w = b; w < e; ++w) q.map_words[w] = class_map_word(w, numel, u_of);
  });
  std::mutex merge;
  parallel_for(q.symbols.size(), threads, 1 << 14, [&](size_t b, size_t e) {
    std::vector<uint64_t> sh(q.symbol_hist.size());
    double err = 0, ref = 0;
    for (size_t j = b; j < e; ++j) {
      const uint32_t sym = encode_symbol(j, g, width, numel, [&](uint64_t i) {
        const float u = u_of(i);
        const EntryCode c = quantize_entry(u, i, q.scale, f, cfg.rounding, seed, /*propagate=*/true,
                                           [&](uint32_t code) { return value[code]; });
        if (c.finite) {
          err += static_cast<double>(c.diff) * c.diff;
          ref += static_cast<double>(u) * u;
        }
        return c.code;
      });
      if (q.symbols.bytes()) q.symbols.data<uint8_t>()[j] = static_cast<uint8_t>(sym);
      else q.symbols.data<uint16_t>()[j] = static_cast<uint16_t>(sym);
      ++sh[sym];
    }
    std::lock_guard<std::mutex> lock(merge);
    for (size_t k = 0; k < sh.size(); ++k) q.symbol_hist[k] += sh[k];
    q.err_sq += err;
    q.ref_sq += ref;
  });
  q.entry_hist = entry_histogram(q);
}

}  // namespace

Quantized segment_stats(const EncodeInput& in, const CodecConfig& cfg, const PacketCoding& pc,
                        size_t segment, int threads, double rate_payload) {
  CO3_TRACE("moments");
  const FloatFormat f = cfg.format;
  Quantized q;
  q.numel = in.grad.numel;
  q.width = f.width();
  q.entries_per_symbol = pc.entries_per_symbol;
  check_encode_input(in, segment);

  q.moments = co3::moments(std::vector<EncodeInput>{in}, threads);  // one piece: every tile fast
  if (q.moments.non_finite && cfg.non_finite == NonFinitePolicy::error)
    fail(Errc::non_finite, non_finite_message(segment, q.moments.non_finite));
  // segment_fit's result, its bisection by gennorm_fit.h's shortcut.
  const GenNormFit fit = in.fit ? GenNormFit{in.fit->beta, in.fit->alpha}
                                : fit_gennorm_host(moments_mean_abs(q.moments), moments_mean_sq(q.moments));
  q.beta = fit.beta;
  q.alpha = fit.alpha;
  q.scale = choose_scale(cfg.scale.policy, cfg.scale.value, f, q.moments.max_abs, fit.beta,
                         fit.alpha,
                         [&](double beta) {
                           return lookup_optimal_t(scale_table(f, cfg.rounding), beta);
                         },
                         RateTarget{cfg.rounding, q.entries_per_symbol, rate_payload,
                                    zero_block_symbols(pc)});
  return q;
}

void quantize_symbols(const EncodeInput& in, const CodecConfig& cfg, const PacketCoding& pc,
                      Quantized& q, int threads, bool sums) {
  CO3_TRACE("quantize");
  const FloatFormat f = cfg.format;
  const int g = q.entries_per_symbol;
  const uint64_t nsym = (q.numel + g - 1) / g;
  q.symbols.resize(nsym, byte_symbols(g, q.width));
  q.symbol_hist.assign(size_t{1} << (g * q.width), 0);
  // A tensor with a class map ('propagate' met NaN/Inf) keeps its error memory as it was (a step
  // that a loss scaler skips must not move it): its u still read the memory.
  q.class_map = has_class_map(pc, q.moments.non_finite);
  if (q.class_map) {
    quantize_mapped(in, cfg, q, threads);
    return;
  }
  const bool memory = in.memory != nullptr;
  Thresholds th;
  // The rounding of the bits where it vectorizes: everywhere for bias 127 (bf16), with AVX2's
  // per-lane shifts for the others (fp4, e4m3, e5m2, fp16). Without AVX2 those take the
  // thresholds: scalar shifts were 2–4 times slower than the thresholds' lookups there.
  const bool shift = shift_format(f) && threshold_rounding(cfg.rounding);
  const Conv conv = shift && f.bias == 127 ? Conv::shift_f1
                    : shift && cpu_has_avx2() ? Conv::shift
                                              : build_thresholds(q, f, cfg.rounding, threads, &th);
  // Value of each code, for the error memory and the NMSE (and the reference loop's diff).
  std::vector<float> value;
  if (memory || sums) {
    value.resize(size_t{1} << q.width);
    for (uint32_t c = 0; c < value.size(); ++c) value[c] = code_value(f, c, q.scale);
  }
  const LoopArgs args{in.grad.data, in.grad.dtype, in.memory, in.gamma, q.numel, g, q.width,
                      f, cfg.rounding, cfg.seed, q.scale, value.data(), th.view,
                      th.signed_table.get(), shift_view(f, cfg.rounding), q.symbols.data<void>()};
  const LoopFn loop = pick_loop(g, in.grad.dtype == DType::f32, memory, conv, q.symbols.bytes(), sums);
  std::mutex merge;
  // Four interleaved histograms for alphabets up to 4096 symbols (fp4 pairs, 8-bit formats);
  // one for 16-bit symbols, whose counts rarely hit the same bin back to back.
  const size_t alphabet = q.symbol_hist.size();
  const size_t copies = alphabet <= 4096 ? 4 : 1;
  // At least 65,536 symbols a thread (tens of microseconds of work): handing a worker less cost
  // more than it saved (a LeNet-sized model encoded 25% slower on two threads than on one).
  parallel_for(nsym, threads, 1 << 16, [&](size_t b, size_t e) {
    std::vector<uint64_t> hist(copies * alphabet);
    double err = 0, ref = 0;
    loop(args, b, e, hist.data(), copies == 4 ? alphabet : 0, &err, &ref);
    std::lock_guard<std::mutex> lock(merge);
    for (size_t c = 0; c < copies; ++c)  // copy by copy: no division per bin
      for (size_t k = 0; k < alphabet; ++k) q.symbol_hist[k] += hist[c * alphabet + k];
    q.err_sq += err;
    q.ref_sq += ref;
  });
  q.entry_hist = entry_histogram(q);
}

Quantized quantize(const EncodeInput& in, const CodecConfig& cfg, const PacketCoding& pc,
                   size_t segment, int threads, bool sums) {
  Quantized q = segment_stats(in, cfg, pc, segment, threads, rate_policy_payload({in}, cfg));
  quantize_symbols(in, cfg, pc, q, threads, sums);
  return q;
}

}  // namespace co3::detail

namespace co3 {

Moments moments(const std::vector<EncodeInput>& inputs, int threads) {
  std::vector<uint64_t> starts(inputs.size() + 1, 0);  // of each input in the concatenation
  for (size_t k = 0; k < inputs.size(); ++k) {
    check(inputs[k].grad.numel == 0 || inputs[k].grad.data != nullptr, Errc::invalid_argument,
          "moments: a tensor of entries without data");
    starts[k + 1] = starts[k] + inputs[k].grad.numel;
  }
  const uint64_t total = starts.back();
  const uint64_t tiles = (total + kTileEntries - 1) / kTileEntries;
  std::vector<Moments> parts(tiles);
  detail::parallel_for(tiles, threads, 16, [&](size_t b, size_t e) {
    for (size_t t = b; t < e; ++t) {
      const uint64_t first = uint64_t{t} * kTileEntries;
      const size_t count = static_cast<size_t>(std::min<uint64_t>(kTileEntries, total - first));
      // The input holding the tile's first entry; a tile within it takes the encoder's fast
      // path, one across inputs the generic one (the same bits, moments.h).
      const size_t k = static_cast<size_t>(std::upper_bound(starts.begin(), starts.end(), first) - starts.begin()) - 1;
      if (first + count <= starts[k + 1]) {
        parts[t] = detail::tile_moments_fast(inputs[k], first - starts[k], count);
        continue;
      }
      size_t at = k;
      parts[t] = tile_moments(
          [&](size_t i) {
            const uint64_t n = first + i;
            while (n >= starts[at + 1]) ++at;  // i ascends: the input only moves forward
            const EncodeInput& in = inputs[at];
            const uint64_t j = n - starts[at];
            return detail::feedback_input(load_as_float(in.grad.data, in.grad.dtype, j), in.memory,
                                          in.gamma, j);
          },
          count);
    }
  });
  return detail::fold_pairwise_in_place(parts.data(), parts.size());
}

}  // namespace co3
