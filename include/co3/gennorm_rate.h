// The rate scale policy's arithmetic: the payload bits per entry that the fitted GenNorm model
// predicts at a scale, and the scale that meets a target rate, found by a bisection with a fixed
// step count. Host and device code with co3's own elementary functions only (FORMAT.md §10), so
// the CPU encoder and the GPU kernels choose the same scale bits.
//
// The prediction (in units of t = α/scale, as gennorm.h): the model's probability of every
// magnitude code gives the entropy H_e of one entry (the magnitudes' entropy plus one sign bit
// for every nonzero entry); a symbol of g independent entries has entropy g·H_e. A Huffman code
// cannot spend less than one bit on a symbol, which is what matters at low rates, where the
// all-zero symbol has probability P0 = p0^g ≥ ½: Huffman then gives it a one-bit codeword and
// codes the other symbols after a one-bit prefix, about 1 − h(P0) bits per symbol more than
// the entropy (h the binary entropy; the correction is 0 at P0 = ½, so the prediction is
// continuous in the scale). The chunk and table bytes are the caller's (rate_target.h).
#pragma once

#include <cstdint>

#include "co3/detail/dmath.h"
#include "co3/detail/hd.h"
#include "co3/float_format.h"
#include "co3/gennorm.h"

namespace co3 {

// The rate policy's formats: at most 8 bits (magnitude codes ≤ kRateMaxMagnitudes), so that a
// single device thread holds their probabilities.
inline constexpr uint32_t kRateMaxMagnitudes = 128;
inline constexpr int kRateMaxWidth = 8;
// Bisection steps in log t: the bracket is at most a few hundred wide, 2^-40 of it is far below
// a float scale's resolution.
inline constexpr int kRateSteps = 40;

namespace detail {

// −p·log2 p (0 for p ≤ 0).
CO3_HD double neg_p_log2(double p) {
  const double kInvLn2 = 1.44269504088896340736;
  return p > 0 ? -dmul(dmul(p, log(p)), kInvLn2) : 0.0;
}

// The binary entropy h(p).
CO3_HD double binary_entropy_bits(double p) { return dadd(neg_p_log2(p), neg_p_log2(dsub(1.0, p))); }

// Huffman's bits a symbol for symbols of entropy `h_sym` whose all-zero symbol has probability
// `p_zero`: the entropy, plus 1 − h(p_zero) where p_zero ≥ ½ (see the top of the file).
CO3_HD double huffman_symbol_bits(double h_sym, double p_zero) {
  return p_zero >= 0.5 ? dadd(h_sym, dsub(1.0, binary_entropy_bits(p_zero))) : h_sym;
}

// Predicted Huffman bits per entry for the magnitude masses of one entry (mass[0 … cmax]), g
// entries a symbol. With zero-block maps of `block` ≥ 2 symbols (FORMAT.md §6b) a block is all
// zero with probability P0^block (independent entries), costs its map bit, and the coded
// blocks' symbols are coded with their own (smaller) zero share; the encoder takes the map where
// it saves bits, so the prediction is the smaller of the two (both increase with the scale's t,
// so their minimum does too).
CO3_HD double rate_from_mass(const double* mass, uint32_t cmax, int g, uint32_t block = 0) {
  double h = 0.0;
  for (uint32_t c = 0; c <= cmax; ++c) h = dadd(h, neg_p_log2(mass[c]));
  const double p0 = mass[0] < 1.0 ? mass[0] : 1.0;
  h = dadd(h, dsub(1.0, p0));  // the sign of a nonzero entry
  double p_zero = 1.0;
  for (int k = 0; k < g; ++k) p_zero = dmul(p_zero, p0);
  const double h_sym = dmul(static_cast<double>(g), h);
  double bits = huffman_symbol_bits(h_sym, p_zero);
  if (block >= 2 && p_zero > 0.0) {
    double p_block = 1.0;  // all of a block's symbols zero
    for (uint32_t k = 0; k < block; ++k) p_block = dmul(p_block, p_zero);
    const double coded = dsub(1.0, p_block);
    double mapped = ddiv(1.0, static_cast<double>(block));
    if (coded > 0.0) {
      // The nonzero symbols' entropy given nonzero, and the zero share among coded symbols.
      const double h_nonzero =
          p_zero < 1.0 ? ddiv(dsub(h_sym, binary_entropy_bits(p_zero)), dsub(1.0, p_zero)) : 0.0;
      const double z = ddiv(dsub(p_zero, p_block), coded);
      const double h_coded = dadd(binary_entropy_bits(z), dmul(dsub(1.0, z), h_nonzero));
      mapped = dadd(mapped, dmul(coded, huffman_symbol_bits(h_coded, z)));
    }
    if (mapped < bits) bits = mapped;
  }
  return ddiv(bits, static_cast<double>(g));
}

}  // namespace detail

// Predicted payload bits per entry of format f (at most kRateMaxWidth bits) under rounding r,
// g entries per symbol (and zero-block maps of `block` symbols, 0 for none), for data ~
// GenNorm(β, α) coded at scale α/t. t ≤ 0 (or a NaN) predicts the all-zero packet's bits.
CO3_HD double gennorm_rate_bits(FloatFormat f, Rounding r, int g, double beta, double t,
                                uint32_t block = 0) {
  using namespace detail;
  double mass[kRateMaxMagnitudes];
  const uint32_t cmax = f.max_code();
  for (uint32_t c = 0; c <= cmax; ++c) mass[c] = 0.0;
  if (t > 0) {
    gennorm_magnitude_mass(f, r, gennorm_unit(beta), ddiv(1.0, t), mass);
  } else {
    mass[0] = 1.0;
  }
  return rate_from_mass(mass, cmax, g, block);
}

// log t at which every entry codes to zero for the model (the bracket's low end): nearest
// rounding sends |Y| < v_1/2 to zero, and P(|Y/t| > w) = Q(1/β, w^β) is negligible from
// w^β = 64 + 4/β on; stochastic rounding sends |Y| up with probability |Y|/v_1, so its end lies
// 30 (a factor e^30 in t) lower.
CO3_HD double rate_log_t_zero(FloatFormat f, Rounding r, double beta) {
  using namespace detail;
  const double v1 = static_cast<double>(code_magnitude(f, 1));
  const double z = dadd(64.0, ddiv(4.0, beta));
  double lt = dsub(log(dmul(0.5, v1)), ddiv(log(z), beta));
  if (r == Rounding::stochastic) lt = dsub(lt, 30.0);
  return lt;
}

// The t (scale = α/t) whose predicted payload bits per entry are `bits`, between the all-zero
// end and t_max, the GenNorm policy's expected-MSE-optimal t: a rate above what the model
// predicts at t_max returns t_max (a larger t would cost bits and add error), one below the
// all-zero prediction returns the all-zero end. The prediction increases with t on this
// bracket; kRateSteps bisection steps in log t, so the same bits everywhere.
CO3_HD double gennorm_rate_t(FloatFormat f, Rounding r, int g, double beta, double t_max,
                             double bits, uint32_t block = 0) {
  using namespace detail;
  double hi = log(t_max);
  double lo = rate_log_t_zero(f, r, beta);
  if (!(lo < hi)) lo = dsub(hi, 1.0);
  if (!(gennorm_rate_bits(f, r, g, beta, t_max, block) > bits)) return t_max;
  for (int i = 0; i < kRateSteps; ++i) {
    const double mid = dmul(0.5, dadd(lo, hi));
    if (gennorm_rate_bits(f, r, g, beta, exp(mid), block) > bits) {
      hi = mid;
    } else {
      lo = mid;
    }
  }
  // lo meets the target (or is the all-zero end): never above the budget.
  return exp(lo);
}

}  // namespace co3
