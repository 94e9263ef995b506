// Meeting a rate target packet by packet (the rate scale policy, scale = "rate:B", in a training
// loop with error feedback). Host code; the codec and its scale arithmetic are not involved:
// the controller only chooses the bits per entry the packet asks the codec for.
//
// Why the model alone misses: the codec predicts each segment's rate from its GenNorm fit
// (gennorm_rate.h). Under error feedback at low rates u = g + γe is not GenNorm-shaped: the
// memory fills entries up to the zero threshold and empties those that are sent, so the mass
// beyond that threshold (all that the rate above Huffman's one-bit floor of the zero symbol
// depends on) moves from step to step, for all tensors together, while the fit's (β, α) hardly
// do. On the real-gradient sequence of tests/cpu/test_gennorm_rate.cpp (fp4 pairs, 0.6 bits) the
// model's payload prediction was off by −16 … +8 % from step to step, the errors of consecutive
// steps often of opposite sign, so no correction learned from the previous step follows them;
// the codes' masses read from the data predicted the same payloads within 1-2.5 %.
//
// What the controller does instead: it reads that mass from the data. summarize_magnitudes makes
// one pass over u (32 log-spaced bins per binade of |u|, and u's moments); for a payload target
// p the controller takes each segment's scale exactly as the codec will (its fit and solver,
// detail::choose_scale), computes the codes' masses at that scale from the bins and the rate
// they predict (rate_from_mass: entropy plus Huffman's floor), and solves for the p whose
// predicted packet meets the budget. The codec is then asked for the bits per entry that give
// that p. What the bins still miss (Huffman's code against the entropy, chunk padding, the code
// table's estimate: 1-3 %, steady) is the ratio achieved/predicted of the last packet's payload,
// applied to the next (exponent 1, clamped to [1/2, 2]; a ratio of a slowly moving bias, not an
// integrator of the rate's error, so it does not oscillate).
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "co3/codec.h"
#include "co3/config.h"
#include "co3/moments.h"

namespace co3 {

// |u| of a finite float32 falls in bin (bits(|u|) >> kMagnitudeBinShift): 2^(23−18) = 32 bins a
// binade (each 2.2 % wide), 8,160 bins for all finite floats.
inline constexpr int kMagnitudeBinShift = 18;
inline constexpr uint32_t kMagnitudeBins = 0x7f800000u >> kMagnitudeBinShift;

// What the controller needs of one tensor: u's moments (finite entries) and the non-empty bins
// of |u| in ascending order, (bin, entries).
struct MagnitudeSummary {
  Moments moments;
  std::vector<std::pair<uint32_t, uint64_t>> bins;
};

// The summary of u = g + γ·e for an encode input (its memory read, not written), as the codec
// computes u (detail::feedback_input).
MagnitudeSummary summarize_magnitudes(const EncodeInput& in);

// The summary from a histogram made elsewhere (the torch compressor's, on the device): counts of
// kMagnitudeBins bins and the moments of the same entries. Throws for a wrong size.
MagnitudeSummary summary_from_histogram(const std::vector<int64_t>& counts, const Moments& moments);

// The codes' rate at `scale` predicted from the bins (bits per entry of a symbol of g entries),
// exposed for the tests.
double summary_rate_bits(const MagnitudeSummary& s, FloatFormat f, Rounding r, int g, float scale);

class RateController {
 public:
  // The bits per entry to ask the codec for, so that a packet of these inputs (their sizes and
  // shapes, as the codec's budget counts them) under `config` (ScalePolicy::rate) costs
  // config.scale.bits_per_entry. summaries[i] belongs to inputs[i].
  float ask(const std::vector<EncodeInput>& inputs, const std::vector<MagnitudeSummary>& summaries,
            const CodecConfig& config);
  // The achieved bits per entry of the packet coded at the last ask: the payload's ratio
  // achieved/predicted corrects the next ask.
  void observe(double achieved_bits_per_entry);

  double bias() const { return bias_; }
  void reset() { *this = RateController{}; }

 private:
  double bias_ = 1.0;
  double fixed_ = 0.0;      // the last ask's bits per entry that the scale does not move
  double predicted_ = -1.0;  // and its predicted payload bits per entry (< 0: no ask to learn from)
};

}  // namespace co3
