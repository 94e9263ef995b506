// Where `co3 compress` runs: the CPU codec (default) or the GPU. A small torch-free helper, so
// that the CLI can say clearly why a GPU run is impossible before it reads any input.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "co3/codec.h"

namespace co3::cli {

enum class Device { cpu, cuda };

// "cpu" or "cuda"; anything else throws co3::Error(invalid_argument).
Device parse_device(const std::string& s);

// Throws co3::Error(invalid_argument) when `d` cannot be used by this build on this machine:
// "--device cuda: this build has no CUDA support" (built without CUDA) or "--device cuda: no
// CUDA device available" (cudaGetDeviceCount finds none; the runtime's reason in parentheses).
void require_device(Device d);

// The packet of a host tensor encoded by the GPU encoder (copied to the device, encoded, the
// packet copied back: synchronous). Requires require_device(Device::cuda) to have passed.
std::vector<uint8_t> encode_on_device(const TensorView& host_tensor, const CodecConfig& config);

}  // namespace co3::cli
