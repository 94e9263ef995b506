// .pt input for programs that do not link LibTorch (the co3 CLI): the reader, pt_reader.cpp,
// is the shared library libco3_pt_reader.so, loaded with dlopen on the first .pt file, so that
// LibTorch's 19 libraries are loaded only when a .pt file is read, not at every start.
#pragma once

#include <cstddef>
#include <string>

#include "io/loaded_tensor.h"

namespace co3::io {

// parse_pt (pt_reader.h) through libco3_pt_reader.so, found as the first that exists of: the
// executable's folder, the build's own copy (or only $CO3_PT_READER, a path, when set). Without
// one, or when it or LibTorch cannot be loaded, fails with Errc::invalid_argument naming what
// is missing.
LoadedTensor parse_pt_loaded(const char* data, size_t size, const std::string& name);

}  // namespace co3::io
