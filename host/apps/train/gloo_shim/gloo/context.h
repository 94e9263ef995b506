// See ../README.md: held through std::shared_ptr by ProcessGroupGloo.hpp, whose inline
// setTimeout names this member (a virtual co3 reaches through libtorch's vtable, never inline).
#pragma once

#include <chrono>

namespace gloo {
class Context {
 public:
  void setTimeout(std::chrono::milliseconds timeout);
};
}  // namespace gloo
