// The one type every gradient-file reader returns (host/io): a flat tensor, little-endian.
// Its own header so that the readers depend on it and not on each other: readers.cpp chooses
// the reader, pt_reader.cpp (the LibTorch one) parses bytes and knows nothing of files.
#pragma once

#include <cstdint>
#include <vector>

#include "co3/dtype.h"

namespace co3::io {

// `numel` values of `dtype`, little-endian, in `bytes`.
struct LoadedTensor {
  DType dtype = DType::f32;
  uint64_t numel = 0;
  std::vector<uint8_t> bytes;
};

}  // namespace co3::io
