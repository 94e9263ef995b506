// Where rsag cuts a bucket into shards from step to step (docs/DISTRIBUTED.md, "The shard cut"):
// the cut lives in the worker's shard memories (their sizes), so a checkpoint of the memories
// holds it too, and every rank derives the same cut from the same history. Internal to
// host/torch/distributed*.cpp.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "co3/torch/compressor.h"

namespace co3 {

// "<key>#<s>": the worker's memory of shard s of the bucket `key`.
std::string shard_name(const std::string& key, int s);

// The cut this step codes with: the one the worker's memories of the bucket's shards hold (a
// balanced cut moved them), or shard_bounds' even cut where they do not tile the bucket on whole
// units of `unit` entries (its first step, or another bucket or world size before).
std::vector<int64_t> kept_cut(const Compressor& worker, const std::string& key, int64_t entries,
                              int world_size, int64_t unit);

// Moves the memories to the cut `next` (this step's was `bounds`): the worker's shard memories
// are the whole bucket's memory cut anew (nothing lost); rank `me`'s summed-shard memory (in
// `shard`, keyed `key`) keeps the entries it still owns, and entries that change owner start at
// zero there (their memory stays with the rank that owned them).
void move_memories(Compressor& worker, Compressor& shard, const std::string& key,
                   const std::vector<int64_t>& bounds, const std::vector<int64_t>& next, int me);

}  // namespace co3
