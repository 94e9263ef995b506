// The 'propagate' non-finite policy (docs/FORMAT.md §6a): a tensor holding +Inf, -Inf or NaN is
// coded into a version-3 packet whose class maps make those entries decode to the same values,
// its error memory kept as it was; packets without such entries are the bytes they were.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "co3/codec.h"
#include "co3/dtype.h"
#include "co3/error.h"
#include "co3/error_feedback.h"
#include "hd_validate.h"
#include "hostile_packets.h"
#include "test_data.h"

namespace {

using namespace co3;

CodecConfig propagating(FloatFormat f) {
  CodecConfig c;
  c.format = f;
  c.non_finite = NonFinitePolicy::propagate;
  return c;
}

uint16_t version_of(const std::vector<uint8_t>& p) {
  uint16_t v;
  std::memcpy(&v, p.data() + 4, 2);
  return v;
}

std::vector<uint8_t> as_dtype(const std::vector<float>& v, DType d) {
  std::vector<uint8_t> out(v.size() * dtype_size(d));
  for (size_t i = 0; i < v.size(); ++i) {
    const uint32_t bits = store_bits(v[i], d);
    std::memcpy(out.data() + i * dtype_size(d), &bits, dtype_size(d));
  }
  return out;
}

TEST(NonFinite, PacketsWithoutNonFiniteEntriesAreUnchanged) {
  const auto x = co3::testing::gennorm_samples(20000, 0.6, 1e-3, 11);
  for (FloatFormat f : {formats::fp4, formats::e4m3, formats::bf16}) {
    CodecConfig error;
    error.format = f;
    const auto a = encode(TensorView{x.data(), x.size(), DType::f32}, error);
    const auto b = encode(TensorView{x.data(), x.size(), DType::f32}, propagating(f));
    EXPECT_EQ(a, b) << to_string(f);
    EXPECT_EQ(version_of(b), 1);
  }
}

// Every preset layout (ieee, fn, and finite, which has no Inf or NaN code), every dtype, entries
// at the first, last and chunk-boundary positions: the non-finite entries decode to themselves
// (NaN as NaN, Inf with its sign), every other entry to a finite value.
TEST(NonFinite, EntriesDecodeToTheirNonFiniteValues) {
  auto x = co3::testing::gennorm_samples(9001, 0.6, 1e-3, 12);
  const std::vector<std::pair<size_t, float>> holes = {
      {0, INFINITY}, {1, -INFINITY}, {4095, NAN}, {4096, -INFINITY}, {7777, NAN}, {9000, INFINITY}};
  for (const auto& [i, v] : holes) x[i] = v;
  for (FloatFormat f : {formats::fp4, formats::e4m3, parse_format("3,2,4,finite")}) {
    for (DType d : {DType::f32, DType::f16, DType::bf16}) {
      SCOPED_TRACE(to_string(f) + " " + to_string(d));
      const std::vector<uint8_t> bytes = as_dtype(x, d);
      CodecConfig cfg = propagating(f);
      cfg.chunk_symbols = 1000;
      const auto packet = encode(TensorView{bytes.data(), x.size(), d}, cfg);
      EXPECT_EQ(version_of(packet), 3);
      EXPECT_EQ(co3::testing::validate_hd(packet.data(), packet.size()).code, 0u);
      for (bool as_f32 : {false, true}) {
        const auto out = decode(packet.data(), packet.size(), as_f32);
        ASSERT_EQ(out.size(), 1u);
        const DType od = as_f32 ? DType::f32 : d;
        ASSERT_EQ(out[0].dtype, od);
        size_t non_finite = 0;
        for (size_t i = 0; i < x.size(); ++i) {
          const float y = load_as_float(out[0].bytes.data(), od, i);
          if (std::isfinite(x[i])) {
            EXPECT_TRUE(std::isfinite(y)) << i;
            continue;
          }
          ++non_finite;
          if (std::isnan(x[i])) {
            EXPECT_TRUE(std::isnan(y)) << i;
          } else {
            EXPECT_EQ(y, x[i]) << i;
          }
        }
        EXPECT_EQ(non_finite, holes.size());
      }
    }
  }
}

// Shapes and class maps together: version 3 with both flags, and only the segments holding
// non-finite entries carry a map.
TEST(NonFinite, ShapesAndMapsOnlyWhereNeeded) {
  auto a = co3::testing::gennorm_samples(600, 0.6, 1e-3, 13);
  const auto b = co3::testing::gennorm_samples(700, 0.6, 1e-3, 14);
  a[17] = NAN;
  EncodeInput ia({a.data(), a.size(), DType::f32}), ib({b.data(), b.size(), DType::f32});
  ia.shape = std::vector<int64_t>{20, 30};
  const auto packet = encode({ia, ib}, propagating(formats::fp4));
  EXPECT_EQ(version_of(packet), 3);
  uint16_t flags;
  std::memcpy(&flags, packet.data() + 6, 2);
  EXPECT_EQ(flags, 3);
  EXPECT_EQ(packet[32 + 51], 1);
  EXPECT_EQ(packet[32 + 64 + 51], 0);
  const auto out = decode(packet.data(), packet.size());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(*out[0].shape, (std::vector<int64_t>{20, 30}));
  EXPECT_TRUE(std::isnan(load_as_float(out[0].bytes.data(), DType::f32, 17)));
  for (size_t i = 0; i < b.size(); ++i)
    EXPECT_TRUE(std::isfinite(load_as_float(out[1].bytes.data(), DType::f32, i)));
}

// The memory of a tensor holding NaN/Inf stays as it was (the whole tensor's: its step is one a
// loss scaler skips); the other tensors' memories move as usual.
TEST(NonFinite, MemoryOfATensorWithNonFiniteEntriesIsKept) {
  ErrorFeedback ef(0.7f);
  const CodecConfig cfg = propagating(formats::fp4);
  auto a = co3::testing::gennorm_samples(3000, 0.5, 1e-2, 15);
  const auto b = co3::testing::gennorm_samples(2000, 0.5, 1e-2, 16);
  const TensorView va{a.data(), a.size(), DType::f32}, vb{b.data(), b.size(), DType::f32};
  ef.encode({{"a", va}, {"b", vb}}, cfg);
  const std::vector<float> mem_a = ef.memory("a"), mem_b = ef.memory("b");
  a[2999] = -INFINITY;
  const auto packet = ef.encode({{"a", va}, {"b", vb}}, cfg);
  EXPECT_EQ(ef.memory("a"), mem_a);
  EXPECT_NE(ef.memory("b"), mem_b);
  const auto out = decode(packet.data(), packet.size());
  EXPECT_EQ(load_as_float(out[0].bytes.data(), DType::f32, 2999), -INFINITY);
  // u = g + γe overflowing to +Inf counts as non-finite too.
  ErrorFeedback big(1.0f);
  const std::vector<float> huge = {3e38f, 1.0f, -2.0f, 0.5f};
  big.set_memory("h", {3e38f, 0.0f, 0.0f, 0.0f});
  const auto p2 = big.encode({{"h", {huge.data(), huge.size(), DType::f32}}}, cfg);
  EXPECT_EQ(load_as_float(decode(p2.data(), p2.size())[0].bytes.data(), DType::f32, 0), INFINITY);
  EXPECT_EQ(big.memory("h"), (std::vector<float>{3e38f, 0.0f, 0.0f, 0.0f}));
}

TEST(NonFinite, HandBuiltVersion3PacketDecodes) {
  const auto p = co3::testing::build(co3::testing::class_map_spec());
  EXPECT_EQ(co3::testing::validate_hd(p.data(), p.size()).code, 0u);
  const auto out = decode(p.data(), p.size());
  const float* y = reinterpret_cast<const float*>(out[0].bytes.data());
  EXPECT_EQ(y[0], 0.5f);
  EXPECT_EQ(y[1], INFINITY);
  EXPECT_EQ(y[2], -0.5f);
  EXPECT_TRUE(std::isnan(y[3]));
  EXPECT_EQ(y[4], -INFINITY);
}

TEST(NonFinite, PolicyNames) {
  EXPECT_EQ(parse_non_finite("propagate"), NonFinitePolicy::propagate);
  EXPECT_STREQ(to_string(NonFinitePolicy::propagate), "propagate");
  EXPECT_THROW(parse_non_finite("keep"), Error);
}

}  // namespace
