// rsag's shard cut: the even first cut, the balanced cut that follows the summed shards' bytes,
// and the memories that move with it (shard_cut.h, docs/DISTRIBUTED.md "The shard cut").
#include "shard_cut.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "co3/error.h"
#include "co3/torch/distributed.h"

namespace co3 {

std::vector<int64_t> shard_bounds(int64_t entries, int world_size, int64_t chunk_symbols) {
  check(entries >= 0 && world_size >= 1 && chunk_symbols >= 1, Errc::invalid_argument, [&] {
    return "shard_bounds: " + std::to_string(entries) + " entries, " + std::to_string(world_size) +
           " ranks, chunks of " + std::to_string(chunk_symbols);
  });
  const int64_t chunks = (entries + chunk_symbols - 1) / chunk_symbols;
  std::vector<int64_t> bounds(world_size + 1);
  for (int s = 0; s <= world_size; ++s)
    bounds[s] = std::min(entries, s * chunks / world_size * chunk_symbols);
  return bounds;
}

std::vector<int64_t> balanced_cut(const std::vector<int64_t>& bounds,
                                  const std::vector<int64_t>& bytes, int64_t unit, double tolerance) {
  const size_t world = bytes.size();
  check(world >= 1 && bounds.size() == world + 1 && unit >= 1 && tolerance >= 0,
        Errc::invalid_argument, [&] {
          return "balanced_cut: " + std::to_string(bounds.size()) + " bounds for " +
                 std::to_string(world) + " shards, units of " + std::to_string(unit);
        });
  const int64_t entries = bounds[world];
  const int64_t units = (entries + unit - 1) / unit;
  const double total = std::accumulate(bytes.begin(), bytes.end(), 0.0);
  const double largest = static_cast<double>(*std::max_element(bytes.begin(), bytes.end()));
  if (units < static_cast<int64_t>(world) || total <= 0 ||
      largest <= (1 + tolerance) * total / static_cast<double>(world))
    return bounds;
  std::vector<int64_t> next(world + 1, 0);
  next[world] = entries;
  size_t s = 0;        // the old shard holding the running sum's target
  double before = 0;   // the bytes of old shards [0, s)
  for (size_t k = 1; k < world; ++k) {
    const double target = total * static_cast<double>(k) / static_cast<double>(world);
    while (s + 1 < world && before + static_cast<double>(bytes[s]) < target) before += bytes[s++];
    const double share = bytes[s] > 0 ? (target - before) / static_cast<double>(bytes[s]) : 0.0;
    const double at = static_cast<double>(bounds[s]) +
                      std::clamp(share, 0.0, 1.0) * static_cast<double>(bounds[s + 1] - bounds[s]);
    // Whole units; shards [k, N) keep one unit each (the last may be a partial one).
    const int64_t lowest = next[k - 1] / unit + 1;
    const int64_t highest = units - static_cast<int64_t>(world - k);
    const int64_t u = std::clamp(static_cast<int64_t>(std::llround(at / static_cast<double>(unit))),
                                 lowest, highest);
    next[k] = u * unit;
  }
  // The bytes each new shard would hold under the same spread: a cut that whole units leave no
  // better (a bucket of few units) would only move memories, so it is not taken.
  const auto bytes_below = [&](int64_t x) {  // of entries [0, x)
    double sum = 0;
    for (size_t t = 0; t < world && bounds[t] < x; ++t) {
      const int64_t n = bounds[t + 1] - bounds[t];
      sum += n > 0 ? static_cast<double>(bytes[t]) *
                         static_cast<double>(std::min(x, bounds[t + 1]) - bounds[t]) / static_cast<double>(n)
                   : 0.0;
    }
    return sum;
  };
  double predicted = 0;
  for (size_t k = 0; k < world; ++k)
    predicted = std::max(predicted, bytes_below(next[k + 1]) - bytes_below(next[k]));
  return predicted * (1 + tolerance / 2) < largest ? next : bounds;
}

std::string shard_name(const std::string& key, int s) { return key + "#" + std::to_string(s); }

std::vector<int64_t> kept_cut(const Compressor& worker, const std::string& key, int64_t entries,
                              int world_size, int64_t unit) {
  const std::vector<std::string> known = worker.names();  // sorted: a std::map's keys
  std::vector<int64_t> cut(world_size + 1, 0);
  for (int s = 0; s < world_size; ++s) {
    const std::string name = shard_name(key, s);
    const int64_t n = std::binary_search(known.begin(), known.end(), name)
                          ? worker.memory(name).numel()
                          : 0;
    cut[s + 1] = cut[s] + n;
  }
  bool tiles = cut[world_size] == entries && entries > 0;
  for (int s = 1; s < world_size && tiles; ++s)
    tiles = cut[s] > cut[s - 1] && cut[s] % unit == 0;  // balanced cuts leave no shard empty
  return tiles ? cut : shard_bounds(entries, world_size, unit);
}

void move_memories(Compressor& worker, Compressor& shard, const std::string& key,
                   const std::vector<int64_t>& bounds, const std::vector<int64_t>& next, int me) {
  const int world = static_cast<int>(bounds.size()) - 1;
  std::vector<at::Tensor> parts;
  for (int s = 0; s < world; ++s)
    if (bounds[s + 1] > bounds[s]) parts.push_back(worker.memory(shard_name(key, s)).reshape({-1}));
  const at::Tensor whole = at::cat(parts);
  for (int s = 0; s < world; ++s)  // a balanced cut leaves no shard empty: every name is known
    worker.set_memory(shard_name(key, s), whole.narrow(0, next[s], next[s + 1] - next[s]).clone());
  const std::vector<std::string> known = shard.names();
  if (std::find(known.begin(), known.end(), key) == known.end()) return;
  const at::Tensor old = shard.memory(key).reshape({-1});
  at::Tensor moved = at::zeros({next[me + 1] - next[me]}, old.options());
  const int64_t from = std::max(bounds[me], next[me]), to = std::min(bounds[me + 1], next[me + 1]);
  if (to > from) moved.narrow(0, from - next[me], to - from).copy_(old.narrow(0, from - bounds[me], to - from));
  shard.set_memory(key, moved);
}

}  // namespace co3
