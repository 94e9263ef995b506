// The per-method seam between training and the wire: a user's compressor (which owns that
// user's error-feedback memory) turns the model's gradient tensors into one packet, and the
// server's decoder turns a packet back into gradients. Training code sees only this interface,
// so the raw codec calls can later give way to the tensor-level co3::Codec.
#pragma once

#include <ATen/Tensor.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "co3/config.h"
#include "train/options.h"

namespace co3::train {

class GradientCompressor {
 public:
  virtual ~GradientCompressor() = default;
  // grads: contiguous float32 tensors, in the model's parameter order, on device() (the CPU
  // for every method but co3 on a CUDA model, whose kernels code them where they are).
  virtual std::vector<uint8_t> compress(const std::vector<at::Tensor>& grads) = 0;
  virtual at::Device device() const { return at::kCPU; }
};

class GradientDecoder {
 public:
  virtual ~GradientDecoder() = default;
  // Writes every gradient of the packet into `out` (contiguous float32 tensors shaped like the
  // parameters, on device()); throws co3::Error(corrupt_packet) on a packet that does not fit.
  virtual void decompress(const uint8_t* data, size_t size, const std::vector<at::Tensor>& out) = 0;
  virtual at::Device device() const { return at::kCPU; }
};

// `shapes` are the parameter tensors' shapes (powersgd views each as a matrix; the others use
// only their sizes); `threads` the codec's worker threads; `device` where the model lives (co3
// codes CUDA gradients with its kernels, on the GPU); `seed` the run's seed (powersgd draws its
// first Q from it).
std::unique_ptr<GradientCompressor> make_compressor(const MethodSpec& m,
                                                    const std::vector<std::vector<int64_t>>& shapes,
                                                    int threads, at::Device device,
                                                    uint64_t seed = 0);
std::unique_ptr<GradientDecoder> make_decoder(const MethodSpec& m,
                                              const std::vector<std::vector<int64_t>>& shapes,
                                              int threads, at::Device device);

// The codec configuration of a co3 method (format names like e3m2 accepted).
CodecConfig co3_config(const MethodSpec& m, int threads);
FloatFormat parse_train_format(const std::string& name);

}  // namespace co3::train
