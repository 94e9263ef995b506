// The instruction sets the CPU codec's loops are also compiled for (target attributes), checked
// once per process: each loop has a baseline version and runs the widest one the CPU has. The
// versions perform the same integer and IEEE operations on the same values (FMA contraction is
// off for the whole library), so they give the same bits. Internal to host/.
// CO3_CPU_BASELINE=1 in the environment makes every check below false, so that the baseline
// versions run (and are tested: ctest's cpu_baseline) on a machine that has the others.
#pragma once

#include <cstdlib>
#include <cstring>

namespace co3::detail {

inline bool cpu_baseline_forced() {
  static const bool yes = [] {
    const char* v = std::getenv("CO3_CPU_BASELINE");
    return v && std::strcmp(v, "1") == 0;
  }();
  return yes;
}

inline bool cpu_has_avx2() {
  static const bool yes = !cpu_baseline_forced() && __builtin_cpu_supports("avx2");
  return yes;
}

// CO3_CPU_NO_AVX512=1: the AVX2 versions where AVX-512 would run, to measure an AVX2-only CPU
// (issue 25's standard machine) on one that has both.
inline bool cpu_avx512_refused() {
  static const bool yes = [] {
    const char* v = std::getenv("CO3_CPU_NO_AVX512");
    return v && std::strcmp(v, "1") == 0;
  }();
  return yes;
}

// AVX-512 with the byte/word, double/quad and 256-bit forms the compiler uses for the loops.
inline bool cpu_has_avx512() {
  static const bool yes = !cpu_baseline_forced() && !cpu_avx512_refused() && __builtin_cpu_supports("avx512f") &&
                          __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
                          __builtin_cpu_supports("avx512dq");
  return yes;
}

inline bool cpu_has_bmi2() {
  static const bool yes =
      !cpu_baseline_forced() && __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2");
  return yes;
}

}  // namespace co3::detail

// The target attribute of each version. The AVX-512 one asks for 512-bit vectors, which each
// compiler spells its own way (Clang ignores a whole target attribute that names GCC's option).
#define CO3_TARGET_AVX2 __attribute__((target("avx2")))
#if defined(__clang__)
#define CO3_TARGET_AVX512 \
  __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq"), min_vector_width(512)))
#else
#define CO3_TARGET_AVX512 \
  __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,prefer-vector-width=512")))
#endif
#define CO3_TARGET_BMI2 __attribute__((target("bmi,bmi2")))
