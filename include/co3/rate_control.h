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
// one pass over u (32 log-spaced bins per binade of |u|, the same of each symbol's largest |u|,
// and u's moments); for a payload target p the controller takes each segment's scale as the
// codec will (its fit and solver, detail::choose_scale), computes the codes' masses and the
// all-zero symbol's share at that scale from the bins and the rate they predict, and solves for
// the p whose predicted packet meets the budget. The codec is then asked for the bits per entry
// that give that p. What the summary still misses (signs and magnitudes that move together
// within a symbol, Huffman's code against the entropy, the code table's estimate: 0-15 % in
// LeNet training, moving from step to step) is the ratio achieved/predicted of the last packet's
// payload, applied to the next ask (exponent 1, clamped to [1/2, 2]); encode_at_rate codes a
// packet that still misses by more than 2.5 % again with its own ratio (at most four encodes).
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

// What the controller needs of one tensor: u's moments (finite entries), the non-empty bins of
// |u| in ascending order, (bin, entries), and the same of each symbol's largest |u| (g
// consecutive entries, as the codec groups them; a symbol with a non-finite entry counts in
// symbols but in no bin), which gives the all-zero symbol's share directly: gradient entries
// are not independent (an input pixel that is zero zeroes a whole row of a layer's gradient),
// and the zero symbol's share decides the rate below a bit or so an entry.
// With zero-block maps (FORMAT.md §6b) the same again of each block's largest |u|: a block is
// left out where all its symbols are zero, and real gradients' zeros come in runs (a block is
// all zero far more often than independent entries would make it).
struct MagnitudeSummary {
  Moments moments;
  std::vector<std::pair<uint32_t, uint64_t>> bins;
  int entries_per_symbol = 1;
  uint64_t symbols = 0;
  std::vector<std::pair<uint32_t, uint64_t>> symbol_bins;
  uint32_t block_symbols = 0;  // 0: no block summary
  uint64_t blocks = 0;
  std::vector<std::pair<uint32_t, uint64_t>> block_bins;
};

// The summary of u = g + γ·e for an encode input (its memory read, not written), as the codec
// computes u (detail::feedback_input), its symbols of `entries_per_symbol` entries (and blocks
// of `block_symbols` symbols, 0 for none).
MagnitudeSummary summarize_magnitudes(const EncodeInput& in, int entries_per_symbol,
                                      uint32_t block_symbols = 0);

// The codes' rate at `scale` predicted from the summary, in bits per entry with symbols of g
// entries (exposed for the tests). Per symbol: the zero symbol's share P0 from the symbols' bins
// (nearest rounding and g as summarized; else the entries' p0^g), the other symbols as
// independent entries of the codes' masses conditioned on not all being zero, at the density of
// nonzero entries the data has; Huffman's one-bit floor where P0 ≥ ½ (gennorm_rate.h). With
// P0 = p0^g this is gennorm_rate.h's rate_from_mass of the binned masses. A summary with blocks
// (nearest rounding, the same g) adds the zero-block map where it saves, as the encoder does:
// one bit a block, the all-zero blocks' share read from the blocks' bins, and the coded
// blocks' symbols at their own zero share.
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
  // Whether the last ask could move the scale both ways (neither at the GenNorm scales' rate
  // nor at the all-zero end): only then can asking again change a packet that missed.
  bool last_ask_free() const { return free_; }
  void reset() { *this = RateController{}; }

 private:
  double bias_ = 1.0;
  bool free_ = false;
  double fixed_ = 0.0;      // the last ask's bits per entry that the scale does not move
  double predicted_ = -1.0;  // and its predicted payload bits per entry (< 0: no ask to learn from)
};

// A packet that misses the target by more than this share is coded again (encode_at_rate), at
// most kRateMaxEncodes times in all.
inline constexpr double kRateRetryMiss = 0.025;
inline constexpr int kRateMaxEncodes = 4;

// The packet of `inputs` under `config` (ScalePolicy::rate) with the controller's ask; a packet
// that misses the target by more than kRateRetryMiss, when the ask was free, is coded again at
// the ask that the last packet's own ratio achieved/predicted gives, after the error memories
// are put back (copied before the first encode), up to kRateMaxEncodes encodes; the packet
// closest to the target is sent (and its memories kept). The per-entry dependence of real
// gradients that the summary does not see (signs shared along a row of a layer's gradient,
// magnitudes that move together) moves that ratio by several percent from step to step; the
// retries correct it within the step. report, if given, is the packet's (target beside it).
// The summaries are summarize_magnitudes' of the inputs (before the encode).
std::vector<uint8_t> encode_at_rate(RateController& controller, const std::vector<EncodeInput>& inputs,
                                    const CodecConfig& config, EncodeReport* report = nullptr);

}  // namespace co3
