// CO3 on a CUDA model: the gradients never leave the GPU to be coded. co3::Compressor keeps each
// user's error memory on the device and codes with co3's kernels on the current stream; only the
// packet's bytes come to the host, because in this experiment the host is the wire. The server
// uploads each packet and decode-accumulates on the device. The bytes are the CPU method's
// (the GPU codec writes the CPU codec's bytes, docs/FORMAT.md §10), so a CUDA run and a CPU run
// send the same packets for the same gradients.
#include <ATen/ATen.h>

#include <string>

#include "co3/error.h"
#include "co3/torch/codec.h"
#include "co3/torch/compressor.h"
#include "train/compressor_impl.h"

namespace co3::train {
namespace {

class Co3DeviceCompressor : public GradientCompressor {
 public:
  Co3DeviceCompressor(const CodecConfig& config, float gamma, const std::vector<int64_t>& numels,
                      at::Device device)
      : compressor_(options(config, gamma)), device_(device) {
    for (size_t i = 0; i < numels.size(); ++i) names_.push_back(std::to_string(i));
  }

  std::vector<uint8_t> compress(const std::vector<at::Tensor>& grads) override {
    check(grads.size() == names_.size(), Errc::invalid_argument,
          std::to_string(grads.size()) + " gradients for a model of " +
              std::to_string(names_.size()) + " tensors");
    const at::Tensor packet = compressor_.compress(names_, grads);
    // The wire: the packet's length is read from its header (a sync), then its bytes.
    const at::Tensor bytes = packet.narrow(0, 0, packet_size(packet)).cpu();
    const uint8_t* p = bytes.data_ptr<uint8_t>();
    return std::vector<uint8_t>(p, p + bytes.numel());
  }
  at::Device device() const override { return device_; }

 private:
  static CompressorOptions options(const CodecConfig& config, float gamma) {
    CompressorOptions o;
    o.config = config;
    o.gamma = gamma;
    o.refit = Refit::every_step;  // what co3::encode does, as the CPU method
    return o;
  }
  Compressor compressor_;
  at::Device device_;
  std::vector<std::string> names_;
};

class Co3DeviceDecoder : public GradientDecoder {
 public:
  explicit Co3DeviceDecoder(at::Device device) : device_(device) {}

  void decompress(const uint8_t* data, size_t size, const std::vector<at::Tensor>& out) override {
    const at::Tensor host = at::from_blob(const_cast<uint8_t*>(data), {static_cast<int64_t>(size)}, at::kByte);
    // decode_into checks the segment count and every segment's size against `out` (the model).
    codec_.decode_into(host.to(device_), out);
  }
  at::Device device() const override { return device_; }

 private:
  at::Device device_;
  Codec codec_;
};

}  // namespace

std::unique_ptr<GradientCompressor> make_co3_device_compressor(const CodecConfig& config, float gamma,
                                                               const std::vector<int64_t>& numels,
                                                               at::Device device) {
  return std::make_unique<Co3DeviceCompressor>(config, gamma, numels, device);
}
std::unique_ptr<GradientDecoder> make_co3_device_decoder(const std::vector<int64_t>& numels,
                                                         at::Device device) {
  static_cast<void>(numels);  // decode_into checks every segment against the outputs
  return std::make_unique<Co3DeviceDecoder>(device);
}

}  // namespace co3::train
