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
struct ZstdRunner::Impl {
  const std::vector<float>& x;
  std::vector<char> frame;
  std::vector<float> y;
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_DCtx* dctx = ZSTD_createDCtx();
  explicit Impl(const std::vector<float>& in) : x(in), frame(ZSTD_compressBound(4 * in.size())), y(in.size()) {}
  ~Impl() {
    ZSTD_freeCCtx(cctx);
    ZSTD_freeDCtx(dctx);
  }
};

ZstdRunner::ZstdRunner(const std::vector<float>& x, int level, int threads) : impl_(new Impl(x)) {
  ZSTD_CCtx_setParameter(impl_->cctx, ZSTD_c_compressionLevel, level);
  // One thread: the caller's (nbWorkers 0). More: libzstd's own workers, where it has them.
  const int workers = threads == 1 ? 0 : (threads > 1 ? threads : static_cast<int>(std::thread::hardware_concurrency()));
  ZSTD_CCtx_setParameter(impl_->cctx, ZSTD_c_nbWorkers, workers);
}

ZstdRunner::~ZstdRunner() = default;

bool ZstdRunner::available() { return true; }

void ZstdRunner::encode() {
  bytes_ = ZSTD_compress2(impl_->cctx, impl_->frame.data(), impl_->frame.size(), impl_->x.data(),
                          4 * impl_->x.size());
  if (ZSTD_isError(bytes_)) {
    std::fprintf(stderr, "zstd: %s\n", ZSTD_getErrorName(bytes_));
    std::exit(1);
  }
}

void ZstdRunner::decode() {
  const size_t n = 4 * impl_->x.size();
  const size_t got = ZSTD_decompressDCtx(impl_->dctx, impl_->y.data(), n, impl_->frame.data(), bytes_);
  if (got != n) {
    std::fprintf(stderr, "zstd: decoded %zu of %zu bytes\n", got, n);
    std::exit(1);
  }
}

bool ZstdRunner::round_trip() const {
  return std::memcmp(impl_->x.data(), impl_->y.data(), 4 * impl_->x.size()) == 0;
}
#else
struct ZstdRunner::Impl {};
ZstdRunner::ZstdRunner(const std::vector<float>&, int, int) {}
ZstdRunner::~ZstdRunner() = default;
bool ZstdRunner::available() { return false; }
void ZstdRunner::encode() {}
void ZstdRunner::decode() {}
bool ZstdRunner::round_trip() const { return false; }
#endif

}  // namespace co3::bench
