// CO3's "correct" step for a training loop: a compressor that keeps the error memory of every
// named gradient and the GenNorm fit behind its scale across steps.
//
//   co3::Compressor comp({config, /*gamma=*/0.7f, co3::Refit::every_step});
//   at::Tensor packet = comp.compress({"fc.weight", "fc.bias"}, {w.grad(), b.grad()});
//   ... send packet; the receiver calls co3::Codec(config).decode(packet)
//
// Per name it keeps, on the gradient's device:
//   - the error memory e (float32, the gradient's shape): u = g + γ·e is coded, e ← u − Q(u);
//   - the GenNorm fit (β, α) that sets the scale (ScalePolicy::gennorm) and the GenNorm code.
// Under the rate policy (scale = "rate:B") a RateController (co3/rate_control.h) per set of names
// coded together chooses the bits per entry asked of the codec, so that each packet costs B bits
// per entry; such packets stage through the host (one more pass over u there), and the
// controllers' bias is not in a checkpoint (the first packet after a resume learns it again).
// The refit policy says where that fit comes from at step t:
//   every_step       the moments of this step's u (what co3::encode does by itself);
//   every_n_steps    the moments of u at the last step that was a multiple of N, reused in
//                    between (the CO3 reference code refits every few epochs);
//   running_average  the exponential average, with weight `average_decay` on the past, of the
//                    moments E|u| and E u² of steps 0 … t−1 (step 0 uses its own); averaging the
//                    past needs no second pass over the gradient.
// Checkpoints: state() and load_state() hold every memory, fit, average and the step count;
// save() and load() write and read them as one file (torch's pickle format).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "co3/codec.h"
#include "co3/config.h"
#include "co3/rate_control.h"
#include "co3/torch/codec.h"

namespace co3 {

enum class Refit : uint8_t { every_step = 0, every_n_steps = 1, running_average = 2 };
const char* to_string(Refit r);
Refit parse_refit(const std::string& s);  // every-step | every-n-steps | running-average

// `c` with the non-finite policy 'propagate'.
inline CodecConfig propagating(CodecConfig c) {
  c.non_finite = NonFinitePolicy::propagate;
  return c;
}

struct CompressorOptions {
  // The codec's settings, with one default of its own: NaN and Inf propagate (a tensor holding
  // them decodes to them, its error memory and fit unchanged), so that a loss scaler sees the
  // overflow on every rank and skips the step; CodecConfig's default policy stays 'error'.
  CodecConfig config = propagating(CodecConfig{});
  float gamma = 1.0f;  // memory decay γ in [0, 1]; 0 disables error feedback
  Refit refit = Refit::every_step;
  int64_t refit_every = 1;     // N for every_n_steps, ≥ 1
  double average_decay = 0.9;  // weight of the past for running_average, in [0, 1)
};

class Compressor {
 public:
  explicit Compressor(CompressorOptions options);  // validates; throws Error(invalid_argument)

  const CompressorOptions& options() const { return options_; }
  const Codec& codec() const { return codec_; }

  // One packet for the named gradients (one segment each, in order). A name seen for the first
  // time starts with zero memory; its shape may not change later. Advances the step count.
  at::Tensor compress(const std::vector<std::string>& names, const std::vector<at::Tensor>& grads,
                      EncodeReport* report = nullptr);

  // One packet per named gradient (packet i codes grads[i] alone, with its own fit), as one step:
  // the step count advances once, and every packet sees the same step (a refit every N steps
  // refits all of them or none). What the reduce-scatter of a bucket's shards sends. A failure
  // leaves the memories of the gradients after the failing one as they were.
  // `one_fit`: every packet's scale (and model code) from one GenNorm fit to all the gradients'
  // u = g + γ·e together, as if they were one tensor, instead of a fit each: the shards of a
  // bucket then cost the bits of the bucket's scale (a fit per shard cost fp4 0.17 bits an entry
  // more at 2 shards, 0.32 at 8, on a ResNet-18 gradient: docs/DISTRIBUTED.md). With the every-step refit
  // the fit is of this step's u (CPU: co3::moments, the encoder's own sums; CUDA: one host read
  // of their ATen sums); every-n-steps refits all of them so on its refit steps and keeps that
  // fit in between; running-average pools the gradients' averages (weighted by size).
  std::vector<at::Tensor> compress_each(const std::vector<std::string>& names,
                                        const std::vector<at::Tensor>& grads, bool one_fit = false);

  int64_t step() const { return step_; }
  std::vector<std::string> names() const;
  at::Tensor memory(const std::string& name) const;  // throws if the name is unknown
  // Replaces the error memory of a known `name` with `memory` (float32, defined), whose shape the
  // next compress of the name must then give: for a collective that cuts its shards anew and
  // moves their memories with the cut (rsag's balanced cut). Throws for an unknown name.
  void set_memory(const std::string& name, const at::Tensor& memory);
  GenNormParams fit(const std::string& name) const;  // the fit the last step used

  // The fit and running averages of `name` put back as they were before the last compress()
  // that coded it, for a step skipped after all (another rank's gradient was not finite, so the
  // averaged step is never applied): with every_n_steps and running_average refits they feed
  // later steps' scales. The error memory is the caller's to put back from the copy it took
  // before the step (keeping one here would cost a copy per step). No-op for a name whose last
  // step changed nothing (its own NaN/Inf, or the device path, which keeps the last host fit).
  void restore_statistics(const std::string& name);  // throws if the name is unknown

  // Everything a checkpoint needs, as named tensors: "step", and per name "memory/<name>",
  // "fit/<name>" ([β, α], float64) and "average/<name>" ([E|u|, E u², steps], float64).
  std::map<std::string, at::Tensor> state() const;
  void load_state(const std::map<std::string, at::Tensor>& state);  // replaces all state
  void save(const std::string& path) const;
  void load(const std::string& path);
  void reset();

 private:
  struct Statistics {
    GenNormParams fit{};        // used by the last step
    double avg_abs = 0, avg_sq = 0;
    int64_t avg_steps = 0;      // steps folded into the average
  };
  struct Entry : Statistics {
    at::Tensor memory;          // float32, the gradient's shape and device
    Statistics before_last;     // as they were before the last compress (restore_statistics)
  };
  at::Tensor compress_with(const std::vector<std::string>& names, const std::vector<at::Tensor>& grads,
                           EncodeReport* report, const std::optional<GenNormParams>& shared_fit);
  // compress_each's one fit for this step, or none where each name's own kept fit applies.
  std::optional<GenNormParams> pooled_fit(const std::vector<std::string>& names,
                                          const std::vector<at::Tensor>& grads) const;

  CompressorOptions options_;
  Codec codec_;
  std::map<std::string, Entry> entries_;
  std::map<std::string, RateController> rate_;  // keyed by the names of a packet, in order
  int64_t step_ = 0;
};

}  // namespace co3
