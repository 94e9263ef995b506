#include "scratch.h"

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "co3/codec.h"

namespace co3::detail {
namespace {

struct Pool {
  std::mutex mu;
  std::vector<std::pair<uint8_t*, size_t>> free;  // buffer, capacity
  size_t kept = 0;                                 // Σ capacity of `free`
};

Pool& pool() {
  static Pool* p = new Pool;  // never destroyed: buffers may come back during static destruction
  return *p;
}

size_t pool_limit() {
  static const size_t limit = [] {
    const char* v = std::getenv("CO3_SCRATCH_MB");
    if (!v || !*v) return size_t{1024} << 20;
    char* end = nullptr;
    const unsigned long long mb = std::strtoull(v, &end, 10);
    return *end ? size_t{1024} << 20 : static_cast<size_t>(mb) << 20;  // unreadable: the default
  }();
  return limit;
}

// Capacities rounded up to 2 MiB, so that a tensor a little larger than the last one reuses
// a buffer the next time round as well.
size_t rounded(size_t bytes) {
  constexpr size_t kStep = size_t{2} << 20;
  return (bytes + kStep - 1) / kStep * kStep;
}

}  // namespace

Scratch::Scratch(size_t bytes) {
  if (bytes < kPooledBytes) {
    p_ = new uint8_t[bytes ? bytes : 1];
    cap_ = bytes;
    return;
  }
  {
    Pool& p = pool();
    std::lock_guard<std::mutex> lock(p.mu);
    auto best = p.free.end();
    for (auto it = p.free.begin(); it != p.free.end(); ++it)
      if (it->second >= bytes && (best == p.free.end() || it->second < best->second)) best = it;
    if (best != p.free.end()) {
      p_ = best->first;
      cap_ = best->second;
      p.kept -= cap_;
      p.free.erase(best);
      return;
    }
  }
  cap_ = rounded(bytes);
  p_ = new uint8_t[cap_];
}

Scratch& Scratch::operator=(Scratch&& o) noexcept {
  if (this != &o) {
    release();
    p_ = std::exchange(o.p_, nullptr);
    cap_ = std::exchange(o.cap_, 0);
  }
  return *this;
}

void Scratch::release() noexcept {
  if (!p_) return;
  uint8_t* const p = std::exchange(p_, nullptr);
  const size_t cap = std::exchange(cap_, 0);
  if (cap >= kPooledBytes && cap <= pool_limit()) {
    Pool& pl = pool();
    std::lock_guard<std::mutex> lock(pl.mu);
    // Room made by freeing the largest kept buffers first (the likeliest to be outgrown).
    while (pl.kept + cap > pool_limit() && !pl.free.empty()) {
      auto largest = std::max_element(pl.free.begin(), pl.free.end(),
                                      [](const auto& a, const auto& b) { return a.second < b.second; });
      pl.kept -= largest->second;
      delete[] largest->first;
      pl.free.erase(largest);
    }
    try {
      pl.free.emplace_back(p, cap);
      pl.kept += cap;
      return;
    } catch (const std::bad_alloc&) {
      // No room to remember it: freed below.
    }
  }
  delete[] p;
}

size_t scratch_pool_bytes() {
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mu);
  return p.kept;
}

}  // namespace co3::detail

namespace co3 {

void release_scratch() {
  detail::Pool& p = detail::pool();
  std::lock_guard<std::mutex> lock(p.mu);
  for (auto& [buf, cap] : p.free) delete[] buf;
  p.free.clear();
  p.kept = 0;
}

}  // namespace co3
