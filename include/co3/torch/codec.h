// co3 for LibTorch tensors: a codec object over at::Tensor (C++ API of the LibTorch layer).
//
//   co3::Codec codec(config);                       // CodecConfig: format, rounding, scale, ...
//   at::Tensor packet = codec.encode({w.grad(), b.grad()});   // uint8, docs/FORMAT.md bytes
//   std::vector<at::Tensor> grads = codec.decode(packet);     // original shapes and dtypes
//
// Tensors may be float32, float16 or bfloat16, of any shape and strides (non-contiguous ones
// are read through a contiguous copy). Packets carry the shapes (bitstream version 2).
//
// Devices: CPU tensors are coded by the CPU codec on its worker threads; CUDA tensors by co3's
// kernels on the current stream of their device, with scratch from the caching allocator (in a
// build with the kernels; else staged through the host, which synchronizes). The same bytes
// either way (docs/FORMAT.md §10).
// - encode of CUDA tensors does not synchronize: the packet tensor is a worst-case-sized buffer
//   whose header (total_bytes) says where the packet ends; packet_size() reads it (a sync). An
//   encoder failure found on the device (NaN/Inf under the 'error' policy) turns the buffer into
//   a failure record (FORMAT.md §11) that packet_size(), decode and inspect raise as the CPU
//   codec's co3::Error. Asking for an EncodeReport stages through the host.
// - decode of a CUDA packet reads its descriptors on the host (to allocate the outputs; a sync),
//   then decodes on the device; decode_into does not read it on the host (see there).
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <optional>
#include <string>
#include <vector>

#include "co3/codec.h"
#include "co3/config.h"

namespace co3 {

class Codec {
 public:
  explicit Codec(CodecConfig config = {});  // validates; throws Error(invalid_argument)

  const CodecConfig& config() const { return config_; }

  // One packet for one tensor, or for a list (one segment each, in order). `report`, when
  // given, receives what the encoder measured per tensor. `names` (optional, one per tensor)
  // only label error messages.
  at::Tensor encode(const at::Tensor& tensor, EncodeReport* report = nullptr) const;
  at::Tensor encode(const std::vector<at::Tensor>& tensors, EncodeReport* report = nullptr,
                    const std::vector<std::string>& names = {}) const;

  // The packet of encode(tensors) written at the start of `buffer` (a contiguous 1-D uint8
  // tensor on the tensors' device) instead of a new tensor: for a loop that reuses one buffer
  // per bucket. A buffer of max_packet_bytes(tensors) always suffices. CUDA tensors: coded on
  // the current stream, no synchronization; the header's total_bytes (packet_size) says where
  // the packet ends, or the buffer holds a failure record (see above). CPU tensors: coded, then
  // copied in (Error(invalid_argument) when the buffer is too short for the packet).
  void encode_into(const std::vector<at::Tensor>& tensors, const at::Tensor& buffer,
                   const std::vector<std::string>& names = {}) const;

  // The worst-case packet size of these tensors under this configuration (every chunk at the
  // code length limit, every code table at its largest): host arithmetic on their sizes, no
  // synchronization; co3::max_packet_bytes, the bound the CPU and GPU encoders share.
  int64_t max_packet_bytes(const std::vector<at::Tensor>& tensors) const;

  // The tensors of a packet (a 1-D uint8 tensor), with their stored shapes (a version-1 packet
  // gives 1-D tensors) and dtypes, or all float32 when `as_float32`; on `device` (default: the
  // packet's). A packet tensor may be longer than its packet (gather padding): the header's
  // total_bytes says where the packet ends. A corrupt packet throws Error(corrupt_packet).
  std::vector<at::Tensor> decode(const at::Tensor& packet,
                                 std::optional<c10::Device> device = std::nullopt,
                                 bool as_float32 = false) const;

  // Decodes into existing tensors (same count and element counts as the packet's segments, any
  // floating dtype and strides, any device): what a DDP hook does with bucket.buffer(). With
  // `accumulate`, adds the decoded values instead (out += value, in float32 then rounded to the
  // output's dtype): averaging N packets is N passes, no temporary per packet. A CUDA packet
  // with outputs on its device is decoded by the kernels, then the call waits for the stream to
  // raise a corrupt packet's error (one synchronization).
  void decode_into(const at::Tensor& packet, const std::vector<at::Tensor>& outputs,
                   bool accumulate = false) const;

  // outputs += the sum of the packets' tensors, packet after packet in list order, in float32
  // and rounded to each output's dtype once (the same float32 sum, so the same bits, on every
  // rank that decodes the same list): what averaging N
  // ranks' packets needs, without a temporary per packet. CUDA packets with outputs on their
  // device are decoded by the kernels one after another and checked together: one
  // synchronization for the whole list. An error names the packet ("packet r: ...", or
  // labels[r] when given) and leaves the outputs unspecified.
  void decode_accumulate(const std::vector<at::Tensor>& packets,
                         const std::vector<at::Tensor>& outputs,
                         const std::vector<std::string>& labels = {}) const;

  // Packet r decoded into its own outputs[r] (overwriting them), for every r: what the all-gather
  // of summed shards needs (each packet fills its slice of the bucket). CUDA packets with float32
  // contiguous outputs on their device are decoded by the kernels and checked together: one
  // synchronization for the whole list. An error names the packet (labels[r] when given).
  void decode_each(const std::vector<at::Tensor>& packets,
                   const std::vector<std::vector<at::Tensor>>& outputs,
                   const std::vector<std::string>& labels = {}) const;

  // Per-code-source statistics of one tensor under this configuration (no packet is kept).
  TensorStats stats(const at::Tensor& tensor) const;

 private:
  std::vector<EncodeInput> inputs_of(const std::vector<at::Tensor>& tensors,
                                     const std::vector<std::string>& names, bool want_device,
                                     std::vector<at::Tensor>* kept, c10::Device* device,
                                     bool* on_device) const;
  CodecConfig config_;
};

// The packet's length in bytes as its header states it, after checking the magic and that the
// tensor holds that many bytes. For a CUDA packet this reads device memory: it synchronizes.
int64_t packet_size(const at::Tensor& packet);

// Segment descriptors of a packet (fully validated, like co3::inspect).
PacketInfo inspect(const at::Tensor& packet);

}  // namespace co3
