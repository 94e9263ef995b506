#include "co3/error_feedback.h"

#include <algorithm>
#include <cmath>

#include "co3/error.h"

namespace co3 {

ErrorFeedback::ErrorFeedback(float gamma) : gamma_(gamma) {
  check(std::isfinite(gamma) && gamma >= 0.0f, Errc::invalid_argument, [&] {
    return "error feedback: gamma " + std::to_string(gamma) + " must be finite and >= 0";
  });
}

std::vector<uint8_t> ErrorFeedback::encode(
    const std::vector<std::pair<std::string, TensorView>>& grads, const CodecConfig& config,
    EncodeReport* report) {
  // co3::encode leaves the memories as they were when it fails; a name first seen here gets
  // its memory only once the encode succeeds.
  std::map<std::string, std::vector<float>> fresh;
  std::vector<EncodeInput> inputs;
  inputs.reserve(grads.size());
  for (const auto& [name, grad] : grads) {
    auto it = memory_.find(name);
    if (it == memory_.end()) {
      it = fresh.find(name);
      if (it == fresh.end()) it = fresh.emplace(name, std::vector<float>(grad.numel, 0.0f)).first;
    }
    // Not check() with a lambda: C++17 lambdas cannot capture the structured bindings.
    if (it->second.size() != grad.numel)
      fail(Errc::invalid_argument, "error feedback: tensor '" + name + "' has " +
                                       std::to_string(grad.numel) + " elements but its memory has " +
                                       std::to_string(it->second.size()));
    inputs.push_back({grad, it->second.data(), gamma_});
  }
  std::vector<uint8_t> packet = config.scale.policy == ScalePolicy::rate
                                    ? encode_at_rate(rate_, inputs, config, report)
                                    : co3::encode(inputs, config, report);
  memory_.merge(fresh);
  return packet;
}

const std::vector<float>& ErrorFeedback::memory(const std::string& name) const {
  const auto it = memory_.find(name);
  check(it != memory_.end(), Errc::invalid_argument,
        [&] { return "error feedback: no memory for '" + name + "'"; });
  return it->second;
}

std::vector<std::string> ErrorFeedback::names() const {
  std::vector<std::string> out;
  for (const auto& kv : memory_) out.push_back(kv.first);
  return out;
}

void ErrorFeedback::set_memory(const std::string& name, std::vector<float> memory) {
  memory_[name] = std::move(memory);
}

}  // namespace co3
