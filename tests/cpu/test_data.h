// Test inputs: the real gradients in ../shared/data, and GenNorm samples drawn independently
// of co3 (std::gamma_distribution).
#pragma once

#include <cmath>
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

}  // namespace co3::testing
