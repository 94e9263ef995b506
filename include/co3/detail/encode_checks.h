// The encoder's host-side argument checks and error messages, shared by the CPU codec
// (host/encoder.cpp) and the GPU plan (kernels/encode_plan.cu) so that both refuse the same
// inputs with the same co3::Error, and a device status turns into the message the CPU would give.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>

#include "co3/codec.h"
#include "co3/detail/packet_layout.h"
#include "co3/error.h"
#include "co3/gennorm.h"

namespace co3::detail {

inline std::string tensor_label(size_t segment) {
  return "tensor " + std::to_string(segment);
}

// Everything about one input that the host knows before reading its data.
inline void check_encode_input(const EncodeInput& in, size_t segment) {
  const std::string at = tensor_label(segment) + ": ";
  check(in.grad.data != nullptr || in.grad.numel == 0, Errc::invalid_argument,
        at + "null data with " + std::to_string(in.grad.numel) + " elements");
  check(in.grad.numel <= kMaxElements, Errc::invalid_argument,
        at + std::to_string(in.grad.numel) + " elements exceed the format's 2^48");
  check(std::isfinite(in.gamma), Errc::invalid_argument, at + "memory decay gamma is not finite");
  if (in.shape) {
    check(in.shape->size() <= kMaxDims, Errc::invalid_argument,
          at + "shape has " + std::to_string(in.shape->size()) + " dimensions, more than 64");
    uint64_t product = 1;
    for (int64_t k : *in.shape) {
      check(k >= 0 && static_cast<uint64_t>(k) <= kMaxElements, Errc::invalid_argument,
            at + "shape size " + std::to_string(k) + " outside 0..2^48");
      product = k == 0 || product <= kMaxElements / static_cast<uint64_t>(k)
                    ? product * static_cast<uint64_t>(k)
                    : kMaxElements + 1;
    }
    check(product == in.grad.numel, Errc::invalid_argument,
          at + "shape holds " + std::to_string(product) + " elements, the tensor " +
              std::to_string(in.grad.numel));
  }
  if (in.fit) {
    check(in.fit->beta >= kBetaMin && in.fit->beta <= kBetaMax && std::isfinite(in.fit->alpha) &&
              in.fit->alpha >= 0,
          Errc::invalid_argument,
          at + "given GenNorm fit beta " + std::to_string(in.fit->beta) + ", alpha " +
              std::to_string(in.fit->alpha) + " outside beta 0.03..16, alpha >= 0");
  }
}

inline std::string non_finite_message(size_t segment, uint64_t count) {
  return tensor_label(segment) + ": " + std::to_string(count) +
         " non-finite values (NaN/Inf); the non-finite policy is 'error' (use 'clamp' to map NaN "
         "to 0 and Inf to the largest value)";
}

inline std::string too_many_symbols_message(uint64_t used, int max_len) {
  return "code lengths: " + std::to_string(used) + " symbols do not fit in codes of at most " +
         std::to_string(max_len) + " bits";
}

inline std::string weights_too_large_message() {
  return "code lengths: the weights are too large (cost ≥ 2^64 − 1)";
}

}  // namespace co3::detail
