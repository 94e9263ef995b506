// Test inputs: the real gradients in ../shared/data, and GenNorm samples drawn independently
// of co3 (std::gamma_distribution).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

namespace co3::testing {

inline std::string data_dir() {
  const char* d = std::getenv("CO3_DATA_DIR");
  return d ? d : "../shared/data";
}

// The first `limit` entries of a real gradient, or empty when the file is absent.
inline std::vector<float> real_gradient(const std::string& name, size_t limit = SIZE_MAX) {
  std::vector<float> v;
  FILE* f = std::fopen((data_dir() + "/" + name).c_str(), "rb");
  if (!f) return v;
  std::fseek(f, 0, SEEK_END);
  const size_t n = std::min<size_t>(static_cast<size_t>(std::ftell(f)) / 4, limit);
  std::fseek(f, 0, SEEK_SET);
  v.resize(n);
  if (std::fread(v.data(), 4, n, f) != n) v.clear();
  std::fclose(f);
  return v;
}

inline std::vector<float> gennorm_samples(size_t n, double beta, double alpha, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::gamma_distribution<double> gamma(1.0 / beta, 1.0);
  std::vector<float> v(n);
  for (auto& x : v) {
    const double mag = alpha * std::pow(gamma(rng), 1.0 / beta);
    x = static_cast<float>((rng() & 1) ? mag : -mag);
  }
  return v;
}

// A sparse gradient: runs of zeros between clusters of values, `density` of the entries nonzero
// (clustered as real gradients are: a cluster of 1 … 24 neighbours).
inline std::vector<float> sparse(uint64_t n, double density, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<float> v(n, 0.0f);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  uint64_t i = 0;
  const double mean_gap = 12.0 / density;
  std::exponential_distribution<double> gap(1.0 / mean_gap);
  while (true) {
    i += static_cast<uint64_t>(gap(rng));
    const uint64_t len = 1 + rng() % 24;
    for (uint64_t j = 0; j < len && i < n; ++j, ++i) v[i] = normal(rng);
    if (i >= n) break;
  }
  return v;
}

}  // namespace co3::testing
