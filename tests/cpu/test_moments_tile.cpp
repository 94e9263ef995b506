// The encoder's vectorized tile moments (host/codec/encode_moments.h) equal moments.h's tile_moments bit
// for bit: full and partial float32 tiles (one entry, part of a row, whole rows, a row and a
// part) with and without error memory, with NaN, ±Inf, −0 and subnormal entries; and
// co3::moments of a tensor cut into pieces equals the moments encode() reports for the whole.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "co3/codec.h"
#include "codec/encode_moments.h"

namespace {

using namespace co3;

void expect_same(const Moments& a, const Moments& b) {
  EXPECT_EQ(std::memcmp(&a.sum, &b.sum, sizeof a.sum), 0);
  EXPECT_EQ(std::memcmp(&a.sum_abs, &b.sum_abs, sizeof a.sum_abs), 0);
  EXPECT_EQ(std::memcmp(&a.sum_sq, &b.sum_sq, sizeof a.sum_sq), 0);
  EXPECT_EQ(detail::f32_bits(a.max_abs), detail::f32_bits(b.max_abs));
  EXPECT_EQ(a.count, b.count);
  EXPECT_EQ(a.non_finite, b.non_finite);
}

TEST(MomentsTile, EqualsTileMoments) {
  std::mt19937_64 rng(5);
  const size_t n = 3 * kTileEntries + 1000;  // three full tiles and a partial one
  for (int trial = 0; trial < 12; ++trial) {
    std::vector<float> g(n), memory(n);
    for (size_t i = 0; i < n; ++i) {
      const uint64_t r = rng();
      switch (r % 50) {
        case 0: g[i] = detail::bits_f32(0x7fc00000u); break;             // NaN
        case 1: g[i] = detail::bits_f32(0xff800000u); break;             // −Inf
        case 2: g[i] = -0.0f; break;
        case 3: g[i] = detail::bits_f32(static_cast<uint32_t>(r >> 40)); break;  // subnormal
        default: g[i] = std::ldexp(static_cast<float>(static_cast<int64_t>(r >> 20) % 100000), -20 - static_cast<int>(r % 20));
      }
      memory[i] = trial % 2 ? std::ldexp(static_cast<float>(static_cast<int64_t>(rng() >> 40) % 1000 - 500), -25) : 0.0f;
    }
    if (trial < 4) {  // all finite: the sums themselves, not only the counts, are compared
      for (auto& v : g)
        if (!std::isfinite(v)) v = 1e-3f;
    }
    EncodeInput in;
    in.grad = {g.data(), n, DType::f32};
    in.memory = trial % 2 ? memory.data() : nullptr;
    in.gamma = 0.7f;
    for (uint64_t first = 0; first < n; first += kTileEntries) {
      const size_t count = std::min<uint64_t>(kTileEntries, n - first);
      const Moments ref = tile_moments(
          [&](size_t i) { return detail::feedback_input(g[first + i], in.memory, in.gamma, first + i); }, count);
      SCOPED_TRACE(trial);
      expect_same(detail::tile_moments_fast(in, first, count), ref);
    }
    // Partial tiles at any offset (a small tensor, or a tensor's last tile).
    for (size_t count : {size_t{1}, size_t{2}, size_t{3}, size_t{5}, size_t{6}, size_t{17}, size_t{100},
                         size_t{128}, size_t{129}, size_t{255}, size_t{256}, size_t{257}, size_t{4000},
                         size_t{kTileEntries - 1}}) {
      const uint64_t first = rng() % (n - count + 1);
      const Moments ref = tile_moments(
          [&](size_t i) { return detail::feedback_input(g[first + i], in.memory, in.gamma, first + i); }, count);
      SCOPED_TRACE(count);
      expect_same(detail::tile_moments_fast(in, first, count), ref);
    }
  }
}

// co3::moments of pieces (one fit for a bucket's shards) = the moments encode() fits to the
// whole tensor, bit for bit: cuts inside tiles, at tile edges and empty pieces, with and without
// memory, non-finite entries, and 1 or 2 threads.
TEST(MomentsOfPieces, EqualTheEncodersMomentsOfTheWholeTensor) {
  std::mt19937_64 rng(11);
  const size_t n = 3 * kTileEntries + 1000;
  std::vector<float> g(n), memory(n);
  for (size_t i = 0; i < n; ++i) {
    g[i] = std::ldexp(static_cast<float>(static_cast<int64_t>(rng() >> 40) % 100000 - 50000), -24);
    memory[i] = std::ldexp(static_cast<float>(static_cast<int64_t>(rng() >> 40) % 1000 - 500), -25);
  }
  g[17] = detail::bits_f32(0x7f800000u);  // +Inf: counted as non-finite, not summed
  g[kTileEntries + 3] = detail::bits_f32(0x7fc00000u);  // NaN
  CodecConfig config;
  config.format = formats::fp4;
  config.non_finite = NonFinitePolicy::propagate;
  const std::vector<std::vector<size_t>> cuts = {
      {0, n}, {0, 100, n}, {0, kTileEntries, 2 * kTileEntries, n},
      {0, 4096, 4096, kTileEntries + 5, 20000, n}, {0, n - 1, n}};
  for (bool with_memory : {false, true}) {
    std::vector<float> spent(memory);  // encode() updates the memory it is given
    EncodeInput whole({g.data(), n, DType::f32}, with_memory ? spent.data() : nullptr, 0.7f);
    EncodeReport report;
    encode(std::vector<EncodeInput>{whole}, config, &report);
    for (const std::vector<size_t>& cut : cuts)
      for (int threads : {1, 2}) {
        std::vector<EncodeInput> pieces;
        for (size_t k = 0; k + 1 < cut.size(); ++k)
          pieces.emplace_back(TensorView{g.data() + cut[k], cut[k + 1] - cut[k], DType::f32},
                              with_memory ? memory.data() + cut[k] : nullptr, 0.7f);
        SCOPED_TRACE(testing::Message() << "memory " << with_memory << ", " << cut.size() - 1
                                        << " pieces, " << threads << " threads");
        expect_same(moments(pieces, threads), report.segments[0].moments);
      }
  }
  EXPECT_EQ(moments(std::vector<EncodeInput>{}).count, 0u);
}

}  // namespace
