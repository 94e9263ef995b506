// Determinism under concurrency and batching: codecs used from several host threads at once give
// the bytes they give alone, and a tensor codes to the same values whether it travels alone or
// in a batch with others.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "co3/codec.h"
#include "co3/error_feedback.h"
#include "test_data.h"

namespace {

using namespace co3;
using co3::testing::gennorm_samples;

TensorView view(const std::vector<float>& v) { return {v.data(), v.size(), DType::f32}; }

struct Job {
  std::vector<float> x;
  CodecConfig cfg;
};

std::vector<Job> jobs() {
  std::vector<Job> js;
  const FloatFormat formats[] = {formats::fp4, formats::e5m2, formats::e4m3, formats::bf16};
  for (int i = 0; i < 8; ++i) {
    Job j;
    j.x = gennorm_samples(50000 + 7919 * i, 0.4 + 0.2 * i, 1e-3, 40 + i);
    j.cfg.format = formats[i % 4];
    j.cfg.rounding = i % 3 == 0 ? Rounding::stochastic : Rounding::nearest_even;
    j.cfg.seed = i;
    j.cfg.code = i % 2 ? CodeSource::gennorm : CodeSource::histogram;
    j.cfg.threads = 1 + i % 3;  // worker pools inside each concurrent call as well
    js.push_back(j);
  }
  return js;
}

TEST(Concurrency, ThreadsEncodingAndDecodingAtOnceGetTheBytesOfASoloRun) {
  const std::vector<Job> js = jobs();
  std::vector<std::vector<uint8_t>> alone;
  std::vector<std::vector<DecodedTensor>> alone_out;
  for (const Job& j : js) {
    alone.push_back(encode(view(j.x), j.cfg));
    alone_out.push_back(decode(alone.back().data(), alone.back().size()));
  }
  for (int round = 0; round < 3; ++round) {
    std::vector<std::vector<uint8_t>> together(js.size());
    std::vector<std::vector<DecodedTensor>> together_out(js.size());
    std::vector<std::thread> threads;
    for (size_t i = 0; i < js.size(); ++i)
      threads.emplace_back([&, i] {
        together[i] = encode(view(js[i].x), js[i].cfg);
        together_out[i] = decode(alone[i].data(), alone[i].size(), false, js[i].cfg.threads);
      });
    for (auto& t : threads) t.join();
    for (size_t i = 0; i < js.size(); ++i) {
      EXPECT_EQ(together[i], alone[i]) << "job " << i << " round " << round;
      EXPECT_EQ(together_out[i][0].bytes, alone_out[i][0].bytes) << "job " << i;
    }
  }
}

TEST(Concurrency, ErrorFeedbackObjectsOnSeveralThreadsEvolveAsAlone) {
  const auto steps = [](int seed) {
    std::vector<std::vector<float>> g;
    for (int s = 0; s < 4; ++s) g.push_back(gennorm_samples(20000, 0.7, 1e-2, 100 * seed + s));
    return g;
  };
  CodecConfig cfg;
  cfg.format = formats::fp4;
  const auto run = [&](int seed) {
    ErrorFeedback ef(0.7f);
    std::vector<std::vector<uint8_t>> packets;
    for (const auto& g : steps(seed)) packets.push_back(ef.encode({{"w", view(g)}}, cfg));
    return packets;
  };
  std::vector<std::vector<std::vector<uint8_t>>> alone, together(4);
  for (int s = 0; s < 4; ++s) alone.push_back(run(s));
  std::vector<std::thread> threads;
  for (int s = 0; s < 4; ++s) threads.emplace_back([&, s] { together[s] = run(s); });
  for (auto& t : threads) t.join();
  EXPECT_EQ(together, alone);
}

// A batch codes each tensor as a packet of its own would (per-tensor codes): same values.
TEST(Concurrency, BatchSplitsDoNotChangeTheValues) {
  const auto a = gennorm_samples(30001, 0.5, 1e-3, 7), b = gennorm_samples(4097, 1.2, 2.0, 8);
  const auto c = gennorm_samples(1, 1.0, 1.0, 9);
  for (Rounding r : {Rounding::nearest_even, Rounding::stochastic}) {
    CodecConfig cfg;
    cfg.format = formats::fp4;
    cfg.rounding = r;
    const auto batch = encode({EncodeInput(view(a)), EncodeInput(view(b)), EncodeInput(view(c))}, cfg);
    const auto together = decode(batch.data(), batch.size());
    const std::vector<const std::vector<float>*> xs = {&a, &b, &c};
    for (size_t i = 0; i < 3; ++i) {
      // Stochastic rounding is keyed by (seed, entry index within its tensor): a split agrees.
      const auto alone_pkt = encode(view(*xs[i]), cfg);
      EXPECT_EQ(decode(alone_pkt.data(), alone_pkt.size())[0].bytes, together[i].bytes)
          << "tensor " << i << " rounding " << to_string(r);
    }
  }
}

}  // namespace
