// Device conversion between float32 and a co3 float format: the per-entry stage of the GPU
// codec, on the caller's stream, with the same bits as co3::encode_float on the host.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "co3/float_format.h"

namespace co3::kernels {

// codes[i] = encode_float(x[i] / scale, format, rounding, random_word(seed, i)).
// Pointers are device memory; n may exceed 2^32. Returns the launch status (no sync).
cudaError_t convert_to_codes(const float* x, uint64_t n, float scale, FloatFormat format,
                             Rounding rounding, uint64_t seed, uint16_t* codes,
                             cudaStream_t stream);

// out[i] = decode_code(format, codes[i]) × scale.
cudaError_t codes_to_float(const uint16_t* codes, uint64_t n, float scale, FloatFormat format,
                           float* out, cudaStream_t stream);

}  // namespace co3::kernels
