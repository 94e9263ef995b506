// libFuzzer target: the .pt reader (host/io/pt_reader.h, LibTorch's pickle_load underneath) on
// hostile files, parsed from memory. A file is refused with one co3::Error of category
// invalid_argument (one line), or yields numel values of a co3 dtype. LibTorch itself is not
// instrumented: coverage guides through co3's wrapper only, but a crash or an out-of-bounds
// access that ASan's interceptors see inside it still stops the run.
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "co3/error.h"
#include "io/pt_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const co3::io::LoadedTensor t =
        co3::io::parse_pt(reinterpret_cast<const char*>(data), size, "fuzz.pt");
    if (t.bytes.size() != t.numel * co3::dtype_size(t.dtype)) std::abort();
  } catch (const co3::Error& e) {
    if (e.code() != co3::Errc::invalid_argument || std::strchr(e.what(), '\n')) std::abort();
  }
  return 0;
}
