// The counter-based generator behind stochastic rounding: a pure function of (seed, index), so
// any thread on any device draws the same word for the same entry, in any order.
#pragma once

#include <cstdint>

#include "co3/detail/hd.h"

namespace co3 {

// SplitMix64's finalizer (Steele, Lea, Flood 2014): a bijection with full avalanche.
CO3_HD uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// The random word of entry `index` under `seed`: the seed is mixed once, then the index is
// spread by the golden-ratio increment and mixed again (two independent rounds).
CO3_HD uint64_t random_word(uint64_t seed, uint64_t index) {
  return mix64(mix64(seed ^ 0x6a09e667f3bcc909ull) + (index + 1) * 0x9e3779b97f4a7c15ull);
}

}  // namespace co3
