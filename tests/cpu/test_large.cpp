// Opt-in (CO3_LARGE_TESTS=1; needs about 18 GiB of memory and minutes): one tensor of more
// than 2^32 entries and symbols round-trips. The input is bfloat16 made by a hash of the index,
// and the packet is decoded in place over the input to keep the peak within a 24 GiB machine.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>

#include "co3/codec.h"
#include "co3/dtype.h"
#include "co3/rng.h"

namespace {

using namespace co3;

uint16_t entry(uint64_t i) {
  // A heavy-tailed spread of magnitudes over 8 octaves, both signs, from the index alone.
  const uint64_t h = mix64(i);
  const float mag = std::ldexp(1.0f + static_cast<float>(h & 0xff) / 256.0f, -static_cast<int>((h >> 8) % 8) - 8);
  return float_to_bf16((h >> 16) & 1 ? mag : -mag);
}

TEST(Large, MoreThan2To32EntriesRoundTrip) {
  const char* opt = std::getenv("CO3_LARGE_TESTS");
  if (!opt || std::strcmp(opt, "1") != 0) GTEST_SKIP() << "opt-in: set CO3_LARGE_TESTS=1 (~18 GiB, minutes)";
  const uint64_t n = (uint64_t{1} << 32) + 4097;
  std::vector<uint16_t> buf(n);
  for (uint64_t i = 0; i < n; ++i) buf[i] = entry(i);
  CodecConfig cfg;
  cfg.format = formats::e5m2;  // one entry per symbol: more than 2^32 symbols
  cfg.chunk_symbols = 65536;
  const std::vector<uint8_t> pkt = encode(TensorView{buf.data(), n, DType::bf16}, cfg);
  const PacketInfo info = inspect(pkt.data(), pkt.size());
  ASSERT_EQ(info.segments[0].numel, n);
  std::printf("%llu entries -> %zu bytes (%.3f bits/entry)\n", static_cast<unsigned long long>(n),
              pkt.size(), 8.0 * pkt.size() / n);
  decode_into(pkt.data(), pkt.size(), {buf.data()});
  const float s = info.segments[0].scale;
  uint64_t bad = 0;
  for (uint64_t i = 0; i < n; ++i) {
    const float x = bf16_to_float(entry(i));
    const float q = decode_code(cfg.format, encode_float(x / s, cfg.format, cfg.rounding)) * s;
    bad += buf[i] != float_to_bf16(q);
  }
  EXPECT_EQ(bad, 0u);
}

}  // namespace
