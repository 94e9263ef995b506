// Peak heap memory of the CPU codec, in bytes per gradient entry beyond the caller's own input
// and output buffers: what encode() and decode_into() allocate while they run.
//
//   co3_bench_memory [--entries N] [--data FILE.f32]
//
// Every operator new/delete of the process is counted (malloc_usable_size), so the figure is
// exact for co3's own std::vector/thread-pool allocations; the input (float32) is allocated
// before the baseline is taken, and decode_into writes into a buffer allocated beforehand.
#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <new>
#include <string>
#include <vector>

#include "co3/codec.h"
#include "co3/config.h"
#include "io/readers.h"

namespace {
std::atomic<long long> g_current{0}, g_peak{0};

void note_alloc(void* p) {
  if (!p) return;
  const long long now = g_current += static_cast<long long>(malloc_usable_size(p));
  long long peak = g_peak.load();
  while (now > peak && !g_peak.compare_exchange_weak(peak, now)) {
  }
}
}  // namespace

void* operator new(size_t n) {
  void* p = std::malloc(n ? n : 1);
  if (!p) throw std::bad_alloc();
  note_alloc(p);
  return p;
}
void* operator new[](size_t n) { return operator new(n); }
void operator delete(void* p) noexcept {
  if (p) g_current -= static_cast<long long>(malloc_usable_size(p));
  std::free(p);
}
void operator delete[](void* p) noexcept { operator delete(p); }
void operator delete(void* p, size_t) noexcept { operator delete(p); }
void operator delete[](void* p, size_t) noexcept { operator delete(p); }

namespace {

// Peak bytes above the level at entry, while f runs.
template <class F>
long long peak_of(F f) {
  const long long base = g_current.load();
  g_peak = base;
  f();
  return g_peak.load() - base;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t entries = uint64_t{1} << 24;
  std::string data = "../shared/data/resnet18_step120.f32";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--entries") entries = std::strtoull(v.c_str(), nullptr, 10);
    else if (k == "--data") data = v;
    else {
      std::fprintf(stderr, "usage: %s [--entries N] [--data FILE.f32]\n", argv[0]);
      return 2;
    }
  }
  std::vector<float> x(entries);
  try {
    std::vector<uint8_t> bytes;
    co3::io::read_file(data, bytes);  // raw little-endian float32
    const size_t n = bytes.size() / 4;
    if (n == 0) throw std::runtime_error(data + ": no float32 values");
    std::vector<float> src(n);
    std::memcpy(src.data(), bytes.data(), 4 * n);
    for (uint64_t i = 0; i < entries; ++i) x[i] = src[i % n];  // tiled real gradient
  } catch (const std::exception& e) {
    std::fprintf(stderr, "co3_bench_memory: %s\n", e.what());
    return 2;
  }
  std::printf("entries %llu (tiled %s); peak heap beyond input and output, bytes per entry\n",
              static_cast<unsigned long long>(entries), data.c_str());
  std::printf("%-6s %-10s %10s %14s %10s %10s\n", "format", "code", "threads", "packet B/entry",
              "encode", "decode");
  for (const char* fmt : {"fp4", "e5m2", "bf16"}) {
    for (int threads : {1, 2}) {
      co3::CodecConfig cfg;
      cfg.format = co3::parse_format(fmt);
      cfg.threads = threads;
      std::vector<uint8_t> packet;
      const co3::TensorView view{x.data(), entries, co3::DType::f32};
      const long long enc = peak_of([&] { packet = co3::encode(view, cfg); });
      std::vector<float> out(entries);
      const long long dec = peak_of([&] {
        co3::decode_into(packet.data(), packet.size(), {out.data()}, false, threads);
      });
      std::printf("%-6s %-10s %10d %14.3f %10.3f %10.3f\n", fmt, "histogram", threads,
                  static_cast<double>(packet.size()) / entries, static_cast<double>(enc) / entries,
                  static_cast<double>(dec) / entries);
    }
  }
  return 0;
}
