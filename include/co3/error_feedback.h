// Error feedback with memory decay (CO3's "correct" step) as a reusable piece:
//   u = g + γ·e ;  q = Q(u) ;  e ← u − q
// The memory belongs to this object (one float32 vector per named tensor), never to a global.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "co3/codec.h"
#include "co3/rate_control.h"

namespace co3 {

class ErrorFeedback {
 public:
  explicit ErrorFeedback(float gamma = 1.0f);

  float gamma() const { return gamma_; }

  // Encodes named gradients, each corrected by (and updating) its own memory. A tensor seen
  // for the first time starts with zero memory; a size change is an error.
  // Under the rate scale policy the packet is encode_at_rate's (rate_control.h): the bits per
  // entry asked of co3::encode are chosen from a summary of each tensor's u = g + γe (one more
  // pass over the gradients and memories), and a packet that misses the target is coded again,
  // so that the packet meets the config's target step by step, where the GenNorm model alone
  // misses as error feedback changes u's shape.
  // A report gives the config's target beside the achieved rate.
  std::vector<uint8_t> encode(const std::vector<std::pair<std::string, TensorView>>& grads,
                              const CodecConfig& config, EncodeReport* report = nullptr);

  const std::vector<float>& memory(const std::string& name) const;
  std::vector<std::string> names() const;
  void set_memory(const std::string& name, std::vector<float> memory);  // checkpoint restore
  void reset() {
    memory_.clear();
    rate_.reset();
  }
  const RateController& rate_controller() const { return rate_; }

 private:
  float gamma_;
  RateController rate_;
  std::map<std::string, std::vector<float>> memory_;
};

}  // namespace co3
