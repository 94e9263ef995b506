// --flat on: a method codes the model's whole gradient as one tensor, as co3's DDP hook codes a
// bucket: one segment, so one descriptor, one scale and one fit for all of it. For a small model
// the per-tensor bytes are what the rate budget goes to at a fraction of a bit an entry (LeNet's
// ten tensors: 0.11 bits per entry of descriptors, shapes and chunk tables before any payload;
// one segment: 0.02), at the price of one scale for layers whose gradients differ in size.
#include <ATen/ATen.h>

#include <numeric>

#include "co3/error.h"
#include "train/compressor_impl.h"

namespace co3::train {
namespace {

int64_t total_of(const std::vector<int64_t>& numels) {
  return std::accumulate(numels.begin(), numels.end(), int64_t{0});
}

class FlatCompressor : public GradientCompressor {
 public:
  explicit FlatCompressor(std::unique_ptr<GradientCompressor> inner) : inner_(std::move(inner)) {}

  std::vector<uint8_t> compress(const std::vector<at::Tensor>& grads) override {
    std::vector<at::Tensor> flat;
    for (const at::Tensor& g : grads) flat.push_back(g.reshape({-1}));
    return inner_->compress({at::cat(flat).contiguous()});
  }
  at::Device device() const override { return inner_->device(); }

 private:
  std::unique_ptr<GradientCompressor> inner_;
};

class FlatDecoder : public GradientDecoder {
 public:
  FlatDecoder(std::unique_ptr<GradientDecoder> inner, std::vector<int64_t> numels)
      : inner_(std::move(inner)), numels_(std::move(numels)) {}

  void decompress(const uint8_t* data, size_t size, const std::vector<at::Tensor>& out) override {
    check(out.size() == numels_.size(), Errc::invalid_argument,
          std::to_string(out.size()) + " outputs for a model of " + std::to_string(numels_.size()) +
              " tensors");
    // The inner decoder checks the packet's one segment against the model's total first.
    const at::Tensor flat =
        at::empty({total_of(numels_)}, at::TensorOptions().dtype(at::kFloat).device(inner_->device()));
    inner_->decompress(data, size, {flat});
    int64_t at = 0;
    for (size_t i = 0; i < out.size(); ++i) {
      out[i].view({-1}).copy_(flat.narrow(0, at, numels_[i]));
      at += numels_[i];
    }
  }
  at::Device device() const override { return inner_->device(); }

 private:
  std::unique_ptr<GradientDecoder> inner_;
  std::vector<int64_t> numels_;
};

}  // namespace

int64_t flat_numel(const std::vector<int64_t>& numels) { return total_of(numels); }

std::unique_ptr<GradientCompressor> flatten_compressor(std::unique_ptr<GradientCompressor> inner) {
  return std::make_unique<FlatCompressor>(std::move(inner));
}
std::unique_ptr<GradientDecoder> flatten_decoder(std::unique_ptr<GradientDecoder> inner,
                                                 const std::vector<int64_t>& numels) {
  return std::make_unique<FlatDecoder>(std::move(inner), numels);
}

}  // namespace co3::train
