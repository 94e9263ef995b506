#include "co3/crc32c.h"

#include <array>
#include <vector>

#include "co3/detail/crc32c_hd.h"
#include "thread_pool.h"

namespace co3 {
namespace {

// Slicing-by-8 tables: table[k][b] is the CRC of byte b followed by k zero bytes.
struct Tables {
  uint32_t t[8][256];
  Tables() {
    for (uint32_t b = 0; b < 256; ++b) {
      t[0][b] = detail::crc32c_table_entry(b);
    }
    for (int k = 1; k < 8; ++k)
      for (uint32_t b = 0; b < 256; ++b) t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xFF];
  }
};
const Tables& tables() {
  static const Tables tab;
  return tab;
}

uint32_t crc_software(const uint8_t* p, size_t n, uint32_t c) {
  const auto& t = tables().t;
  while (n >= 8) {
    const uint32_t lo = c ^ (uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 |
                             uint32_t{p[3]} << 24);
    c = t[7][lo & 0xFF] ^ t[6][(lo >> 8) & 0xFF] ^ t[5][(lo >> 16) & 0xFF] ^ t[4][lo >> 24] ^
        t[3][p[4]] ^ t[2][p[5]] ^ t[1][p[6]] ^ t[0][p[7]];
    p += 8;
    n -= 8;
  }
  while (n--) c = (c >> 8) ^ t[0][(c ^ *p++) & 0xFF];
  return c;
}

#if defined(__x86_64__)
// The SSE4.2 crc32 instruction computes exactly this CRC; used when the CPU has it.
__attribute__((target("sse4.2"))) uint32_t crc_sse42(const uint8_t* p, size_t n, uint32_t c) {
  uint64_t c64 = c;
  while (n >= 8) {
    uint64_t v;
    __builtin_memcpy(&v, p, 8);
    c64 = __builtin_ia32_crc32di(c64, v);
    p += 8;
    n -= 8;
  }
  uint32_t c32 = static_cast<uint32_t>(c64);
  while (n--) c32 = __builtin_ia32_crc32qi(c32, *p++);
  return c32;
}
// Three streams at once: the crc32 instruction has a latency of three cycles and a throughput
// of one, so one chain runs at a third of its speed. The buffer's thirds are checksummed
// together and joined by crc32c_combine (exact); the last third takes the remainder. Below
// kThreeWay bytes one chain is as fast.
constexpr size_t kThreeWay = size_t{1} << 14;
__attribute__((target("sse4.2"))) uint32_t crc_sse42_3way(const uint8_t* p, size_t n, uint32_t c) {
  if (n < kThreeWay) return crc_sse42(p, n, c);
  const size_t third = (n / 3) & ~size_t{7};
  uint64_t r0 = c, r1 = ~0u, r2 = ~0u;  // the first third continues c; the others start afresh
  for (size_t i = 0; i < third; i += 8) {
    uint64_t v0, v1, v2;
    __builtin_memcpy(&v0, p + i, 8);
    __builtin_memcpy(&v1, p + third + i, 8);
    __builtin_memcpy(&v2, p + 2 * third + i, 8);
    r0 = __builtin_ia32_crc32di(r0, v0);
    r1 = __builtin_ia32_crc32di(r1, v1);
    r2 = __builtin_ia32_crc32di(r2, v2);
  }
  const uint32_t last = crc_sse42(p + 3 * third, n - 3 * third, static_cast<uint32_t>(r2));
  // Registers to finished CRCs, joined, and back to a register for the caller.
  const uint32_t ab = detail::crc32c_combine_hd(~static_cast<uint32_t>(r0), ~static_cast<uint32_t>(r1), third);
  return ~detail::crc32c_combine_hd(ab, ~last, n - 2 * third);
}
bool have_sse42() {
  static const bool ok = __builtin_cpu_supports("sse4.2");
  return ok;
}
#endif

}  // namespace

uint32_t crc32c(const uint8_t* data, size_t size, uint32_t crc) {
  uint32_t c = ~crc;
#if defined(__x86_64__)
  if (have_sse42()) return ~crc_sse42_3way(data, size, c);
#endif
  return ~crc_software(data, size, c);
}

uint32_t crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t size_b) {
  return detail::crc32c_combine_hd(crc_a, crc_b, size_b);
}

uint32_t crc32c_parallel(const uint8_t* data, size_t size, int threads) {
  constexpr size_t kPiece = size_t{1} << 22;
  const size_t pieces = (size + kPiece - 1) / kPiece;
  if (pieces <= 1) return crc32c(data, size);
  std::vector<uint32_t> crc(pieces);
  detail::parallel_for(pieces, threads, 1, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i)
      crc[i] = crc32c(data + i * kPiece, std::min(kPiece, size - i * kPiece));
  });
  uint32_t c = crc[0];
  for (size_t i = 1; i < pieces; ++i)
    c = crc32c_combine(c, crc[i], std::min(kPiece, size - i * kPiece));
  return c;
}

}  // namespace co3
