// co3::max_packet_bytes, the bound a caller sizes a buffer by before encoding (and the GPU
// encoder sizes its packet by): never below a real packet, whatever the data, format, code,
// shapes, class maps or shared tables; and at most a table's slack above a packet whose every
// symbol takes the longest code (a prior code of equal lengths at the limit), so that the bound
// is the worst case and not merely large.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "co3/codec.h"
#include "co3/rng.h"

namespace {

using namespace co3;

// Bit patterns drawn uniformly (every exponent, NaN and Inf included), or finite ones only.
std::vector<float> random_bits(uint64_t n, uint64_t seed, bool finite) {
  std::vector<float> v(n);
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  for (uint64_t i = 0; i < n; ++i) {
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    uint32_t b = static_cast<uint32_t>(s >> 16);
    if (finite && (b & 0x7F800000u) == 0x7F800000u) b &= 0xBFFFFFFFu;
    std::memcpy(&v[i], &b, 4);
  }
  return v;
}

TEST(PacketBound, NeverBelowARealPacket) {
  const std::vector<uint64_t> sizes = {0, 1, 4097, 20000};
  std::vector<std::vector<float>> data;
  for (size_t k = 0; k < sizes.size(); ++k) data.push_back(random_bits(sizes[k], k + 1, false));
  for (FloatFormat f : {formats::fp4, formats::e4m3, formats::e5m2, formats::bf16}) {
    for (CodeSource code : {CodeSource::histogram, CodeSource::gennorm}) {
      for (bool shared : {false, true}) {
        for (bool shapes : {false, true}) {
          CodecConfig cfg;
          cfg.format = f;
          cfg.code = code;
          cfg.shared_code = shared;
          cfg.non_finite = NonFinitePolicy::propagate;  // NaN/Inf everywhere: class maps
          cfg.chunk_symbols = 512;
          std::vector<EncodeInput> in;
          for (size_t k = 0; k < sizes.size(); ++k) {
            in.emplace_back(TensorView{data[k].data(), sizes[k], DType::f32});
            if (shapes && k % 2) in.back().shape = std::vector<int64_t>{1, static_cast<int64_t>(sizes[k])};
          }
          const uint64_t bound = max_packet_bytes(in, cfg);
          const size_t size = encode(in, cfg).size();
          EXPECT_LE(size, bound) << to_string(f) << " code " << static_cast<int>(code)
                                 << " shared " << shared << " shapes " << shapes;
        }
      }
    }
  }
}

TEST(PacketBound, TightWhenEverySymbolTakesTheLongestCode) {
  // e4m3: one 8-bit symbol per entry; a prior code of 256 lengths of 8 (Kraft sum exactly 1)
  // at a length limit of 8 makes every payload word the bound's.
  CodecConfig cfg;
  cfg.format = formats::e4m3;
  cfg.max_code_length = 8;
  cfg.scale = Scale{ScalePolicy::none, 1.0f};
  const std::vector<float> v = random_bits(1 << 20, 9, true);
  const std::vector<EncodeInput> in = {EncodeInput(TensorView{v.data(), v.size(), DType::f32})};
  PriorCode prior;
  prior.tables.assign(1, std::vector<uint8_t>(256, 8));
  const uint64_t bound = max_packet_bytes(in, cfg);
  const size_t size = encode(in, cfg, prior).size();
  EXPECT_LE(size, bound);
  // What separates them: the code table's worst-case body against this one's.
  EXPECT_LE(bound - size, 1024u) << "bound " << bound << ", packet " << size;
}

}  // namespace
