// Host/device plumbing shared by every per-element header.
//
// co3 promises byte-identical packets from the CPU and the GPU. Floating-point results agree
// only if both sides perform the same IEEE operations in the same order: no fused
// multiply-add contraction, no library math functions whose last bit differs between glibc
// and CUDA. The helpers below spell each rounding step out (the __*_rn intrinsics are never
// contracted by nvcc); host code is additionally compiled with -ffp-contract=off.
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define CO3_HD __host__ __device__ __forceinline__
#else
#define CO3_HD inline
#endif

namespace co3::detail {

CO3_HD uint32_t f32_bits(float x) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(x);
#else
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
#endif
}

CO3_HD float bits_f32(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float x;
  std::memcpy(&x, &u, sizeof x);
  return x;
#endif
}

CO3_HD uint64_t f64_bits(double x) {
#if defined(__CUDA_ARCH__)
  return static_cast<uint64_t>(__double_as_longlong(x));
#else
  uint64_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
#endif
}

CO3_HD double bits_f64(uint64_t u) {
#if defined(__CUDA_ARCH__)
  return __longlong_as_double(static_cast<long long>(u));
#else
  double x;
  std::memcpy(&x, &u, sizeof x);
  return x;
#endif
}

// Correctly rounded single operations, never fused with a neighbour.
#if defined(__CUDA_ARCH__)
#define CO3_RN_OP(name, T, op, intrinsic) \
  CO3_HD T name(T a, T b) { return intrinsic(a, b); }
#else
#define CO3_RN_OP(name, T, op, intrinsic) \
  CO3_HD T name(T a, T b) { return a op b; }
#endif
CO3_RN_OP(fmul, float, *, __fmul_rn)
CO3_RN_OP(fadd, float, +, __fadd_rn)
CO3_RN_OP(fsub, float, -, __fsub_rn)
CO3_RN_OP(fdiv, float, /, __fdiv_rn)
CO3_RN_OP(dmul, double, *, __dmul_rn)
CO3_RN_OP(dadd, double, +, __dadd_rn)
CO3_RN_OP(dsub, double, -, __dsub_rn)
CO3_RN_OP(ddiv, double, /, __ddiv_rn)
#undef CO3_RN_OP

CO3_HD int clz32(uint32_t x) {  // x != 0
#if defined(__CUDA_ARCH__)
  return __clz(x);
#else
  return __builtin_clz(x);
#endif
}

CO3_HD int popcount64(uint64_t x) {
#if defined(__CUDA_ARCH__)
  return __popcll(x);
#else
  return __builtin_popcountll(x);
#endif
}

}  // namespace co3::detail
