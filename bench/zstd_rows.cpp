#include "zstd_rows.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#if defined(CO3_HAVE_ZSTD)
#include <zstd.h>
#endif

namespace co3::bench {

#if defined(CO3_HAVE_ZSTD)
bool zstd_row(const std::vector<float>& x, int level, int repeats, int threads, ZstdResult* out) {
  const size_t n = x.size() * sizeof(float);
  std::vector<char> frame(ZSTD_compressBound(n));
  std::vector<float> y(x.size());
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_DCtx* dctx = ZSTD_createDCtx();
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
  // One thread: the caller's (nbWorkers 0). More: libzstd's own workers, where it has them.
  const int workers = threads == 1 ? 0 : (threads > 1 ? threads : static_cast<int>(std::thread::hardware_concurrency()));
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_nbWorkers, workers);
  size_t bytes = 0;
  out->encode = median_timing(repeats, [&] {
    bytes = ZSTD_compress2(cctx, frame.data(), frame.size(), x.data(), n);
  });
  if (ZSTD_isError(bytes)) {
    std::fprintf(stderr, "zstd: %s\n", ZSTD_getErrorName(bytes));
    std::exit(1);
  }
  size_t got = 0;
  out->decode = median_timing(repeats, [&] { got = ZSTD_decompressDCtx(dctx, y.data(), n, frame.data(), bytes); });
  if (got != n || std::memcmp(x.data(), y.data(), n) != 0) {
    std::fprintf(stderr, "zstd: round trip failed\n");
    std::exit(1);
  }
  ZSTD_freeCCtx(cctx);
  ZSTD_freeDCtx(dctx);
  out->bytes = bytes;
  return true;
}
#else
bool zstd_row(const std::vector<float>&, int, int, int, ZstdResult*) {
  return false;
}
#endif

}  // namespace co3::bench
