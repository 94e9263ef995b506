// rsag's shard cut (host/torch/shard_cut.*, docs/DISTRIBUTED.md "The shard cut"): the balanced
// cut against hand-worked cuts, the memories that move with it, and the cut read back from them.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>
#include <vector>

#include "co3/error.h"
#include "co3/torch/compressor.h"
#include "co3/torch/distributed.h"
#include "torch/shard_cut.h"

namespace {

using Cut = std::vector<int64_t>;

TEST(BalancedCut, KeepsACutWithinTheTolerance) {
  const Cut even = {0, 100, 200, 300, 400};
  EXPECT_EQ(co3::balanced_cut(even, {100, 108, 92, 100}, 10), even);       // largest 1.08 × mean
  EXPECT_EQ(co3::balanced_cut(even, {100, 100, 100, 100}, 10, 0.0), even);
  EXPECT_EQ(co3::balanced_cut(even, {0, 0, 0, 0}, 10), even);               // nothing to weigh
  EXPECT_EQ(co3::balanced_cut({0, 10, 20, 20}, {50, 5, 0}, 10), Cut({0, 10, 20, 20}));  // 2 units, 3 shards
}

TEST(BalancedCut, PutsTheBoundsWhereTheBytesReachEachShare) {
  // Shard 0 holds 3/6 of the bytes over 100 entries, the others 1/6 each: a quarter of the 600
  // bytes (150) is reached 50 entries in, a half at 100, three quarters (450) halfway through
  // shard 2, at 250.
  EXPECT_EQ(co3::balanced_cut({0, 100, 200, 300, 400}, {300, 100, 100, 100}, 10),
            Cut({0, 50, 100, 250, 400}));
  // Units of 16, the last one partial: a third of the bytes halfway through shard 0 (48).
  EXPECT_EQ(co3::balanced_cut({0, 96, 192, 290}, {200, 50, 50}, 16), Cut({0, 48, 96, 290}));
}

TEST(BalancedCut, LeavesEveryShardAWholeUnit) {
  // All bytes in the last shard, [120, 130), one unit: the bounds would crowd towards it (0, 100,
  // 110, 120, 130), one unit a shard, and leave the largest as large: the cut stays.
  EXPECT_EQ(co3::balanced_cut({0, 40, 80, 120, 130}, {0, 0, 0, 1000}, 10),
            Cut({0, 40, 80, 120, 130}));
  // Over its two units, [110, 130): the last two shards take one each, halving the largest.
  EXPECT_EQ(co3::balanced_cut({0, 40, 80, 110, 130}, {0, 0, 0, 1000}, 10),
            Cut({0, 100, 110, 120, 130}));
  // All in the first, [0, 40): cut in quarters, the rest to the last shard.
  EXPECT_EQ(co3::balanced_cut({0, 40, 80, 120, 130}, {1000, 0, 0, 0}, 10),
            Cut({0, 10, 20, 30, 130}));
}

TEST(BalancedCut, RefusesArgumentsThatDoNotMatch) {
  EXPECT_THROW(co3::balanced_cut({0, 10}, {1, 2}, 10), co3::Error);
  EXPECT_THROW(co3::balanced_cut({0, 10, 20}, {1, 2}, 0), co3::Error);
}

// Names known to both compressors, with memories set to known values.
void remember(co3::Compressor& c, const std::string& name, const at::Tensor& memory) {
  c.compress({name}, {at::zeros_like(memory)});
  c.set_memory(name, memory);
}

TEST(ShardCut, MemoriesMoveWithTheCutAndTheCutIsReadBackFromThem) {
  co3::CompressorOptions o;
  o.config.chunk_symbols = 32;
  co3::Compressor worker(o), shard(o);
  const Cut before = {0, 64, 128, 200}, next = {0, 32, 160, 200};
  const at::Tensor whole = at::arange(200, at::kFloat);
  EXPECT_EQ(co3::kept_cut(worker, "b", 200, 3, 32), co3::shard_bounds(200, 3, 32));  // none yet
  for (int s = 0; s < 3; ++s)
    remember(worker, co3::shard_name("b", s), whole.narrow(0, before[s], before[s + 1] - before[s]).clone());
  EXPECT_EQ(co3::kept_cut(worker, "b", 200, 3, 32), before);
  EXPECT_EQ(co3::kept_cut(worker, "b", 201, 3, 32), co3::shard_bounds(201, 3, 32));  // another bucket
  const int me = 1;  // owned [64, 128), now [32, 160)
  remember(shard, "b", at::arange(1000, 1064, at::kFloat));
  co3::move_memories(worker, shard, "b", before, next, me);

  std::vector<at::Tensor> parts;
  for (int s = 0; s < 3; ++s) {
    const at::Tensor m = worker.memory(co3::shard_name("b", s));
    EXPECT_EQ(m.numel(), next[s + 1] - next[s]) << "shard " << s;
    parts.push_back(m);
  }
  EXPECT_TRUE(torch::equal(at::cat(parts), whole));  // the worker loses nothing
  EXPECT_EQ(co3::kept_cut(worker, "b", 200, 3, 32), next);
  const at::Tensor mine = shard.memory("b");
  ASSERT_EQ(mine.numel(), 128);
  EXPECT_TRUE(torch::equal(mine.narrow(0, 0, 32), at::zeros({32})));  // [32, 64) was rank 0's
  EXPECT_TRUE(torch::equal(mine.narrow(0, 32, 64), at::arange(1000, 1064, at::kFloat)));
  EXPECT_TRUE(torch::equal(mine.narrow(0, 96, 32), at::zeros({32})));  // [128, 160): rank 2's
}

TEST(ShardCut, SetMemoryRefusesUnknownNamesAndOtherDtypes) {
  co3::Compressor c(co3::CompressorOptions{});
  EXPECT_THROW(c.set_memory("nope", at::zeros({3})), co3::Error);
  c.compress({"a"}, {at::zeros({3})});
  EXPECT_THROW(c.set_memory("a", at::zeros({3}, at::kDouble)), co3::Error);
  EXPECT_THROW(c.set_memory("a", at::Tensor()), co3::Error);
  c.set_memory("a", at::ones({5}));
  EXPECT_EQ(c.memory("a").numel(), 5);
}

}  // namespace
