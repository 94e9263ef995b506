// .pt gradient files: a tensor saved with Python's torch.save, read through LibTorch. Built only
// into libco3_pt_reader.so (with LibTorch); programs without LibTorch load it on first use
// (pt_loader.h).
#pragma once

#include <cstddef>
#include <string>

#include "io/loaded_tensor.h"

namespace co3::io {

// Accepts a single floating-point tensor of any shape, or a dict/list/tuple whose only tensor
// value is one. float32, float16 and bfloat16 are kept, other floating dtypes (float64) become
// float32, anything else is refused. The file's bytes are in memory (host/io/readers.cpp reads
// them); `name` labels the messages as the path does.
LoadedTensor parse_pt(const char* data, size_t size, const std::string& name);

}  // namespace co3::io
