// The ErrorFeedback object: per-tensor memory with decay, across steps.
#include <gtest/gtest.h>

#include <cmath>

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

// A failing encode leaves every memory as it was: a NaN in the second tensor under the 'error'
// policy (found before any memory is written), a code too short for the data (found after the
// conversion: the memories are put back), and a name first seen in the failing call is not kept.
TEST(ErrorFeedback, AFailingEncodeLeavesEveryMemoryAsItWas) {
  ErrorFeedback ef(0.7f);
  CodecConfig cfg;
  cfg.format = formats::e5m2;
  const auto a = co3::testing::gennorm_samples(3000, 0.5, 1e-2, 7);
  auto b = co3::testing::gennorm_samples(2000, 0.5, 1e-2, 8);
  const TensorView va{a.data(), a.size(), DType::f32}, vb{b.data(), b.size(), DType::f32};
  ef.encode({{"a", va}, {"b", vb}}, cfg);
  const std::vector<float> mem_a = ef.memory("a"), mem_b = ef.memory("b");
  ASSERT_NE(mem_a, std::vector<float>(a.size(), 0.0f));

  b[1500] = std::nanf("");
  EXPECT_THROW(ef.encode({{"a", va}, {"b", vb}, {"c", va}}, cfg), Error);
  EXPECT_EQ(ef.memory("a"), mem_a);
  EXPECT_EQ(ef.memory("b"), mem_b);
  EXPECT_EQ(ef.names(), (std::vector<std::string>{"a", "b"}));

  b[1500] = 0.5f;
  CodecConfig short_code = cfg;
  short_code.max_code_length = 3;  // 8 codes: fewer than the symbols these tensors use
  try {
    ef.encode({{"a", va}, {"b", vb}}, short_code);
    FAIL() << "a code of 3 bits was built";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::invalid_argument) << e.what();
  }
  EXPECT_EQ(ef.memory("a"), mem_a);
  EXPECT_EQ(ef.memory("b"), mem_b);

  // The same call with a code long enough succeeds and moves both memories.
  short_code.max_code_length = 7;
  ef.encode({{"a", va}, {"b", vb}}, short_code);
  EXPECT_NE(ef.memory("a"), mem_a);
  EXPECT_NE(ef.memory("b"), mem_b);
}

}  // namespace
