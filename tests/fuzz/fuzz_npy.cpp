// libFuzzer target: the .npy reader (host/io/readers.h) on hostile files, parsed from memory.
// A file is refused with one co3::Error of category invalid_argument (the CLI prints it as one
// line), or yields numel values of its dtype: exactly the file's trailing bytes.
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "co3/error.h"
#include "io/readers.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const co3::io::LoadedTensor t = co3::io::parse_npy(data, size, "fuzz.npy");
    const size_t bytes = t.bytes.size();
    if (bytes != t.numel * co3::dtype_size(t.dtype) || bytes > size ||
        (bytes && std::memcmp(t.bytes.data(), data + size - bytes, bytes) != 0)) {
      std::abort();
    }
  } catch (const co3::Error& e) {
    if (e.code() != co3::Errc::invalid_argument || std::strchr(e.what(), '\n')) std::abort();
  }
  return 0;
}
