// Encoding with a prior code (codec.h): the tables an encode built, given back, give the same
// packet; a prior code from one step codes the next step's data to the same values; codes that
// cannot code every symbol, or do not fit the packet, are refused.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "../golden/golden_cases.h"
#include "co3/codec.h"
#include "co3/error.h"

namespace {

using co3::golden::Tensor;

std::vector<co3::EncodeInput> inputs(const std::vector<Tensor>& ts,
                                     std::vector<std::vector<float>>& memory) {
  std::vector<co3::EncodeInput> in;
  for (size_t k = 0; k < ts.size(); ++k) {
    co3::EncodeInput e({ts[k].bytes.data(), ts[k].numel, ts[k].dtype},
                       memory[k].empty() ? nullptr : memory[k].data(), ts[k].gamma);
    e.fit = ts[k].fit;
    in.push_back(e);
  }
  return in;
}

std::vector<Tensor> step_data(uint64_t seed) {
  std::vector<Tensor> ts = {co3::golden::synthetic(20000, seed),
                            co3::golden::synthetic(0, seed + 1),
                            co3::golden::synthetic(7777, seed + 2, co3::DType::f16)};
  for (Tensor& t : ts) {
    t.fit = co3::GenNormParams{0.7, 0.003};  // kept across steps, as a compressor's refit policy
    t.gamma = 0.7f;
    t.memory.assign(t.numel, -2e-4f);
  }
  return ts;
}

TEST(PriorCode, TheBuiltTablesGiveTheSamePacketAndMemory) {
  for (co3::FloatFormat f : {co3::formats::fp4, co3::formats::e5m2, co3::formats::bf16}) {
    for (bool shared : {false, true}) {
      co3::CodecConfig cfg = co3::golden::config(
          f, co3::Rounding::nearest_even, co3::ScalePolicy::gennorm, co3::CodeSource::laplace);
      cfg.shared_code = shared;
      const std::vector<Tensor> ts = step_data(10);
      std::vector<std::vector<float>> m1, m2;
      for (const Tensor& t : ts) m1.push_back(t.memory);
      m2 = m1;
      const std::vector<uint8_t> built = co3::encode(inputs(ts, m1), cfg);
      const co3::PriorCode prior = co3::prior_code(built.data(), built.size());
      EXPECT_EQ(prior.tables.size(), shared ? 1u : 2u);
      EXPECT_EQ(co3::encode(inputs(ts, m2), cfg, prior), built) << co3::to_string(f);
      EXPECT_EQ(m1, m2);
    }
  }
}

TEST(PriorCode, CodesTheNextStepToTheSameValues) {
  co3::CodecConfig cfg = co3::golden::config(co3::formats::fp4, co3::Rounding::stochastic,
                                             co3::ScalePolicy::gennorm, co3::CodeSource::gennorm);
  std::vector<std::vector<float>> m1, m2;
  const std::vector<Tensor> first = step_data(20), next = step_data(30);
  for (const Tensor& t : first) m1.push_back(t.memory);
  const std::vector<uint8_t> p1 = co3::encode(inputs(first, m1), cfg);
  const co3::PriorCode prior = co3::prior_code(p1.data(), p1.size());
  for (const Tensor& t : next) m2.push_back(t.memory);
  std::vector<std::vector<float>> m3 = m2;
  // The next step's own code and the prior code differ in bits, not in values or memory.
  co3::CodecConfig own = cfg;
  own.code = co3::CodeSource::histogram;
  const std::vector<uint8_t> a = co3::encode(inputs(next, m2), own);
  const std::vector<uint8_t> b = co3::encode(inputs(next, m3), cfg, prior);
  EXPECT_EQ(m2, m3);
  const auto da = co3::decode(a.data(), a.size()), db = co3::decode(b.data(), b.size());
  ASSERT_EQ(da.size(), db.size());
  for (size_t k = 0; k < da.size(); ++k) EXPECT_EQ(da[k].bytes, db[k].bytes) << "tensor " << k;
}

std::string refusal(const std::vector<Tensor>& ts, const co3::CodecConfig& cfg,
                    const co3::PriorCode& prior) {
  std::vector<std::vector<float>> m;
  for (const Tensor& t : ts) m.push_back(t.memory);
  try {
    co3::encode(inputs(ts, m), cfg, prior);
  } catch (const co3::Error& e) {
    EXPECT_EQ(e.code(), co3::Errc::invalid_argument);
    // Refused before any error memory is written.
    for (size_t k = 0; k < ts.size(); ++k) EXPECT_EQ(m[k], ts[k].memory);
    return e.what();
  }
  return "accepted";
}

TEST(PriorCode, RefusesCodesThatCannotCodeEverySymbolOrDoNotFit) {
  co3::CodecConfig cfg = co3::golden::config(co3::formats::fp4, co3::Rounding::nearest_even,
                                             co3::ScalePolicy::gennorm, co3::CodeSource::histogram);
  const std::vector<Tensor> ts = step_data(40);
  std::vector<std::vector<float>> m;
  for (const Tensor& t : ts) m.push_back(t.memory);
  const std::vector<uint8_t> built = co3::encode(inputs(ts, m), cfg);
  co3::PriorCode prior = co3::prior_code(built.data(), built.size());
  // A histogram code leaves unseen symbols without a codeword.
  EXPECT_NE(refusal(ts, cfg, prior).find("outside 1..12 (a prior code codes every symbol)"),
            std::string::npos);
  co3::PriorCode flat{{std::vector<uint8_t>(256, 8), std::vector<uint8_t>(256, 8)}};
  EXPECT_EQ(refusal(ts, cfg, flat), "accepted");
  co3::PriorCode one{{std::vector<uint8_t>(256, 8)}};
  EXPECT_EQ(refusal(ts, cfg, one), "prior code: 1 tables, the packet needs 2");
  co3::PriorCode wide{{std::vector<uint8_t>(256, 8), std::vector<uint8_t>(512, 9)}};
  EXPECT_EQ(refusal(ts, cfg, wide),
            "prior code table 1: 512 lengths for an alphabet of 256 symbols");
  co3::PriorCode kraft{{std::vector<uint8_t>(256, 8), std::vector<uint8_t>(256, 7)}};
  EXPECT_EQ(refusal(ts, cfg, kraft),
            "prior code table 1: the lengths violate the Kraft inequality");
}

}  // namespace
