// libzstd on the bench's input, as reference rows beside co3 (issues 13 and 25): a
// general-purpose lossless compressor in the same process on the same float32 bytes, into a
// frame buffer allocated once (as co3's rows encode into a buffer allocated once). Built without
// libzstd, available() is false and the bench says the rows are absent.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

namespace co3::bench {

class ZstdRunner {
 public:
  // `threads` compression workers (1: the caller's thread only; 0: every core); decompression
  // is single-threaded in libzstd.
  ZstdRunner(const std::vector<float>& x, int level, int threads);
  ~ZstdRunner();
  ZstdRunner(const ZstdRunner&) = delete;
  ZstdRunner& operator=(const ZstdRunner&) = delete;

  static bool available();
  void encode();           // x into the frame
  void decode();           // the frame back into the output
  bool round_trip() const;  // the output equals x
  size_t bytes() const { return bytes_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  size_t bytes_ = 0;
};

}  // namespace co3::bench
