// See ../../README.md: held only through smart pointers by ProcessGroupGloo.hpp.
#pragma once

namespace gloo::transport {
class Device;
class UnboundBuffer;
}  // namespace gloo::transport
