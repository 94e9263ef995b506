// The method implementations behind make_compressor / make_decoder (compressor.cpp).
#pragma once

#include <c10/core/ScalarType.h>

#include "train/compressor.h"

namespace co3::train {

std::unique_ptr<GradientCompressor> make_raw_compressor(at::ScalarType wire);
std::unique_ptr<GradientDecoder> make_raw_decoder(at::ScalarType wire,
                                                  const std::vector<int64_t>& numels);

std::unique_ptr<GradientCompressor> make_co3_compressor(const CodecConfig& config, float gamma,
                                                        const std::vector<int64_t>& numels);
std::unique_ptr<GradientDecoder> make_co3_decoder(const std::vector<int64_t>& numels, int threads);
// co3 on a CUDA model: co3::Compressor / co3::Codec code the gradients on the GPU; only the
// packet's bytes cross to the host (they are the wire). compress_co3_device.cpp.
std::unique_ptr<GradientCompressor> make_co3_device_compressor(const CodecConfig& config, float gamma,
                                                               const std::vector<int64_t>& numels,
                                                               at::Device device);
std::unique_ptr<GradientDecoder> make_co3_device_decoder(const std::vector<int64_t>& numels,
                                                         at::Device device);

// --flat: `inner` made for one tensor of flat_numel(numels) entries; the wrapper concatenates
// the model's gradients into it and splits the decoded one back (compress_flat.cpp).
int64_t flat_numel(const std::vector<int64_t>& numels);
std::unique_ptr<GradientCompressor> flatten_compressor(std::unique_ptr<GradientCompressor> inner);
std::unique_ptr<GradientDecoder> flatten_decoder(std::unique_ptr<GradientDecoder> inner,
                                                 const std::vector<int64_t>& numels);

std::unique_ptr<GradientCompressor> make_topk_compressor(double ratio,
                                                         const std::vector<int64_t>& numels);
std::unique_ptr<GradientDecoder> make_topk_decoder(const std::vector<int64_t>& numels);

// PowerSGD-style rank-R factors with error feedback, one user's form (compress_powersgd.cpp).
std::unique_ptr<GradientCompressor> make_powersgd_compressor(
    int rank, const std::vector<std::vector<int64_t>>& shapes, uint64_t seed);
std::unique_ptr<GradientDecoder> make_powersgd_decoder(
    int rank, const std::vector<std::vector<int64_t>>& shapes);
// A powersgd compressor's error-feedback memory of parameter `i`, as the matrix [n, m] (tests);
// undefined for a tensor sent uncompressed.
at::Tensor powersgd_memory(const GradientCompressor& c, size_t i);

}  // namespace co3::train
