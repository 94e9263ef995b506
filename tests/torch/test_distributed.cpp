// The compressed all-reduce over a real Gloo process group: three ranks (threads of this process,
// talking TCP over 127.0.0.1 through Gloo, meeting in an in-process store).
#include <gtest/gtest.h>
#include <torch/csrc/distributed/c10d/HashStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <exception>
#include <functional>
#include <thread>
#include <vector>

#include "co3/error.h"
#include "co3/torch/codec.h"
#include "co3/torch/distributed.h"

namespace {

constexpr int kWorld = 3;

c10::intrusive_ptr<c10d::ProcessGroupGloo> make_group(const c10::intrusive_ptr<c10d::Store>& store,
                                                      int rank) {
  auto opts = c10d::ProcessGroupGloo::Options::create(std::chrono::seconds(60));
  opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
  return c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, kWorld, opts);
}

// Runs body(r, group) for every rank r on its own thread, each with a Gloo group over one shared
// store, and rethrows the first rank's exception once every thread has joined.
void run_ranks(const std::function<void(int, c10d::ProcessGroupGloo&)>& body) {
  auto store = c10::make_intrusive<c10d::HashStore>();
  std::vector<std::exception_ptr> errors(kWorld);
  std::vector<std::thread> ranks;
  for (int r = 0; r < kWorld; ++r)
    ranks.emplace_back([&, r] {
      try {
        auto group = make_group(store, r);
        body(r, *group);
      } catch (...) {
        errors[r] = std::current_exception();
      }
    });
  for (auto& t : ranks) t.join();
  for (const std::exception_ptr& e : errors)
    if (e) std::rethrow_exception(e);
}

// Rank r's gradients at a step: different on every rank.
// A generator of its own, not torch's global one: the ranks call this from their threads at
// once, and a shared seed would hand one rank another's draws (the rsag replay below, which
// calls it again on the main thread, failed on a machine that interleaved them so).
std::vector<at::Tensor> grads_of(int rank, int step) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(100 * step + rank);
  return {at::randn({64, 16}, gen) * 1e-2, at::randn({16}, gen).to(at::kBFloat16) * 1e-3};
}

TEST(Distributed, CompressedAllreduceAveragesTheDecodedPacketsIdenticallyOnEveryRank) {
  const std::vector<std::string> names = {"fc.weight", "fc.bias"};
  std::vector<std::vector<std::vector<at::Tensor>>> results(kWorld);  // [rank][step][tensor]
  std::vector<std::vector<at::Tensor>> packets(kWorld);              // [rank][step]
  std::vector<co3::CommStats> stats(kWorld);
  co3::CompressorOptions o;
  o.config.format = co3::formats::fp4;
  o.gamma = 0.7f;
  run_ranks([&](int r, c10d::ProcessGroupGloo& group) {
    co3::Compressor comp(o);
    co3::Compressor mirror(o);  // the same compressor, to see the packet this rank sent
    for (int step = 0; step < 3; ++step) {
      std::vector<at::Tensor> g = grads_of(r, step);
      std::vector<at::Tensor> copy = {g[0].clone(), g[1].clone()};
      packets[r].push_back(mirror.compress(names, copy));
      stats[r] = co3::compressed_allreduce(group, comp, names, g);
      results[r].push_back(g);
    }
  });

  co3::Codec codec(o.config);
  for (int step = 0; step < 3; ++step) {
    // The oracle: decode each rank's packet, sum in rank order, divide.
    for (size_t i = 0; i < names.size(); ++i) {
      at::Tensor sum = codec.decode(packets[0][step], std::nullopt, true)[i];
      for (int r = 1; r < kWorld; ++r) sum = sum + codec.decode(packets[r][step], std::nullopt, true)[i];
      const at::Tensor expect = (sum / kWorld).to(results[0][step][i].scalar_type());
      for (int r = 0; r < kWorld; ++r)
        EXPECT_TRUE(torch::equal(results[r][step][i], expect)) << "rank " << r << " step " << step << " " << i;
    }
  }
  for (int r = 0; r < kWorld; ++r) {
    EXPECT_EQ(stats[r].packet_bytes, packets[r][2].numel());
    EXPECT_EQ(stats[r].elements, 64 * 16 + 16);
    EXPECT_GE(stats[r].contributed_bytes, 8 + stats[r].packet_bytes);
    EXPECT_EQ(stats[r].received_bytes, (kWorld - 1) * stats[r].contributed_bytes);
  }
  // fp4: a quarter of float32 or less, even with the headers and tables of two small tensors.
  EXPECT_LT(8.0 * stats[0].packet_bytes / stats[0].elements, 8.0);
}

// An Inf in one rank's gradient at step 1 (the compressor's default 'propagate' policy): every
// rank's average holds non-finite values where that rank's gradient did, as a plain all-reduce
// would, and every rank's error memory and running-average refit state are left as they were
// before the step.
TEST(Distributed, AnInfOnOneRankReachesEveryRankAndLeavesTheMemories) {
  const std::vector<std::string> names = {"fc.weight", "fc.bias"};
  std::vector<at::Tensor> averaged(kWorld);
  std::vector<bool> kept(kWorld, false);
  run_ranks([&](int r, c10d::ProcessGroupGloo& group) {
    co3::CompressorOptions o;
    o.gamma = 0.7f;
    o.refit = co3::Refit::running_average;
    co3::Compressor comp(o);
    std::vector<at::Tensor> g = grads_of(r, 0);
    co3::compressed_allreduce(group, comp, names, g);
    const at::Tensor w0 = comp.memory(names[0]).clone(), b0 = comp.memory(names[1]).clone();
    const auto statistics = [&] {
      const auto st = comp.state();
      return torch::cat({st.at("fit/fc.weight"), st.at("average/fc.weight"),
                         st.at("fit/fc.bias"), st.at("average/fc.bias")});
    };
    const at::Tensor s0 = statistics();
    g = grads_of(r, 1);
    if (r == 1) g[0][3][5] = std::numeric_limits<float>::infinity();
    co3::compressed_allreduce(group, comp, names, g);
    averaged[r] = g[0];
    kept[r] = torch::equal(w0, comp.memory(names[0])) && torch::equal(b0, comp.memory(names[1])) &&
              torch::equal(s0, statistics());
  });
  for (int r = 0; r < kWorld; ++r) {
    EXPECT_TRUE(std::isinf(averaged[r][3][5].item<float>())) << "rank " << r;
    EXPECT_EQ(at::isfinite(averaged[r]).logical_not().sum().item<int64_t>(), 1) << "rank " << r;
    EXPECT_TRUE(kept[r]) << "rank " << r << ": the skipped step moved the memory or averages";
  }
}

// One rank fails to encode (an integer gradient where the others have floats): every rank takes
// part in both collectives and raises the same error naming rank 1 and its reason; none hangs
// (the group's timeout would turn a hang into a different error).
TEST(Distributed, ARankThatFailsToEncodeFailsEveryRankWithItsReason) {
  const std::vector<std::string> names = {"fc.weight", "fc.bias"};
  std::vector<std::string> messages(kWorld);
  std::vector<co3::Errc> codes(kWorld, co3::Errc::io);
  run_ranks([&](int r, c10d::ProcessGroupGloo& group) {
    co3::Compressor comp(co3::CompressorOptions{});
    std::vector<at::Tensor> g = grads_of(r, 0);
    if (r == 1) g[1] = torch::ones({16}, at::kInt);
    try {
      co3::compressed_allreduce(group, comp, names, g);
    } catch (const co3::Error& e) {
      messages[r] = e.what();
      codes[r] = e.code();
    }
  });
  for (int r = 0; r < kWorld; ++r) {
    EXPECT_EQ(codes[r], co3::Errc::invalid_argument) << "rank " << r << ": " << messages[r];
    EXPECT_NE(messages[r].find("rank 1 failed"), std::string::npos) << messages[r];
    EXPECT_NE(messages[r].find("fc.bias"), std::string::npos) << messages[r];
    EXPECT_EQ(messages[r], messages[0]);
  }
}

// An announcement beyond any packet's size is refused on every rank before anything is allocated
// (a garbage size once asked for 2^60 bytes).
TEST(Distributed, AGarbageSizeIsRefusedBeforeAllocating) {
  const co3::AllGather fake = [](std::vector<at::Tensor>& out, at::Tensor& in) {
    for (size_t r = 0; r < out.size(); ++r) out[r].copy_(in);
    if (in.numel() == 4) out[1][1] = int64_t{1} << 60;  // rank 1's length, garbled
  };
  const at::Tensor packet = co3::Codec().encode(torch::randn({1000}));
  try {
    co3::exchange_packets(fake, 2, packet, "", c10::Device(at::kCPU), 1000, 1);
    ADD_FAILURE() << "a garbage size was accepted";
  } catch (const co3::Error& e) {
    EXPECT_EQ(e.code(), co3::Errc::corrupt_packet);
    EXPECT_NE(std::string(e.what()).find("rank 1 announced 1152921504606846976 bytes"), std::string::npos)
        << e.what();
  }
}

// rsag over Gloo: every rank ends with the same bits, and they are the replay of the algorithm
// from the codec alone (this test's shard cut, each rank's shard coded and decoded, the float32
// sum in rank order coded and decoded again, divided by the ranks); the bytes each rank sends
// are counted.
TEST(Distributed, RsagAveragesTheDecodedSummedShardsIdenticallyOnEveryRank) {
  const std::vector<std::string> names = {"fc.weight", "fc.bias"};
  std::vector<std::vector<at::Tensor>> results(kWorld);
  std::vector<co3::CommStats> stats(kWorld);
  co3::CompressorOptions o;
  o.config.format = co3::formats::fp4;
  o.config.chunk_symbols = 256;  // 1040 entries: 5 chunks over 3 ranks
  o.gamma = 0.0f;                // no memory: the replay needs none
  run_ranks([&](int r, c10d::ProcessGroupGloo& group) {
    co3::Compressor worker(o), shard(o);
    std::vector<at::Tensor> g = grads_of(r, 0);
    stats[r] = co3::compressed_allreduce(group, worker, names, g, co3::Algorithm::rsag, &shard);
    results[r] = g;
  });

  // 5 chunks: shard s holds chunks [5s/3, 5(s+1)/3) = [0,1), [1,3), [3,5).
  const std::vector<int64_t> bounds = {0, 256, 768, 1040};
  EXPECT_EQ(co3::shard_bounds(1040, kWorld, 256), bounds);
  co3::Codec codec(o.config);
  std::vector<at::Tensor> flat;
  for (int r = 0; r < kWorld; ++r) {
    const std::vector<at::Tensor> g = grads_of(r, 0);
    flat.push_back(at::cat({g[0].reshape(-1).to(at::kFloat), g[1].reshape(-1).to(at::kFloat)}));
  }
  // Stage 1 codes every shard of a rank at one scale: the one co3 fits to the rank's bucket.
  std::vector<co3::Codec> at_bucket_scale;
  for (int r = 0; r < kWorld; ++r) {
    co3::CodecConfig c = o.config;
    c.scale = co3::Scale{co3::ScalePolicy::value, codec.stats(flat[r]).scale};
    at_bucket_scale.emplace_back(c);
  }
  at::Tensor expect = at::zeros({1040});
  for (int s = 0; s < kWorld; ++s) {
    const int64_t n = bounds[s + 1] - bounds[s];
    at::Tensor sum = at::zeros({n});
    for (int r = 0; r < kWorld; ++r)
      sum += codec.decode(at_bucket_scale[r].encode(flat[r].narrow(0, bounds[s], n)), std::nullopt, true)[0];
    expect.narrow(0, bounds[s], n).copy_(codec.decode(codec.encode(sum), std::nullopt, true)[0]);
  }
  expect /= kWorld;
  for (int r = 0; r < kWorld; ++r) {
    EXPECT_TRUE(torch::equal(results[r][0].reshape(-1), expect.narrow(0, 0, 1024))) << "rank " << r;
    EXPECT_TRUE(torch::equal(results[r][1], expect.narrow(0, 1024, 16).to(at::kBFloat16))) << "rank " << r;
    EXPECT_EQ(stats[r].elements, 1040);
    EXPECT_GT(stats[r].sent_bytes, 0);
  }
}

// A bucket whose first third codes dense and the rest sparse: after the first step every rank
// moves the cut alike (stats.recut), the worker's shard memories follow it (they hold the cut
// the next step reads), each rank's summed-shard memory takes its new shard's size, and the next
// step still gives every rank the same bits.
TEST(Distributed, RsagMovesTheCutToBalanceTheSummedShardsOnEveryRankAlike) {
  constexpr int64_t kEntries = 3 * 1024;
  std::vector<std::vector<at::Tensor>> results(kWorld);
  std::vector<std::vector<int64_t>> recuts(kWorld), cuts(kWorld), shard_sizes(kWorld);
  co3::CompressorOptions o;
  o.config.format = co3::formats::fp4;
  o.config.chunk_symbols = 256;
  o.gamma = 0.7f;
  run_ranks([&](int r, c10d::ProcessGroupGloo& group) {
    co3::Compressor worker(o), shard(o);
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(31 + r);
    for (int step = 0; step < 2; ++step) {
      at::Tensor g = at::zeros({kEntries});
      g.narrow(0, 0, 1024).copy_(at::randn({1024}, gen));
      g.narrow(0, 1024, 2048).index_put_({at::arange(0, 2048, 64)}, at::randn({32}, gen));
      std::vector<at::Tensor> grads = {g};
      const co3::CommStats st =
          co3::compressed_allreduce(group, worker, {"w"}, grads, co3::Algorithm::rsag, &shard);
      recuts[r].push_back(st.recut);
      results[r].push_back(grads[0]);
    }
    int64_t at = 0;
    cuts[r].push_back(0);
    for (int s = 0; s < kWorld; ++s) cuts[r].push_back(at += worker.memory("w#" + std::to_string(s)).numel());
    shard_sizes[r].push_back(shard.memory("w").numel());
  });
  for (int r = 0; r < kWorld; ++r) {
    EXPECT_EQ(recuts[r][0], 1) << "rank " << r;
    EXPECT_EQ(cuts[r], cuts[0]) << "rank " << r;
    EXPECT_EQ(shard_sizes[r][0], cuts[0][r + 1] - cuts[0][r]) << "rank " << r;
    EXPECT_TRUE(torch::equal(results[r][1], results[0][1])) << "rank " << r;
  }
  EXPECT_EQ(cuts[0].back(), kEntries);
  EXPECT_LT(cuts[0][1], 1024) << "the dense third is cut finer than the even cut";
}

// An announced shard length beyond its bound is refused before anything is allocated, on every
// rank alike.
TEST(Distributed, RsagRefusesAGarbageShardLengthBeforeAllocating) {
  co3::Collectives fake;
  fake.world_size = 2;
  fake.rank = 0;
  fake.all_gather = [](std::vector<at::Tensor>& out, at::Tensor& in) {
    for (size_t r = 0; r < out.size(); ++r) out[r].copy_(in);
    if (in.numel() == 4) out[1][3] = int64_t{1} << 60;  // rank 1's length of shard 1, garbled
  };
  fake.all_to_all = [](at::Tensor&, at::Tensor&, const std::vector<int64_t>&,
                       const std::vector<int64_t>&) { ADD_FAILURE() << "reached the all-to-all"; };
  co3::CompressorOptions o;
  o.config.chunk_symbols = 32;
  co3::Compressor worker(o), shard(o);
  try {
    co3::rsag_allreduce(fake, worker, shard, "b", torch::randn({1000}));
    ADD_FAILURE() << "a garbage size was accepted";
  } catch (const co3::Error& e) {
    EXPECT_EQ(e.code(), co3::Errc::corrupt_packet);
    EXPECT_NE(std::string(e.what()).find("rank 1 announced 1152921504606846976 bytes for shard 1"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
