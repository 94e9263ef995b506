// The classic baseline: top-k sparsification with error feedback (the entries not sent stay in
// the memory, γ = 1). Wire format per tensor: uint32 k, k uint32 indices, k float32 values,
// little-endian; 64 bits per sent entry plus 32 per tensor, all counted.
#include <ATen/ops/topk.h>
#include <ATen/ops/zeros.h>

#include <cmath>
#include <cstring>
#include <string>

#include "co3/error.h"
#include "train/compressor_impl.h"

namespace co3::train {
namespace {

void put_u32(std::vector<uint8_t>& out, uint32_t v) {
  uint8_t b[4];
  std::memcpy(b, &v, 4);  // the targets are little-endian, as the wire
  out.insert(out.end(), b, b + 4);
}

class TopkCompressor : public GradientCompressor {
 public:
  TopkCompressor(double ratio, const std::vector<int64_t>& numels) : ratio_(ratio) {
    for (int64_t n : numels) memory_.push_back(at::zeros({n}));
  }

  std::vector<uint8_t> compress(const std::vector<at::Tensor>& grads) override {
    std::vector<uint8_t> out;
    for (size_t i = 0; i < grads.size(); ++i) {
      at::Tensor& e = memory_[i];
      e.add_(grads[i].view({-1}));
      const int64_t n = e.numel();
      const int64_t k =
          std::max<int64_t>(1, static_cast<int64_t>(std::ceil(ratio_ * static_cast<double>(n))));
      at::Tensor idx = std::get<1>(at::topk(e.abs(), k, 0, /*largest=*/true, /*sorted=*/true));
      at::Tensor vals = e.index_select(0, idx);
      e.index_fill_(0, idx, 0.0f);
      put_u32(out, static_cast<uint32_t>(k));
      const int64_t* ip = idx.data_ptr<int64_t>();
      for (int64_t j = 0; j < k; ++j) put_u32(out, static_cast<uint32_t>(ip[j]));
      const auto* vp = reinterpret_cast<const uint8_t*>(vals.data_ptr<float>());
      out.insert(out.end(), vp, vp + 4 * k);
    }
    return out;
  }

 private:
  double ratio_;
  std::vector<at::Tensor> memory_;
};

class TopkDecoder : public GradientDecoder {
 public:
  explicit TopkDecoder(std::vector<int64_t> numels) : numels_(std::move(numels)) {}

  void decompress(const uint8_t* data, size_t size, const std::vector<at::Tensor>& out) override {
    size_t off = 0;
    auto need = [&](size_t bytes, size_t t) {
      check(size - off >= bytes, Errc::corrupt_packet,
            "top-k packet truncated in tensor " + std::to_string(t) + " (" + std::to_string(size) +
                " bytes)");
    };
    for (size_t t = 0; t < numels_.size(); ++t) {
      need(4, t);
      uint32_t k;
      std::memcpy(&k, data + off, 4);
      off += 4;
      check(k <= static_cast<uint64_t>(numels_[t]), Errc::corrupt_packet,
            "top-k count " + std::to_string(k) + " exceeds tensor " + std::to_string(t) + "'s " +
                std::to_string(numels_[t]) + " entries");
      need(8 * static_cast<size_t>(k), t);
      float* dst = out[t].data_ptr<float>();
      std::memset(dst, 0, sizeof(float) * static_cast<size_t>(numels_[t]));
      const uint8_t* vals = data + off + 4 * static_cast<size_t>(k);
      for (uint32_t j = 0; j < k; ++j) {
        uint32_t i;
        std::memcpy(&i, data + off + 4 * static_cast<size_t>(j), 4);
        check(i < static_cast<uint64_t>(numels_[t]), Errc::corrupt_packet,
              "top-k index " + std::to_string(i) + " outside tensor " + std::to_string(t));
        std::memcpy(dst + i, vals + 4 * static_cast<size_t>(j), 4);
      }
      off += 8 * static_cast<size_t>(k);
    }
    check(off == size, Errc::corrupt_packet,
          "top-k packet has " + std::to_string(size - off) + " trailing bytes");
  }

 private:
  std::vector<int64_t> numels_;
};

}  // namespace

std::unique_ptr<GradientCompressor> make_topk_compressor(double ratio,
                                                         const std::vector<int64_t>& numels) {
  return std::make_unique<TopkCompressor>(ratio, numels);
}
std::unique_ptr<GradientDecoder> make_topk_decoder(const std::vector<int64_t>& numels) {
  return std::make_unique<TopkDecoder>(numels);
}

}  // namespace co3::train
