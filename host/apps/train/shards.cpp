#include "train/shards.h"

#include <ATen/ops/from_blob.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "co3/error.h"

namespace co3::train {
namespace {

// std::shuffle's algorithm is left to the library; a Fisher-Yates of our own keeps splits and
// batches identical across standard libraries.
void shuffle(std::vector<int64_t>& v, std::mt19937_64& rng) {
  for (size_t i = v.size(); i > 1; --i) {
    size_t j = static_cast<size_t>(rng() % i);
    std::swap(v[i - 1], v[j]);
  }
}

// Gamma(a, 1) by Marsaglia and Tsang, for the same reason (std::gamma_distribution varies).
double gamma_sample(double a, std::mt19937_64& rng) {
  auto uniform = [&] { return (static_cast<double>(rng() >> 11) + 0.5) * 0x1.0p-53; };
  auto normal = [&] {
    double u1 = uniform(), u2 = uniform();
    return std::sqrt(-2 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  };
  if (a < 1) return gamma_sample(a + 1, rng) * std::pow(uniform(), 1 / a);
  const double d = a - 1.0 / 3, c = 1 / std::sqrt(9 * d);
  for (;;) {
    double x = normal(), v = 1 + c * x;
    if (v <= 0) continue;
    v = v * v * v;
    if (std::log(uniform()) < 0.5 * x * x + d - d * v + d * std::log(v)) return d * v;
  }
}

}  // namespace

std::vector<std::vector<int64_t>> split_iid(int64_t n, int users, uint64_t seed) {
  std::vector<int64_t> all(static_cast<size_t>(n));
  std::iota(all.begin(), all.end(), 0);
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + 1);
  shuffle(all, rng);
  std::vector<std::vector<int64_t>> shards(static_cast<size_t>(users));
  for (int u = 0; u < users; ++u) {
    int64_t lo = n * u / users, hi = n * (u + 1) / users;
    shards[u].assign(all.begin() + lo, all.begin() + hi);
  }
  return shards;
}

std::vector<std::vector<int64_t>> split_dirichlet(const at::Tensor& labels, int users, double alpha,
                                                  uint64_t seed) {
  const int64_t n = labels.numel();
  const int64_t* lab = labels.data_ptr<int64_t>();
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + 2);
  std::vector<std::vector<int64_t>> shards(static_cast<size_t>(users));
  for (int64_t c = 0; c < 10; ++c) {
    std::vector<int64_t> idx;
    for (int64_t i = 0; i < n; ++i)
      if (lab[i] == c) idx.push_back(i);
    shuffle(idx, rng);
    std::vector<double> p(static_cast<size_t>(users));
    double sum = 0;
    for (double& x : p) sum += (x = gamma_sample(alpha, rng));
    // Cumulative cut points; the last user takes the remainder so every sample is dealt.
    double cum = 0;
    size_t start = 0;
    for (int u = 0; u < users; ++u) {
      cum += p[u] / sum;
      size_t end =
          u + 1 == users ? idx.size() : std::min(idx.size(), static_cast<size_t>(cum * idx.size()));
      shards[u].insert(shards[u].end(), idx.begin() + start, idx.begin() + end);
      start = std::max(start, end);
    }
  }
  for (int u = 0; u < users; ++u)
    check(!shards[u].empty(), Errc::invalid_argument,
          "--alpha " + std::to_string(alpha) + ": user " + std::to_string(u) +
              " got no training sample; use a larger alpha or fewer users");
  return shards;
}

BatchSampler::BatchSampler(std::vector<int64_t> shard, uint64_t seed)
    : shard_(std::move(shard)), rng_(seed) {
  check(!shard_.empty(), Errc::invalid_argument, "a user's shard is empty");
  reshuffle();
}

void BatchSampler::reshuffle() {
  shuffle(shard_, rng_);
  pos_ = 0;
}

at::Tensor BatchSampler::next(int batch) {
  std::vector<int64_t> out(static_cast<size_t>(batch));
  for (int64_t& x : out) {
    if (pos_ == shard_.size()) reshuffle();
    x = shard_[pos_++];
  }
  return at::from_blob(out.data(), {batch}, at::kLong).clone();
}

}  // namespace co3::train
