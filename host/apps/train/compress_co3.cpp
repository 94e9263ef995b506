// CO3: each user's gradients, corrected by its decaying error memory (u = g + γe), converted to
// a small float format and Huffman-coded, all tensors in one packet (co3::encode).
#include <string>

#include "co3/codec.h"
#include "co3/error.h"
#include "co3/error_feedback.h"
#include "train/compressor_impl.h"

namespace co3::train {
namespace {

class Co3Compressor : public GradientCompressor {
 public:
  Co3Compressor(const CodecConfig& config, float gamma, const std::vector<int64_t>& numels)
      : config_(config), feedback_(gamma), tensors_(numels.size()) {}

  std::vector<uint8_t> compress(const std::vector<at::Tensor>& grads) override {
    check(grads.size() == tensors_, Errc::invalid_argument,
          std::to_string(grads.size()) + " gradients for a model of " +
              std::to_string(tensors_) + " tensors");
    // The error memory e of each parameter tensor lives in co3::ErrorFeedback, keyed by index.
    std::vector<std::pair<std::string, TensorView>> named(grads.size());
    for (size_t i = 0; i < grads.size(); ++i)
      named[i] = {std::to_string(i), TensorView{grads[i].data_ptr<float>(),
                                                static_cast<uint64_t>(grads[i].numel()), DType::f32}};
    return feedback_.encode(named, config_);
  }

 private:
  CodecConfig config_;
  ErrorFeedback feedback_;
  size_t tensors_;
};

class Co3Decoder : public GradientDecoder {
 public:
  Co3Decoder(std::vector<int64_t> numels, int threads)
      : numels_(std::move(numels)), threads_(threads) {}

  void decompress(const uint8_t* data, size_t size, const std::vector<at::Tensor>& out) override {
    // The descriptors are checked against the model before any byte is written.
    const PacketInfo info = inspect(data, size);
    check(info.segments.size() == numels_.size(), Errc::corrupt_packet,
          "packet of " + std::to_string(info.segments.size()) + " segments; the model has " +
              std::to_string(numels_.size()) + " tensors");
    std::vector<void*> ptrs(out.size());
    for (size_t i = 0; i < out.size(); ++i) {
      check(info.segments[i].numel == static_cast<uint64_t>(numels_[i]), Errc::corrupt_packet,
            "segment " + std::to_string(i) + " holds " + std::to_string(info.segments[i].numel) +
                " entries; the parameter has " + std::to_string(numels_[i]));
      ptrs[i] = out[i].data_ptr<float>();
    }
    decode_into(data, size, ptrs, /*as_f32=*/true, threads_);
  }

 private:
  std::vector<int64_t> numels_;
  int threads_;
};

}  // namespace

std::unique_ptr<GradientCompressor> make_co3_compressor(const CodecConfig& config, float gamma,
                                                        const std::vector<int64_t>& numels) {
  return std::make_unique<Co3Compressor>(config, gamma, numels);
}
std::unique_ptr<GradientDecoder> make_co3_decoder(const std::vector<int64_t>& numels, int threads) {
  return std::make_unique<Co3Decoder>(numels, threads);
}

}  // namespace co3::train
