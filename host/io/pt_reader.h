// .pt gradient files: a tensor saved with Python's torch.save, read through LibTorch.
#pragma once

#include <string>

#include "io/readers.h"

namespace co3::io {

// Accepts a single floating-point tensor of any shape, or a dict/list/tuple whose only tensor
// value is one. float32, float16 and bfloat16 are kept, other floating dtypes (float64) become
// float32, anything else is refused. Without LibTorch (CO3_WITH_TORCH=OFF) every call fails
// with a message saying so.
LoadedTensor load_pt_file(const std::string& path);
// The same for a file's bytes in memory (`name` labels the messages).
LoadedTensor parse_pt(const char* data, size_t size, const std::string& name);

}  // namespace co3::io
