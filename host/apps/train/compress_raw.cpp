// The uncompressed baselines: fp32 sends the gradient's bytes, bf16 a bf16 cast (no error
// feedback: the cast is the whole method). No header is needed, the server knows the shapes.
#include <ATen/ops/empty.h>
#include <ATen/ops/from_blob.h>

#include <cstring>
#include <string>

#include "co3/error.h"
#include "train/compressor_impl.h"

namespace co3::train {
namespace {

class RawCompressor : public GradientCompressor {
 public:
  explicit RawCompressor(at::ScalarType wire) : wire_(wire) {}
  std::vector<uint8_t> compress(const std::vector<at::Tensor>& grads) override {
    std::vector<uint8_t> out;
    for (const at::Tensor& g : grads) {
      at::Tensor w = g.to(wire_).contiguous();
      const auto* p = static_cast<const uint8_t*>(w.data_ptr());
      out.insert(out.end(), p, p + w.nbytes());
    }
    return out;
  }

 private:
  at::ScalarType wire_;
};

class RawDecoder : public GradientDecoder {
 public:
  RawDecoder(at::ScalarType wire, std::vector<int64_t> numels)
      : wire_(wire), numels_(std::move(numels)) {}
  void decompress(const uint8_t* data, size_t size, const std::vector<at::Tensor>& out) override {
    const size_t elem = at::elementSize(wire_);
    size_t expected = 0;
    for (int64_t n : numels_) expected += static_cast<size_t>(n) * elem;
    check(size == expected, Errc::corrupt_packet,
          "raw packet of " + std::to_string(size) + " bytes; the model needs " +
              std::to_string(expected));
    size_t off = 0;
    for (size_t i = 0; i < numels_.size(); ++i) {
      // from_blob does not write; the const_cast only satisfies its signature.
      at::Tensor w =
          at::from_blob(const_cast<uint8_t*>(data + off), {numels_[i]}, at::TensorOptions(wire_));
      out[i].view({-1}).copy_(w);
      off += static_cast<size_t>(numels_[i]) * elem;
    }
  }

 private:
  at::ScalarType wire_;
  std::vector<int64_t> numels_;
};

}  // namespace

std::unique_ptr<GradientCompressor> make_raw_compressor(at::ScalarType wire) {
  return std::make_unique<RawCompressor>(wire);
}
std::unique_ptr<GradientDecoder> make_raw_decoder(at::ScalarType wire,
                                                  const std::vector<int64_t>& numels) {
  return std::make_unique<RawDecoder>(wire, numels);
}

}  // namespace co3::train
