// Round trips of the CPU codec, checked entry by entry against the conversion applied directly
// (a different path from the encoder's pipeline), on real and synthetic gradients.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "co3/codec.h"
#include "co3/dtype.h"
#include "co3/error.h"
#include "co3/rng.h"
#include "test_data.h"

namespace {

using namespace co3;
using co3::testing::gennorm_samples;
using co3::testing::real_gradient;

TensorView view(const std::vector<float>& v) { return {v.data(), v.size(), DType::f32}; }

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

// Every decoded entry equals value(encode(x / scale)) × scale, with the packet's own scale.
void expect_exact_round_trip(const std::vector<float>& x, const CodecConfig& cfg,
                             const std::string& what) {
  const std::vector<uint8_t> pkt = encode(view(x), cfg);
  const PacketInfo info = inspect(pkt.data(), pkt.size());
  ASSERT_EQ(info.segments.size(), 1u) << what;
  const float s = info.segments[0].scale;
  const auto out = decode(pkt.data(), pkt.size());
  ASSERT_EQ(out[0].numel, x.size()) << what;
  const float* y = reinterpret_cast<const float*>(out[0].bytes.data());
  size_t bad = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const uint32_t code = encode_float(x[i] / s, cfg.format, cfg.rounding, random_word(cfg.seed, i));
    const float want = decode_code(cfg.format, code) * s;
    if (bits(y[i]) != bits(want) && bad++ < 5)
      ADD_FAILURE() << what << ": entry " << i << " x=" << x[i] << " got " << y[i] << " want " << want;
  }
  EXPECT_EQ(bad, 0u) << what;
}

const FloatFormat kFormats[] = {formats::fp4, formats::e5m2, formats::e4m3, formats::fp16,
                                formats::bf16, {3, 2, 3, Layout::ieee}, {2, 2, 1, Layout::finite}};

// Exact round trips of x under every rounding, scale policy and code source of each format.
void expect_every_config_round_trips(const std::vector<float>& x, const std::vector<FloatFormat>& fs,
                                     const CodecConfig& base, const std::string& what) {
  for (const FloatFormat& f : fs)
    for (Rounding r : {Rounding::nearest_even, Rounding::nearest_down, Rounding::stochastic})
      for (ScalePolicy p : {ScalePolicy::none, ScalePolicy::absmax, ScalePolicy::gennorm, ScalePolicy::value})
        for (CodeSource c : {CodeSource::histogram, CodeSource::gennorm, CodeSource::normal, CodeSource::laplace}) {
          CodecConfig cfg = base;
          cfg.format = f;
          cfg.rounding = r;
          cfg.scale.policy = p;
          cfg.code = c;
          expect_exact_round_trip(x, cfg, what + " " + to_string(f) + " " + to_string(r) + " " +
                                              to_string(p) + " " + to_string(c));
        }
}

TEST(Codec, EveryFormatRoundingScaleAndCodeOnSyntheticData) {
  CodecConfig base;
  base.scale.value = 3e-4f;
  base.seed = 11;
  base.chunk_symbols = 1000;
  expect_every_config_round_trips(gennorm_samples(50000, 0.4, 1e-3, 5),
                                  std::vector<FloatFormat>(std::begin(kFormats), std::end(kFormats)),
                                  base, "synthetic");
}

TEST(Codec, RealGradientsEveryFormatAndCode) {
  for (const char* name : {"resnet18_step0.f32", "resnet18_step120.f32"}) {
    const auto x = real_gradient(name);
    if (x.empty()) GTEST_SKIP() << "real gradients not found in " << co3::testing::data_dir();
    for (const FloatFormat& f : {formats::fp4, formats::e5m2, formats::e4m3, formats::bf16})
      for (CodeSource c : {CodeSource::histogram, CodeSource::gennorm, CodeSource::normal, CodeSource::laplace}) {
        CodecConfig cfg;
        cfg.format = f;
        cfg.code = c;
        cfg.rounding = c == CodeSource::laplace ? Rounding::stochastic : Rounding::nearest_even;
        expect_exact_round_trip(x, cfg, std::string(name) + " " + to_string(f) + " " + to_string(c));
      }
  }
}

TEST(Codec, RealGradientPrefixesEveryRoundingAndScale) {
  for (const char* name : {"resnet18_step0.f32", "resnet18_step120.f32"}) {
    const auto x = real_gradient(name, 1 << 18);
    if (x.empty()) GTEST_SKIP() << "real gradients not found in " << co3::testing::data_dir();
    CodecConfig base;
    base.scale.value = 1e-5f;
    base.seed = 5;
    expect_every_config_round_trips(x, {formats::fp4, formats::e5m2, formats::e4m3, formats::bf16},
                                    base, name);
  }
}

TEST(Codec, HalfAndBfloat16InputsDecodeToTheirDtype) {
  const auto x = gennorm_samples(20000, 0.7, 0.02, 9);
  for (DType d : {DType::f16, DType::bf16}) {
    std::vector<uint16_t> h(x.size());
    for (size_t i = 0; i < x.size(); ++i)
      h[i] = static_cast<uint16_t>(store_bits(x[i], d));
    CodecConfig cfg;
    cfg.format = formats::e4m3;
    const auto pkt = encode(TensorView{h.data(), h.size(), d}, cfg);
    const auto out = decode(pkt.data(), pkt.size());
    ASSERT_EQ(out[0].dtype, d);
    const float s = inspect(pkt.data(), pkt.size()).segments[0].scale;
    const uint16_t* y = reinterpret_cast<const uint16_t*>(out[0].bytes.data());
    for (size_t i = 0; i < x.size(); ++i) {
      const float g = load_as_float(h.data(), d, i);
      const float q = decode_code(cfg.format, encode_float(g / s, cfg.format, cfg.rounding)) * s;
      ASSERT_EQ(y[i], static_cast<uint16_t>(store_bits(q, d))) << to_string(d) << " entry " << i;
    }
    // Decoding the same packet as float32 gives the unrounded values.
    const auto f32 = decode(pkt.data(), pkt.size(), /*as_f32=*/true);
    EXPECT_EQ(f32[0].dtype, DType::f32);
    EXPECT_EQ(f32[0].bytes.size(), 4 * x.size());
  }
}

TEST(Codec, BatchOfMixedSizesIncludingEmptyAndOne) {
  std::vector<std::vector<float>> ts = {{}, {0.25f}, gennorm_samples(31, 1, 1, 1),
                                        gennorm_samples(4097, 0.3, 2, 2), {}, gennorm_samples(70000, 2, 5, 3)};
  std::vector<EncodeInput> in;
  for (auto& t : ts) in.push_back({view(t), nullptr, 0});
  CodecConfig cfg;
  cfg.format = formats::fp4;
  cfg.chunk_symbols = 64;
  EncodeReport rep;
  const auto pkt = encode(in, cfg, &rep);
  EXPECT_EQ(rep.packet_bytes, pkt.size());
  const auto info = inspect(pkt.data(), pkt.size());
  ASSERT_EQ(info.segments.size(), ts.size());
  EXPECT_EQ(info.num_tables, 4u);
  const auto out = decode(pkt.data(), pkt.size());
  for (size_t k = 0; k < ts.size(); ++k) {
    ASSERT_EQ(out[k].numel, ts[k].size());
    const float s = info.segments[k].scale;
    const float* y = reinterpret_cast<const float*>(out[k].bytes.data());
    for (size_t i = 0; i < ts[k].size(); ++i)
      ASSERT_EQ(y[i], decode_code(cfg.format, encode_float(ts[k][i] / s, cfg.format, cfg.rounding)) * s);
  }
}

TEST(Codec, SharedCodeTableForManySmallTensors) {
  // LeNet-sized layers: the per-tensor code tables would cost more than a sixth of the payload.
  std::vector<std::vector<float>> ts;
  for (int k = 0; k < 12; ++k) ts.push_back(gennorm_samples(150 + 400 * k, 0.5, 1e-2 * (k + 1), 20 + k));
  ts.push_back({});
  std::vector<EncodeInput> in;
  uint64_t entries = 0;
  for (auto& t : ts) {
    in.push_back({view(t), nullptr, 0});
    entries += t.size();
  }
  for (CodeSource c : {CodeSource::histogram, CodeSource::gennorm}) {
    CodecConfig cfg;
    cfg.format = formats::fp4;
    cfg.code = c;
    EncodeReport own, shared_rep;
    const auto separate = encode(in, cfg, &own);
    cfg.shared_code = true;
    const auto shared = encode(in, cfg, &shared_rep);
    const auto info = inspect(shared.data(), shared.size());
    EXPECT_EQ(info.num_tables, 1u);
    EXPECT_LT(shared.size(), separate.size()) << to_string(c);
    uint64_t table_bits = 0;
    for (const auto& r : shared_rep.segments) table_bits += r.table_bits;
    EXPECT_GT(table_bits, 0u);
    EXPECT_EQ(table_bits, shared_rep.segments[0].table_bits) << "a shared table is counted once";
    std::printf("%s: %zu tensors, %llu entries: own tables %.3f bits/entry, shared %.3f\n",
                to_string(c), ts.size(), static_cast<unsigned long long>(entries),
                8.0 * separate.size() / entries, 8.0 * shared.size() / entries);
    const auto out = decode(shared.data(), shared.size());
    for (size_t k = 0; k < ts.size(); ++k) {
      const float s = info.segments[k].scale;
      ASSERT_EQ(out[k].numel, ts[k].size());
      const float* y = reinterpret_cast<const float*>(out[k].bytes.data());
      for (size_t i = 0; i < ts[k].size(); ++i)
        ASSERT_EQ(y[i], decode_code(cfg.format, encode_float(ts[k][i] / s, cfg.format, cfg.rounding)) * s);
    }
  }
}

TEST(Codec, AdversarialValues) {
  const float denorm = 1e-42f, big = 3e38f;
  std::vector<std::vector<float>> cases = {
      std::vector<float>(10000, 0.0f), std::vector<float>(777, -0.0f),
      std::vector<float>(5000, denorm), {denorm, -denorm, 0, big, -big, 1, -1},
      std::vector<float>(3, big), {1.0f}, {-7.5f}};
  for (const FloatFormat& f : kFormats)
    for (ScalePolicy p : {ScalePolicy::none, ScalePolicy::absmax, ScalePolicy::gennorm})
      for (const auto& x : cases) {
        CodecConfig cfg;
        cfg.format = f;
        cfg.scale.policy = p;
        cfg.code = x.size() % 2 ? CodeSource::gennorm : CodeSource::histogram;
        expect_exact_round_trip(x, cfg, to_string(f) + " " + to_string(p) + " n=" + std::to_string(x.size()));
      }
}

// Inputs among float32's subnormals and tiny normals under the smallest scale, where several
// code thresholds share a bucket of the encoder's signed table (its threshold_code fallback),
// and the same data at ordinary scales (tables without such buckets), both signs, lengths not a
// multiple of the unrolled loops: every entry as the conversion applied directly.
TEST(Codec, SubnormalInputsAndTinyScalesTakeEveryConversionPath) {
  std::mt19937_64 rng(8);
  std::vector<float> x(20003);
  for (auto& v : x) {
    uint32_t b = static_cast<uint32_t>(rng() % 0x01000000u);  // subnormals and the first normals
    b |= static_cast<uint32_t>(rng() & 1) << 31;
    std::memcpy(&v, &b, 4);
  }
  for (const FloatFormat& f : {formats::e4m3, formats::e5m2, formats::bf16, formats::fp16, formats::fp4})
    for (Rounding r : {Rounding::nearest_even, Rounding::nearest_down})
      for (float scale : {1.17549435e-38f, 3e-38f, 1e-30f}) {
        CodecConfig cfg;
        cfg.format = f;
        cfg.rounding = r;
        cfg.scale.policy = ScalePolicy::value;
        cfg.scale.value = scale;
        expect_exact_round_trip(x, cfg, to_string(f) + " " + to_string(r) + " scale " + std::to_string(scale));
      }
}

TEST(Codec, NonFiniteInputIsRefusedOrClamped) {
  std::vector<float> x = gennorm_samples(1000, 1, 1, 4);
  x[10] = NAN;
  x[20] = INFINITY;
  x[30] = -INFINITY;
  std::vector<float> memory(x.size(), 0.5f);
  CodecConfig cfg;
  try {
    encode({{view(x), memory.data(), 0.9f}}, cfg);
    FAIL() << "NaN accepted under the error policy";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::non_finite);
    EXPECT_NE(std::string(e.what()).find("3 non-finite"), std::string::npos) << e.what();
  }
  EXPECT_EQ(memory[0], 0.5f) << "a refused encode must not touch the error memory";
  cfg.non_finite = NonFinitePolicy::clamp;
  const auto pkt = encode({{view(x), memory.data(), 0.9f}}, cfg);
  const auto out = decode(pkt.data(), pkt.size());
  const float* y = reinterpret_cast<const float*>(out[0].bytes.data());
  const float s = inspect(pkt.data(), pkt.size()).segments[0].scale;
  EXPECT_EQ(y[10], 0.0f);
  EXPECT_EQ(y[20], max_finite(cfg.format) * s);
  EXPECT_EQ(y[30], -max_finite(cfg.format) * s);
  EXPECT_EQ(memory[10], 0.0f);
  EXPECT_EQ(memory[20], 0.0f);
}

TEST(Codec, ErrorFeedbackKeepsWhatQuantizationLost) {
  const auto g = gennorm_samples(30000, 0.5, 1e-2, 6);
  std::vector<float> e = gennorm_samples(30000, 2, 1e-3, 7);
  const std::vector<float> e0 = e;
  const float gamma = 0.7f;
  CodecConfig cfg;
  cfg.format = formats::fp4;
  const auto pkt = encode({{view(g), e.data(), gamma}}, cfg);
  const auto out = decode(pkt.data(), pkt.size());
  const float* q = reinterpret_cast<const float*>(out[0].bytes.data());
  for (size_t i = 0; i < g.size(); ++i) {
    const float u = g[i] + gamma * e0[i];
    ASSERT_EQ(bits(e[i]), bits(u - q[i])) << i;
  }
}

TEST(Codec, SameBytesForAnyThreadCount) {
  const auto x = gennorm_samples(300000, 0.3, 1, 8);
  CodecConfig cfg;
  cfg.format = formats::fp4;
  cfg.rounding = Rounding::stochastic;
  cfg.seed = 3;
  cfg.threads = 1;
  const auto a = encode(view(x), cfg);
  for (int t : {2, 3, 8}) {
    cfg.threads = t;
    EXPECT_EQ(a, encode(view(x), cfg)) << t << " threads";
  }
}

TEST(Codec, CompressionNearEntropyOnRealGradients) {
  const auto x = real_gradient("resnet18_step120.f32");
  if (x.empty()) GTEST_SKIP() << "real gradients not found in " << co3::testing::data_dir();
  for (const FloatFormat& f : {formats::e5m2, formats::e4m3, formats::fp4}) {
    CodecConfig cfg;
    cfg.format = f;
    cfg.scale.policy = ScalePolicy::gennorm;
    const TensorStats s = stats(view(x), cfg);
    const double hist = s.bits_per_entry[0];
    std::printf("%-22s beta %.3f entropy %.4f | histogram %.4f gennorm %.4f normal %.4f laplace %.4f | packet %.4f bits/entry, nmse %.4g\n",
                to_string(f).c_str(), s.beta, s.entropy_bits, hist, s.bits_per_entry[1],
                s.bits_per_entry[2], s.bits_per_entry[3], s.packet_bits_per_entry, s.nmse);
    EXPECT_LE(hist, 1.03 * s.entropy_bits) << to_string(f);
    // (Pair codes may go below the per-entry entropy: neighbouring entries are dependent.)
    // Every model code encodes everything; none can beat the empirical optimum.
    for (int c = 1; c < 4; ++c) EXPECT_GE(s.bits_per_entry[c], hist * 0.999);
  }
}

TEST(Codec, StatsMatchTheRealPacket) {
  const auto x = gennorm_samples(100000, 0.6, 1, 10);
  for (CodeSource c : {CodeSource::histogram, CodeSource::gennorm}) {
    CodecConfig cfg;
    cfg.code = c;
    const auto s = stats(view(x), cfg);
    const auto pkt = encode(view(x), cfg);
    EXPECT_DOUBLE_EQ(s.packet_bits_per_entry, 8.0 * pkt.size() / x.size());
  }
}

TEST(Codec, RejectsBadConfigurations) {
  const std::vector<float> x(10, 1.0f);
  auto bad = [&](auto mutate) {
    CodecConfig cfg;
    mutate(cfg);
    try {
      encode(view(x), cfg);
    } catch (const Error& e) {
      return e.code() == Errc::invalid_argument;
    }
    return false;
  };
  EXPECT_TRUE(bad([](CodecConfig& c) { c.chunk_symbols = 8; }));
  EXPECT_TRUE(bad([](CodecConfig& c) { c.chunk_symbols = 70000; }));
  EXPECT_TRUE(bad([](CodecConfig& c) { c.max_code_length = 25; }));
  EXPECT_TRUE(bad([](CodecConfig& c) { c.format = {9, 1, 1, Layout::ieee}; }));
  EXPECT_TRUE(bad([](CodecConfig& c) { c.scale = {ScalePolicy::value, -1.0f}; }));
  EXPECT_TRUE(bad([](CodecConfig& c) { c.scale = {ScalePolicy::value, NAN}; }));
  EXPECT_TRUE(bad([](CodecConfig& c) { c.entries_per_symbol = 3; }));  // 3 × 8 bits > 16
  EXPECT_TRUE(bad([](CodecConfig& c) { c.code = CodeSource::gennorm; c.max_code_length = 6; }));
  EXPECT_THROW(encode(TensorView{nullptr, 5, DType::f32}, CodecConfig{}), Error);
}

}  // namespace

namespace {

// Shapes travel in a version-2 packet and change nothing else: the segment data are the bytes
// of the version-1 packet of the same input.
TEST(Codec, ShapesMakeAVersion2PacketWithTheSameData) {
  const auto a = gennorm_samples(600, 0.7, 1, 21), b = gennorm_samples(7, 1.5, 1, 22);
  CodecConfig cfg;
  const auto plain = encode({EncodeInput(view(a)), EncodeInput(view(b))}, cfg);
  std::vector<EncodeInput> in = {EncodeInput(view(a)), EncodeInput(view(b))};
  in[0].shape = std::vector<int64_t>{20, 3, 10};
  const auto shaped = encode(in, cfg);
  EXPECT_EQ(plain[4], 1);
  EXPECT_EQ(shaped[4], 2);
  const auto out = decode(shaped.data(), shaped.size());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(*out[0].shape, (std::vector<int64_t>{20, 3, 10}));
  EXPECT_EQ(*out[1].shape, (std::vector<int64_t>{7}));  // an input without a shape: [numel]
  const auto ref = decode(plain.data(), plain.size());
  EXPECT_EQ(out[0].bytes, ref[0].bytes);
  EXPECT_EQ(out[1].bytes, ref[1].bytes);
  // The shape section (8 + 24 and 8 + 8 bytes) is the only difference in size.
  EXPECT_EQ(shaped.size(), plain.size() + 48);
}

TEST(Codec, ShapesAndGivenFitsAreValidated) {
  const auto x = gennorm_samples(12, 1, 1, 23);
  auto code_of = [&](auto mutate) {
    EncodeInput in(view(x));
    mutate(in);
    try {
      encode({in}, CodecConfig{});
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("tensor 0"), std::string::npos) << e.what();
      return static_cast<int>(e.code());
    }
    return 0;
  };
  const int bad = static_cast<int>(Errc::invalid_argument);
  EXPECT_EQ(code_of([](EncodeInput& in) { in.shape = std::vector<int64_t>{3, 5}; }), bad);
  EXPECT_EQ(code_of([](EncodeInput& in) { in.shape = std::vector<int64_t>{-3, -4}; }), bad);
  EXPECT_EQ(code_of([](EncodeInput& in) { in.shape = std::vector<int64_t>(65, 1); }), bad);
  EXPECT_EQ(code_of([](EncodeInput& in) { in.shape = std::vector<int64_t>{3, 4}; }), 0);
  EXPECT_EQ(code_of([](EncodeInput& in) { in.fit = GenNormParams{0.0, 1.0}; }), bad);
  EXPECT_EQ(code_of([](EncodeInput& in) { in.fit = GenNormParams{1.0, NAN}; }), bad);
  EXPECT_EQ(code_of([](EncodeInput& in) { in.fit = GenNormParams{1.0, 0.5}; }), 0);
}

// A given fit replaces the tensor's own: same scale as a tensor whose moments give that fit.
TEST(Codec, GivenFitDrivesTheScaleAndTheModelCode) {
  const auto x = gennorm_samples(50000, 0.8, 2.0, 24);
  const auto y = gennorm_samples(50000, 1.6, 0.5, 25);
  CodecConfig cfg;
  cfg.code = CodeSource::gennorm;
  EncodeReport rx, ry;
  const auto px = encode(view(x), cfg, &rx);
  EncodeInput in(view(y));
  in.fit = GenNormParams{rx.segments[0].beta, rx.segments[0].alpha};
  encode({in}, cfg, &ry);
  EXPECT_EQ(ry.segments[0].scale, rx.segments[0].scale);
  EXPECT_EQ(ry.segments[0].beta, rx.segments[0].beta);
  // The moments are still y's own.
  EXPECT_NE(ry.segments[0].moments.sum_abs, rx.segments[0].moments.sum_abs);
}

}  // namespace
