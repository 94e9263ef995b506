// The encoder's host-side argument checks and error messages, shared by the CPU codec
// (host/codec/encode_plan.cpp) and the GPU plan (kernels/encode_plan.cu) so that both refuse the same
// inputs with the same co3::Error, and a device status turns into the message the CPU would give.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>

#include "co3/codec.h"
#include "co3/detail/encode_layout.h"
#include "co3/detail/packet_layout.h"
#include "co3/error.h"
#include "co3/gennorm.h"
#include "co3/huffman.h"

namespace co3::detail {

inline std::string tensor_label(size_t segment) {
  return "tensor " + std::to_string(segment);
}

// Everything about one input that the host knows before reading its data.
inline void check_encode_input(const EncodeInput& in, size_t segment) {
  // Messages are built on failure only (error.h's check with a lambda).
  const auto at = [&] { return tensor_label(segment) + ": "; };
  check(in.grad.data != nullptr || in.grad.numel == 0, Errc::invalid_argument,
        [&] { return at() + "null data with " + std::to_string(in.grad.numel) + " elements"; });
  check(in.grad.numel <= kMaxElements, Errc::invalid_argument, [&] {
    return at() + std::to_string(in.grad.numel) + " elements exceed the format's 2^48";
  });
  check(std::isfinite(in.gamma), Errc::invalid_argument,
        [&] { return at() + "memory decay gamma is not finite"; });
  if (in.shape) {
    check(in.shape->size() <= kMaxDims, Errc::invalid_argument, [&] {
      return at() + "shape has " + std::to_string(in.shape->size()) + " dimensions, more than 64";
    });
    uint64_t product = 1;
    for (int64_t k : *in.shape) {
      check(k >= 0 && static_cast<uint64_t>(k) <= kMaxElements, Errc::invalid_argument,
            [&] { return at() + "shape size " + std::to_string(k) + " outside 0..2^48"; });
      product = k == 0 || product <= kMaxElements / static_cast<uint64_t>(k)
                    ? product * static_cast<uint64_t>(k)
                    : kMaxElements + 1;
    }
    check(product == in.grad.numel, Errc::invalid_argument, [&] {
      return at() + "shape holds " + std::to_string(product) + " elements, the tensor " +
             std::to_string(in.grad.numel);
    });
  }
  if (in.fit) {
    check(in.fit->beta >= kBetaMin && in.fit->beta <= kBetaMax && std::isfinite(in.fit->alpha) &&
              in.fit->alpha >= 0,
          Errc::invalid_argument, [&] {
            return at() + "given GenNorm fit beta " + std::to_string(in.fit->beta) + ", alpha " +
                   std::to_string(in.fit->alpha) + " outside beta 0.03..16, alpha >= 0";
          });
  }
}

// A prior code (codec.h) for a packet of `non_empty` coded tensors coded as pc (one table in
// all when shared_code).
inline void check_prior_code(const PriorCode& prior, const PacketCoding& pc, bool shared_code,
                             size_t non_empty) {
  const size_t want = shared_code ? (non_empty ? 1 : 0) : non_empty;
  check(prior.tables.size() == want, Errc::invalid_argument, [&] {
    return "prior code: " + std::to_string(prior.tables.size()) + " tables, the packet needs " +
           std::to_string(want);
  });
  const int bits = pc.symbol_bits();
  const int max_len = pc.max_code_length;
  for (size_t t = 0; t < prior.tables.size(); ++t) {
    const std::vector<uint8_t>& len = prior.tables[t];
    const auto at = [&] { return "prior code table " + std::to_string(t) + ": "; };
    check(len.size() == size_t{1} << bits, Errc::invalid_argument, [&] {
      return at() + std::to_string(len.size()) + " lengths for an alphabet of " +
             std::to_string(size_t{1} << bits) + " symbols";
    });
    uint64_t kraft = 0;  // in units of 2^-kMaxCodeLength
    for (size_t s = 0; s < len.size(); ++s) {
      check(len[s] >= 1 && len[s] <= max_len, Errc::invalid_argument, [&] {
        return at() + "symbol " + std::to_string(s) + " has length " + std::to_string(len[s]) +
               ", outside 1.." + std::to_string(max_len) + " (a prior code codes every symbol)";
      });
      kraft += uint64_t{1} << (kMaxCodeLength - len[s]);
    }
    check(kraft <= uint64_t{1} << kMaxCodeLength, Errc::invalid_argument,
          [&] { return at() + "the lengths violate the Kraft inequality"; });
  }
}

// Can a code built from the data fail once the symbols are known (so after the error memory
// would be written)? Only when the alphabet has more symbols than codes of max_code_length bits
// can tell apart (validate() refuses that for model codes).
inline bool code_may_fail(const PacketCoding& pc) {
  return pc.max_code_length < pc.symbol_bits();
}

inline std::string non_finite_message(size_t segment, uint64_t count) {
  return tensor_label(segment) + ": " + std::to_string(count) +
         " non-finite values (NaN/Inf); the non-finite policy is 'error' (use 'clamp' to map NaN "
         "to 0 and Inf to the largest value, 'propagate' to keep them)";
}

inline std::string too_many_symbols_message(uint64_t used, int max_len) {
  return "code lengths: " + std::to_string(used) + " symbols do not fit in codes of at most " +
         std::to_string(max_len) + " bits";
}

inline std::string weights_too_large_message() {
  return "code lengths: the weights are too large (cost ≥ 2^64 − 1)";
}

}  // namespace co3::detail
