#include "co3/rate_control.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "co3/detail/encode_entry.h"
#include "co3/detail/encode_layout.h"
#include "co3/detail/encode_stats.h"
#include "co3/detail/rate_target.h"
#include "co3/dtype.h"
#include "co3/error.h"
#include "co3/gennorm_rate.h"
#include "co3/gennorm_scale.h"

namespace co3 {
namespace {

// Bisection steps on the payload target p (bits per entry, a bracket of at most 8 bits wide):
// 2^-24 of it is far below what a packet's size resolves.
constexpr int kAskSteps = 24;

std::vector<std::pair<uint32_t, uint64_t>> non_empty(const std::vector<uint64_t>& counts) {
  std::vector<std::pair<uint32_t, uint64_t>> bins;
  for (uint32_t b = 0; b < counts.size(); ++b)
    if (counts[b]) bins.emplace_back(b, counts[b]);
  return bins;
}

// −p·log2 p summed with the sign bit of the nonzero codes: the entropy of one entry whose
// magnitude codes have masses m[0 … cmax].
double entry_entropy(const double* m, uint32_t cmax) {
  double h = 0;
  for (uint32_t c = 0; c <= cmax; ++c) h += detail::neg_p_log2(m[c]);
  return h + (1.0 - m[0]);
}

double binary_entropy(double p) { return detail::neg_p_log2(p) + detail::neg_p_log2(1.0 - p); }

// The edges of bin b in |u| units (the last finite bin ends at FLT_MAX).
double bin_low(uint32_t b) { return detail::bits_f32(b << kMagnitudeBinShift); }
double bin_high(uint32_t b) {
  return b + 1 < kMagnitudeBins ? detail::bits_f32((b + 1) << kMagnitudeBinShift)
                                : static_cast<double>(detail::kFloatMax);
}

// The fit the codec uses for an input with these moments: the input's given one, else the moments'.
GenNormFit input_fit(const EncodeInput& in, const Moments& m) {
  return in.fit ? detail::segment_fit(m, true, in.fit->beta, in.fit->alpha)
                : detail::segment_fit(m, false, 0.0, 0.0);
}

// The scale the codec gives a segment of this fit and moments for payload target p
// (encode_plan.cpp's segment_stats: the fit, then choose_scale).
float codec_scale(const GenNormFit& fit, const Moments& m, const detail::PacketCoding& pc, double p) {
  const ScaleTable& table = scale_table(pc.format, pc.rounding);
  return detail::choose_scale(
      ScalePolicy::rate, 1.0f, pc.format, m.max_abs, fit.beta, fit.alpha,
      [&](double beta) { return lookup_optimal_t(table, beta); },
      detail::RateTarget{pc.rounding, pc.entries_per_symbol, p, zero_block_symbols(pc)});
}

// codec_scale as a function of p, tabulated: the model's rate at kGridPoints values of log t
// from the solver's all-zero end to t* (gennorm_rate_t's bracket), inverted by interpolation.
// The controller's search runs on these (one model evaluation a point instead of the solver's
// 40 a call); its last steps use codec_scale itself.
constexpr int kGridPoints = 64;
struct ScaleCurve {
  float max_abs = 0;
  double alpha = 0, log_t[kGridPoints] = {}, bits[kGridPoints] = {};

  ScaleCurve(const GenNormFit& fit, const Moments& m, const detail::PacketCoding& pc)
      : max_abs(m.max_abs) {
    alpha = fit.alpha;
    if (!(alpha > 0)) return;
    const double hi = std::log(lookup_optimal_t(scale_table(pc.format, pc.rounding), fit.beta));
    double lo = rate_log_t_zero(pc.format, pc.rounding, fit.beta);
    if (!(lo < hi)) lo = hi - 1.0;
    for (int j = 0; j < kGridPoints; ++j) {
      log_t[j] = lo + (hi - lo) * j / (kGridPoints - 1);
      bits[j] = gennorm_rate_bits(pc.format, pc.rounding, pc.entries_per_symbol, fit.beta,
                                  std::exp(log_t[j]), zero_block_symbols(pc));
      if (j && bits[j] < bits[j - 1]) bits[j] = bits[j - 1];  // the solver's monotone reading
    }
  }
  float scale(const detail::PacketCoding& pc, double p) const {
    if (!(alpha > 0)) return 1.0f;
    double lt = log_t[0];
    if (p >= bits[kGridPoints - 1]) {
      lt = log_t[kGridPoints - 1];
    } else if (p > bits[0]) {
      const int j = static_cast<int>(std::upper_bound(bits, bits + kGridPoints, p) - bits);
      const double w = (p - bits[j - 1]) / (bits[j] - bits[j - 1]);
      lt = log_t[j - 1] + w * (log_t[j] - log_t[j - 1]);
    }
    // choose_scale's clamps of the scale α/t.
    const double s = alpha / std::exp(lt);  // within float's range before the cast
    const float value = s < detail::kFloatMax ? static_cast<float>(s) : detail::kFloatMax;
    return detail::choose_scale(ScalePolicy::value, value, pc.format, max_abs, 0.0, 0.0,
                                [](double) { return 1.0; });
  }
};

}  // namespace

MagnitudeSummary summarize_magnitudes(const EncodeInput& in, int entries_per_symbol,
                                      uint32_t block_symbols) {
  check(entries_per_symbol >= 1, Errc::invalid_argument, "rate control: entries per symbol < 1");
  std::vector<uint64_t> counts(kMagnitudeBins, 0), symbol_counts(kMagnitudeBins, 0);
  std::vector<uint64_t> block_counts(block_symbols ? kMagnitudeBins : 0, 0);
  MagnitudeSummary s;
  s.entries_per_symbol = entries_per_symbol;
  s.block_symbols = block_symbols;
  const uint64_t g = static_cast<uint64_t>(entries_per_symbol);
  uint32_t block_largest = 0;  // the current block's largest |u| bits
  const auto close_block = [&] {
    ++s.blocks;
    if (block_largest < 0x7f800000u) ++block_counts[block_largest >> kMagnitudeBinShift];
    block_largest = 0;
  };
  for (uint64_t first = 0; first < in.grad.numel; first += g) {
    uint32_t largest = 0;  // the symbol's largest |u| bits (a non-finite entry: above all)
    for (uint64_t i = first; i < std::min(first + g, in.grad.numel); ++i) {
      const float u = detail::feedback_input(load_as_float(in.grad.data, in.grad.dtype, i),
                                             in.memory, in.gamma, i);
      const uint32_t a = detail::f32_bits(u) & 0x7fffffffu;
      largest = std::max(largest, a);
      if (a >= 0x7f800000u) continue;  // non-finite: not coded as a number
      s.moments.add(u);
      ++counts[a >> kMagnitudeBinShift];
    }
    ++s.symbols;
    if (largest < 0x7f800000u) ++symbol_counts[largest >> kMagnitudeBinShift];
    if (block_symbols) {
      block_largest = std::max(block_largest, largest);
      if (s.symbols % block_symbols == 0) close_block();
    }
  }
  if (block_symbols && s.symbols % block_symbols) close_block();
  s.bins = non_empty(counts);
  s.symbol_bins = non_empty(symbol_counts);
  s.block_bins = non_empty(block_counts);
  return s;
}

double summary_rate_bits(const MagnitudeSummary& s, FloatFormat f, Rounding r, int g, float scale) {
  check(f.width() <= kRateMaxWidth && g >= 1, Errc::invalid_argument,
        "rate control: a format of at most 8 bits and g >= 1");
  const uint32_t cmax = f.max_code();
  double mass[kRateMaxMagnitudes] = {};
  double v[kRateMaxMagnitudes];  // code magnitudes in |u| units
  for (uint32_t c = 0; c <= cmax; ++c) v[c] = static_cast<double>(code_magnitude(f, c)) * scale;
  // The code of x under nearest rounding: the number of midpoints at or below it.
  double mid[kRateMaxMagnitudes];
  for (uint32_t c = 0; c < cmax; ++c) mid[c] = 0.5 * (v[c] + v[c + 1]);
  const auto nearest = [&](double x) {
    return static_cast<uint32_t>(std::upper_bound(mid, mid + cmax, x) - mid);
  };
  // Bin b's entries spread evenly over its width: the share of them below x.
  const auto share_below = [](uint32_t b, double x) {
    const double lo = bin_low(b), hi = bin_high(b);
    return x <= lo ? 0.0 : x >= hi ? 1.0 : (x - lo) / (hi - lo);
  };
  double total = 0;
  for (const auto& [b, n] : s.bins) {
    const double lo = bin_low(b), hi = bin_high(b), count = static_cast<double>(n);
    total += count;
    if (r == Rounding::stochastic) {  // x rounds up with probability (x − v_c)/(v_{c+1} − v_c)
      const double x = 0.5 * (lo + hi);
      const uint32_t c = static_cast<uint32_t>(std::upper_bound(v, v + cmax + 1, x) - v) - 1;
      if (c >= cmax) {
        mass[cmax] += count;
      } else {
        const double up = (x - v[c]) / (v[c + 1] - v[c]);
        mass[c] += count * (1 - up);
        mass[c + 1] += count * up;
      }
      continue;
    }
    // Nearest: split at the midpoints inside the bin.
    uint32_t c = nearest(lo);
    for (const uint32_t c_hi = nearest(hi); c < c_hi; ++c)
      mass[c] += count * (share_below(b, mid[c]) - (c ? share_below(b, mid[c - 1]) : 0.0));
    mass[c] += count * (1.0 - (c ? share_below(b, mid[c - 1]) : 0.0));
  }
  if (!(total > 0)) return 1.0 / g;  // nothing to code but zeros: one bit a symbol
  for (uint32_t c = 0; c <= cmax; ++c) mass[c] /= total;
  const double p0 = std::min(1.0, mass[0]);
  // The zero symbol's share: counted where the symbols were summarized for this g and rounding.
  double zero = std::pow(p0, g);
  if (r != Rounding::stochastic && s.entries_per_symbol == g && s.symbols) {
    double below = 0;
    for (const auto& [b, n] : s.symbol_bins) below += static_cast<double>(n) * share_below(b, mid[0]);
    zero = below / static_cast<double>(s.symbols);
  }
  const double zero_bits = zero >= 0.5 ? 1.0 : binary_entropy(zero);  // Huffman's floor
  double nonzero_bits = 0;  // nothing but zeros: the zero symbol's bits alone
  if (1.0 - zero > 1e-12 && 1.0 - p0 > 1e-12) {
    // The other symbols: g independent entries with the data's nonzero codes in proportion, at
    // the zero mass z whose symbols, given not all zero, hold the data's nonzero entries per
    // nonzero symbol, k = g(1 − p0)/(1 − P0) = g(1 − z)/(1 − z^g) (decreasing in z, from g to 1).
    const double k = std::min<double>(g, std::max(1.0, g * (1.0 - p0) / (1.0 - zero)));
    double z_lo = 0.0, z_hi = 1.0;
    for (int i = 0; i < 50; ++i) {
      const double z = 0.5 * (z_lo + z_hi);
      (g * (1.0 - z) / (1.0 - std::pow(z, g)) > k ? z_lo : z_hi) = z;
    }
    const double z = std::min(z_lo, 1.0 - 1e-9);
    double m[kRateMaxMagnitudes];
    m[0] = z;
    for (uint32_t c = 1; c <= cmax; ++c) m[c] = (1.0 - z) * mass[c] / (1.0 - p0);
    const double zg = std::pow(z, g);
    nonzero_bits = (g * entry_entropy(m, cmax) - binary_entropy(zg)) / (1.0 - zg);
  }
  double bits = zero_bits + (1.0 - zero) * nonzero_bits;
  if (s.block_symbols >= 2 && s.blocks && r != Rounding::stochastic && s.entries_per_symbol == g) {
    // Zero-block maps (FORMAT.md §6b): the all-zero blocks' share from the blocks' bins.
    double below = 0;
    for (const auto& [b, n] : s.block_bins) below += static_cast<double>(n) * share_below(b, mid[0]);
    const double empty = std::min(zero, below / static_cast<double>(s.blocks));
    const double coded = 1.0 - empty;
    double mapped = 1.0 / s.block_symbols;
    if (coded > 1e-12) {
      const double z_coded = (zero - empty) / coded;  // the zero share of the coded symbols
      const double zero_coded_bits = z_coded >= 0.5 ? 1.0 : binary_entropy(z_coded);
      mapped += coded * zero_coded_bits + (1.0 - zero) * nonzero_bits;
    }
    bits = std::min(bits, mapped);
  }
  return bits / g;
}

float RateController::ask(const std::vector<EncodeInput>& inputs,
                          const std::vector<MagnitudeSummary>& summaries, const CodecConfig& config) {
  check(summaries.size() == inputs.size(), Errc::invalid_argument, [&] {
    return "rate control: " + std::to_string(summaries.size()) + " summaries for " +
           std::to_string(inputs.size()) + " inputs";
  });
  const double target = config.scale.bits_per_entry;
  predicted_ = -1.0;
  uint64_t total = 0;
  for (const EncodeInput& in : inputs) total += in.grad.numel;
  if (config.scale.policy != ScalePolicy::rate || !total) return static_cast<float>(target);
  const detail::PacketCoding pc = detail::packet_coding(config);
  // The codec's payload target for `target` is target − fixed (rate_target.h): the fixed bits
  // per entry are what asking moves the payload target by, one for one.
  const double fixed = target - detail::rate_policy_payload(inputs, config);
  // The payload predicted for payload target p, in bits per entry of the packet, with each
  // segment's scale from its tabulated curve (exact = false) or from the codec's solver.
  std::vector<GenNormFit> fits;
  std::vector<ScaleCurve> curves;
  curves.reserve(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    fits.push_back(input_fit(inputs[i], summaries[i].moments));
    curves.emplace_back(fits[i], summaries[i].moments, pc);
  }
  const auto predicted = [&](double p, bool exact) {
    double bits = 0;
    for (size_t i = 0; i < inputs.size(); ++i) {
      const uint64_t n = inputs[i].grad.numel;
      if (!n) continue;
      const float scale = exact ? codec_scale(fits[i], summaries[i].moments, pc, p) : curves[i].scale(pc, p);
      bits += static_cast<double>(n) * summary_rate_bits(summaries[i], pc.format, pc.rounding,
                                                         pc.entries_per_symbol, scale);
    }
    return bits / static_cast<double>(total);
  };
  const double want = (target - fixed) / bias_;
  // Every segment's scale is the GenNorm scale from the format's full rate on (at most its
  // width a magnitude plus the sign), and the all-zero scale from p ≤ 0.
  double lo = 0.0, hi = pc.format.width() + 1.0;
  double p = want;
  free_ = false;
  if (predicted(hi, false) <= want) {
    p = want;  // beyond the format's rate at the GenNorm scales: the codec gives those
  } else if (predicted(lo, false) >= want) {
    p = lo;
  } else {
    free_ = true;
    for (int i = 0; i < kAskSteps; ++i) {
      const double mid = 0.5 * (lo + hi);
      (predicted(mid, false) > want ? hi : lo) = mid;
    }
    // One secant step on the codec's own scales corrects the table's interpolation.
    const double h = 1e-3 * std::max(lo, 1e-3);
    const double slope = (predicted(lo + h, false) - predicted(lo - h, false)) / (2 * h);
    p = lo;
    if (slope > 0) p = std::max(0.0, lo + (want - predicted(lo, true)) / slope);
  }
  fixed_ = fixed;
  predicted_ = predicted(p, true);
  // The bits per entry that give payload target p; a packet's smallest positive ask sends zeros.
  const double asked = p + fixed;
  return asked > 0 ? static_cast<float>(asked) : detail::kFloatMinNormal;
}

void RateController::observe(double achieved_bits_per_entry) {
  if (predicted_ > 0) {
    const double ratio = (achieved_bits_per_entry - fixed_) / predicted_;
    if (std::isfinite(ratio)) bias_ = std::min(2.0, std::max(0.5, ratio));
  }
  predicted_ = -1.0;
}

std::vector<uint8_t> encode_at_rate(RateController& controller, const std::vector<EncodeInput>& inputs,
                                    const CodecConfig& config, EncodeReport* report) {
  uint64_t entries = 0;
  std::vector<std::vector<float>> saved;
  std::vector<MagnitudeSummary> summaries;
  for (const EncodeInput& in : inputs) {
    summaries.push_back(summarize_magnitudes(in, resolved_entries_per_symbol(config),
                                             static_cast<uint32_t>(config.zero_block)));
    entries += in.grad.numel;
    saved.emplace_back(in.memory ? in.memory : nullptr, in.memory ? in.memory + in.grad.numel : nullptr);
  }
  const double target = config.scale.bits_per_entry;
  CodecConfig asked = config;
  std::vector<uint8_t> packet;
  const auto achieved = [&] { return 8.0 * static_cast<double>(packet.size()) / static_cast<double>(entries); };
  // Codes the packet at `bits` asked, the error memories as they were before the first encode;
  // returns its miss |achieved − target| / target.
  const auto encode_at = [&](float bits, bool restore) {
    if (restore)
      for (size_t i = 0; i < inputs.size(); ++i)
        if (inputs[i].memory) std::copy(saved[i].begin(), saved[i].end(), inputs[i].memory);
    asked.scale.bits_per_entry = bits;
    packet = co3::encode(inputs, asked, report);
    if (!entries) return 0.0;  // an empty packet has no rate to miss
    return std::fabs(achieved() - target) / target;
  };
  const auto observe = [&] { controller.observe(achieved()); };
  float last_ask = controller.ask(inputs, summaries, config), best_ask = last_ask;
  double best_miss = encode_at(last_ask, false);
  if (entries) observe();
  // Asked again with the last packet's own ratio achieved/predicted, a secant step on the
  // payload the codec makes of the ask; coded again only where the ask is free (at the GenNorm
  // scales' rate or the all-zero end the first packet is what the policy sends). One retry left
  // 7 of 22,530 LeNet packets 5-8 % over a 0.25-bit target (docs/TRAINING.md): the ratio itself
  // moves with the ask.
  bool last_is_best = true;
  for (int encodes = 1; encodes < kRateMaxEncodes && best_miss > kRateRetryMiss; ++encodes) {
    const float again = controller.ask(inputs, summaries, config);
    if (!controller.last_ask_free() || again == last_ask) break;
    last_ask = again;
    const double miss = encode_at(again, true);
    observe();
    last_is_best = miss < best_miss;
    if (last_is_best) best_miss = miss, best_ask = again;
  }
  // The best of the packets coded is sent (coded again: the memories follow the packet sent).
  if (!last_is_best) encode_at(best_ask, true);
  if (report) report->target_bits_per_entry = target;
  return packet;
}

}  // namespace co3
