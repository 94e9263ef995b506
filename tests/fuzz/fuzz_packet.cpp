// libFuzzer target: co3::inspect and co3::decode on hostile packets (docs/FORMAT.md §9).
// A packet is either refused with one co3::Error of category corrupt_packet, or decodes to
// exactly the tensors inspect() announced. Anything else (another exception, a sanitizer report,
// a tensor of the wrong size, a message the CLI could not print as one line) is a bug.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "co3/codec.h"
#include "co3/crc32c.h"
#include "co3/error.h"

namespace {

void decode_checked(const uint8_t* data, size_t size) {
  try {
    const co3::PacketInfo info = co3::inspect(data, size);
    const std::vector<co3::DecodedTensor> out = co3::decode(data, size, false, 1);
    if (out.size() != info.segments.size()) std::abort();
    for (size_t s = 0; s < out.size(); ++s) {
      const co3::SegmentInfo& seg = info.segments[s];
      // Decoding is lossy, so the values are not compared with anything; their count is.
      if (out[s].dtype != seg.dtype || out[s].numel != seg.numel ||
          out[s].bytes.size() != seg.numel * co3::dtype_size(seg.dtype)) {
        std::abort();
      }
    }
  } catch (const co3::Error& e) {
    if (e.code() != co3::Errc::corrupt_packet || std::strchr(e.what(), '\n')) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  decode_checked(data, size);
  // A mutation almost never keeps total_bytes and the CRC right, and the decoder checks both
  // before the rest. Decoding a copy with both recomputed lets the fuzzer reach the tables,
  // descriptors and payload; the unrepaired input above still exercises those two checks.
  if (size >= 36) {
    std::vector<uint8_t> fixed(data, data + size);
    const uint64_t total = size;
    std::memcpy(fixed.data() + 8, &total, 8);
    const uint32_t crc = co3::crc32c(fixed.data(), size - 4);
    std::memcpy(fixed.data() + size - 4, &crc, 4);
    if (std::memcmp(fixed.data(), data, size) != 0) decode_checked(fixed.data(), size);
  }
  return 0;
}
