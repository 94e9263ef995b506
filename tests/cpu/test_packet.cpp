// Hostile packets (hostile_packets.h): each breaks one rule, and the decoder must refuse it
// naming the field; the host+device validator (hd_validate.h) must refuse it too.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "co3/codec.h"
#include "co3/crc32c.h"
#include "co3/error.h"
#include "hd_validate.h"
#include "hostile_packets.h"
#include "test_data.h"

namespace {

using namespace co3;
using co3::testing::build;
using co3::testing::Spec;

// The host+device validator (the GPU's checks, hd_validate.h) must refuse it too.
void expect_hd_rejected(const std::vector<uint8_t>& p) {
  const kernels::DeviceStatus st = co3::testing::validate_hd(p.data(), p.size());
  EXPECT_NE(st.code, 0u) << "the host+device validator accepted it";
  if (st.code) {
    EXPECT_EQ(kernels::status_error(st).code(), Errc::corrupt_packet);
  }
}

// The decoder must refuse with corrupt_packet and a message containing `needle`.
void expect_rejected(const std::vector<uint8_t>& p, const std::string& needle) {
  expect_hd_rejected(p);
  try {
    decode(p.data(), p.size());
    ADD_FAILURE() << "accepted; expected an error mentioning '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::corrupt_packet) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(Packet, HandBuiltPacketDecodes) {
  const auto p = build(Spec{});
  EXPECT_EQ(co3::testing::validate_hd(p.data(), p.size()).code, 0u);
  const auto out = decode(p.data(), p.size());
  ASSERT_EQ(out.size(), 1u);
  const float* y = reinterpret_cast<const float*>(out[0].bytes.data());
  EXPECT_EQ(std::vector<float>(y, y + 5), (std::vector<float>{0.5f, 0, -0.5f, 0, -0.5f}));
}

TEST(Packet, HandBuiltGroupedPacketDecodes) {
  const auto p = build(co3::testing::grouped_spec());
  EXPECT_EQ(co3::testing::validate_hd(p.data(), p.size()).code, 0u);
  const auto out = decode(p.data(), p.size());
  ASSERT_EQ(out.size(), 1u);
  const float* y = reinterpret_cast<const float*>(out[0].bytes.data());
  EXPECT_EQ(std::vector<float>(y, y + 5), (std::vector<float>{0.5f, 0, -0.5f, 0, -0.5f}));
}

TEST(Packet, HostileCasesAreRejectedNamingTheField) {
  for (const auto& c : co3::testing::hostile_cases()) {
    SCOPED_TRACE(c.what);
    expect_rejected(c.packet, c.needle);
  }
}

TEST(Packet, Version2ShapesDecode) {
  Spec s;
  s.with_shape = true;
  const auto p = build(s);
  const auto out = decode(p.data(), p.size());
  ASSERT_EQ(out.size(), 1u);
  ASSERT_TRUE(out[0].shape.has_value());
  EXPECT_EQ(*out[0].shape, (std::vector<int64_t>{1, 5}));
  EXPECT_EQ(*inspect(p.data(), p.size()).segments[0].shape, (std::vector<int64_t>{1, 5}));
  const float* y = reinterpret_cast<const float*>(out[0].bytes.data());
  EXPECT_EQ(std::vector<float>(y, y + 5), (std::vector<float>{0.5f, 0, -0.5f, 0, -0.5f}));
  // A version-1 packet has no shape.
  const auto v1 = build(Spec{});
  EXPECT_FALSE(decode(v1.data(), v1.size())[0].shape.has_value());
}

TEST(Packet, Truncated) {
  const auto p = build(Spec{});
  for (size_t n = 0; n < p.size(); ++n) {
    std::vector<uint8_t> t(p.begin(), p.begin() + n);
    EXPECT_THROW(decode(t.data(), t.size()), Error) << n;
    expect_hd_rejected(t);
  }
}

// Thousands of random byte flips of real packets: every one detected, none crashes.
TEST(Packet, MutatedRealPacketsAreAlwaysDetected) {
  auto x = co3::testing::real_gradient("resnet18_step120.f32", 1 << 16);
  if (x.empty()) x = co3::testing::gennorm_samples(1 << 16, 0.25, 1e-3, 1);
  std::mt19937_64 rng(12345);
  int decoded_with_fixed_crc = 0, rejected_with_fixed_crc = 0;
  for (FloatFormat f : {formats::fp4, formats::e5m2, formats::e4m3})
    for (CodeSource c : {CodeSource::histogram, CodeSource::gennorm}) {
      CodecConfig cfg;
      cfg.format = f;
      cfg.code = c;
      cfg.chunk_symbols = 512;
      const auto pkt = encode(TensorView{x.data(), x.size(), DType::f32}, cfg);
      for (int trial = 0; trial < 600; ++trial) {
        auto m = pkt;
        const size_t at = rng() % m.size();
        m[at] ^= static_cast<uint8_t>(1 + rng() % 255);
        expect_hd_rejected(m);
        try {
          decode(m.data(), m.size());
          ADD_FAILURE() << "flip at byte " << at << " of " << m.size() << " went undetected";
        } catch (const Error& e) {
          ASSERT_EQ(e.code(), Errc::corrupt_packet) << e.what();
        }
        // With the CRC recomputed the deeper checks face the same bytes: no crash, and an
        // accepted packet must still describe the same tensor.
        if (at + 4 < m.size()) {
          const uint32_t crc = crc32c(m.data(), m.size() - 4);
          std::memcpy(m.data() + m.size() - 4, &crc, 4);
          const bool hd_accepts = co3::testing::validate_hd(m.data(), m.size()).code == 0;
          try {
            const auto out = decode(m.data(), m.size());
            ++decoded_with_fixed_crc;
            ASSERT_EQ(out.size(), 1u);
            EXPECT_TRUE(hd_accepts) << "the host+device validator refused a packet the CPU decodes";
          } catch (const Error& e) {
            ASSERT_EQ(e.code(), Errc::corrupt_packet) << e.what();
            ++rejected_with_fixed_crc;
            EXPECT_FALSE(hd_accepts) << "the host+device validator accepted: " << e.what();
          }
        }
      }
    }
  std::printf("with a recomputed CRC: %d rejected, %d decoded (payload flips are valid data)\n",
              rejected_with_fixed_crc, decoded_with_fixed_crc);
  EXPECT_GT(rejected_with_fixed_crc, 0);
}

}  // namespace
