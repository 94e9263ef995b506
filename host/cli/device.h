// Where `co3 compress` runs: the CPU codec (default) or the GPU. A small torch-free helper, so
// that the CLI can say clearly why a GPU run is impossible before it reads any input.
#pragma once

#include <string>

namespace co3::cli {

enum class Device { cpu, cuda };

// "cpu" or "cuda"; anything else throws co3::Error(invalid_argument).
Device parse_device(const std::string& s);

// Throws co3::Error(invalid_argument) when `d` cannot be used by this build on this machine:
// "--device cuda: this build has no CUDA support" (built without CUDA) or "--device cuda: no
// CUDA device available" (cudaGetDeviceCount finds none; the runtime's reason in parentheses).
void require_device(Device d);

}  // namespace co3::cli
