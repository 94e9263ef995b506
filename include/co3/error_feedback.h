// Error feedback with memory decay (CO3's "correct" step) as a reusable piece:
//   u = g + γ·e ;  q = Q(u) ;  e ← u − q
// The memory belongs to this object (one float32 vector per named tensor), never to a global.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "co3/codec.h"

namespace co3 {

class ErrorFeedback {
 public:
  explicit ErrorFeedback(float gamma = 1.0f);

  float gamma() const { return gamma_; }

  // Encodes named gradients, each corrected by (and updating) its own memory. A tensor seen
  // for the first time starts with zero memory; a size change is an error.
  // Under the rate scale policy the target passed to co3::encode is the config's times a gain
  // that each packet moves by (target / achieved)^0.3 (within [1/4, 4]): the GenNorm model's
  // rate prediction is off by a factor that drifts slowly from step to step (its fit of a real
  // gradient is not exact, and the error memory changes the shape of u = g + γe).
  // A report gives the config's target beside the achieved rate.
  std::vector<uint8_t> encode(const std::vector<std::pair<std::string, TensorView>>& grads,
                              const CodecConfig& config, EncodeReport* report = nullptr);

  const std::vector<float>& memory(const std::string& name) const;
  std::vector<std::string> names() const;
  void set_memory(const std::string& name, std::vector<float> memory);  // checkpoint restore
  void reset() {
    memory_.clear();
    rate_gain_ = 1.0;
  }
  double rate_gain() const { return rate_gain_; }

 private:
  float gamma_;
  double rate_gain_ = 1.0;
  std::map<std::string, std::vector<float>> memory_;
};

}  // namespace co3
