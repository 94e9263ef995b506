// The ErrorFeedback object: per-tensor memory with decay, across steps.
#include <gtest/gtest.h>

#include "co3/error.h"
#include "co3/error_feedback.h"
#include "test_data.h"

namespace {

using namespace co3;

TEST(ErrorFeedback, MemoryFollowsTheRecursionAcrossSteps) {
  const float gamma = 0.5f;
  ErrorFeedback ef(gamma);
  CodecConfig cfg;
  cfg.format = formats::fp4;
  std::vector<float> e_ref(2000, 0.0f);
  for (int step = 0; step < 4; ++step) {
    const auto g = co3::testing::gennorm_samples(2000, 0.4, 1e-2, 100 + step);
    const auto pkt = ef.encode({{"w", {g.data(), g.size(), DType::f32}}}, cfg);
    const auto out = decode(pkt.data(), pkt.size());
    const float* q = reinterpret_cast<const float*>(out[0].bytes.data());
    for (size_t i = 0; i < g.size(); ++i) {
      const float u = g[i] + gamma * e_ref[i];
      e_ref[i] = u - q[i];
    }
    EXPECT_EQ(ef.memory("w"), e_ref) << "step " << step;
  }
}

TEST(ErrorFeedback, SeparateMemoriesAndClearErrors) {
  ErrorFeedback ef(0.9f);
  const std::vector<float> a(10, 1.0f), b(20, -2.0f);
  CodecConfig cfg;
  ef.encode({{"a", {a.data(), a.size(), DType::f32}}, {"b", {b.data(), b.size(), DType::f32}}}, cfg);
  EXPECT_EQ(ef.names(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(ef.memory("a").size(), 10u);
  try {
    ef.encode({{"a", {b.data(), b.size(), DType::f32}}}, cfg);
    FAIL() << "a size change was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("'a'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ef.memory("missing"), Error);
  EXPECT_THROW(ErrorFeedback(-1.0f), Error);
  ef.set_memory("a", std::vector<float>(10, 0.25f));
  EXPECT_EQ(ef.memory("a")[3], 0.25f);
}

}  // namespace
