#include "co3/torch/codec.h"

#include <ATen/ATen.h>

#include <cstring>

#include "co3/detail/failure_record.h"
#include "co3/error.h"
#include "co3/kernels/status.h"
#include "co3/torch/tensor.h"
#include "codec_cuda.h"

namespace co3 {
namespace {

void check_packet_tensor(const at::Tensor& p) {
  check(p.defined(), Errc::invalid_argument, "packet: undefined tensor");
  check(p.scalar_type() == at::kByte && p.dim() == 1, Errc::invalid_argument, [&] {
    return "packet: a 1-D uint8 tensor was expected, got " +
           std::string(c10::toString(p.scalar_type())) + " with " + std::to_string(p.dim()) +
           " dimensions";
  });
}

// The packet's bytes on the host and its length from the header.
at::Tensor host_packet(const at::Tensor& packet, int64_t* size) {
  *size = packet_size(packet);
  return host_contiguous(packet.narrow(0, 0, *size));
}

}  // namespace

Codec::Codec(CodecConfig config) : config_(config) { validate(config_); }

at::Tensor Codec::encode(const at::Tensor& tensor, EncodeReport* report) const {
  return encode(std::vector<at::Tensor>{tensor}, report);
}

// The tensors as encoder inputs (kept alive in `kept`): contiguous on their device when
// `on_device`, else host copies. All on one device, which `device` receives.
std::vector<EncodeInput> Codec::inputs_of(const std::vector<at::Tensor>& tensors,
                                          const std::vector<std::string>& names, bool want_device,
                                          std::vector<at::Tensor>* kept, c10::Device* device,
                                          bool* on_device) const {
  check(names.empty() || names.size() == tensors.size(), Errc::invalid_argument, [&] {
    return "encode: " + std::to_string(names.size()) + " names for " +
           std::to_string(tensors.size()) + " tensors";
  });
  const auto name = [&](size_t i) { return tensor_label(i, names.empty() ? "" : names[i]); };
  *device = c10::Device(at::kCPU);
  for (size_t i = 0; i < tensors.size(); ++i) {
    const at::Tensor& t = tensors[i];
    dtype_of(t, name(i));  // a clear error before any copy
    if (i == 0) *device = t.device();
    check(t.device() == *device, Errc::invalid_argument, [&] {
      return name(i) + ": on " + t.device().str() + " while tensor 0 is on " + device->str();
    });
  }
  *on_device = want_device && device->is_cuda() && cuda_path::available();
  kept->assign(tensors.size(), at::Tensor());
  std::vector<EncodeInput> inputs(tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    (*kept)[i] = *on_device ? tensors[i].contiguous() : host_contiguous(tensors[i]);
    inputs[i].grad = TensorView{(*kept)[i].data_ptr(), static_cast<uint64_t>((*kept)[i].numel()),
                                dtype_of((*kept)[i], name(i))};
    inputs[i].shape = tensors[i].sizes().vec();
  }
  return inputs;
}

at::Tensor Codec::encode(const std::vector<at::Tensor>& tensors, EncodeReport* report,
                         const std::vector<std::string>& names) const {
  // CUDA tensors stay on the device unless a report is asked for (the device encoder keeps its
  // statistics on the device).
  std::vector<at::Tensor> kept;
  c10::Device device(at::kCPU);
  bool on_device = false;
  const std::vector<EncodeInput> inputs =
      inputs_of(tensors, names, report == nullptr, &kept, &device, &on_device);
  try {
    if (on_device) return cuda_path::encode(inputs, config_, device);
    return packet_tensor(co3::encode(inputs, config_, report), device);
  } catch (const Error& e) {
    rethrow_named(e, names);
  }
}

void Codec::encode_into(const std::vector<at::Tensor>& tensors, const at::Tensor& buffer,
                        const std::vector<std::string>& names) const {
  check(buffer.defined() && buffer.scalar_type() == at::kByte && buffer.dim() == 1 &&
            buffer.is_contiguous(),
        Errc::invalid_argument, "encode_into: the buffer must be a contiguous 1-D uint8 tensor");
  std::vector<at::Tensor> kept;
  c10::Device device(at::kCPU);
  bool on_device = false;
  const std::vector<EncodeInput> inputs = inputs_of(tensors, names, true, &kept, &device, &on_device);
  check(buffer.device() == device, Errc::invalid_argument, [&] {
    return "encode_into: the buffer is on " + buffer.device().str() + ", the tensors on " +
           device.str();
  });
  try {
    if (on_device) return cuda_path::encode_into(inputs, config_, buffer);
    // Straight into the buffer: no packet vector, no copy (co3::encode_into refuses a buffer
    // too small with the same message as before, memories untouched).
    co3::encode_into(inputs, config_, buffer.data_ptr<uint8_t>(), static_cast<uint64_t>(buffer.numel()));
  } catch (const Error& e) {
    rethrow_named(e, names);
  }
}

int64_t Codec::max_packet_bytes(const std::vector<at::Tensor>& tensors) const {
  std::vector<at::Tensor> kept;
  c10::Device device(at::kCPU);
  bool on_device = false;
  const std::vector<EncodeInput> inputs = inputs_of(tensors, {}, true, &kept, &device, &on_device);
  return static_cast<int64_t>(co3::max_packet_bytes(inputs, config_));
}

std::vector<at::Tensor> Codec::decode(const at::Tensor& packet, std::optional<c10::Device> device,
                                      bool as_float32) const {
  int64_t size = 0;
  const at::Tensor bytes = host_packet(packet, &size);
  const uint8_t* data = bytes.data_ptr<uint8_t>();
  const PacketInfo info = co3::inspect(data, static_cast<size_t>(size));
  const c10::Device target = device.value_or(packet.device());
  // A CUDA packet decoded on its own device: the kernels write the outputs there (the host only
  // read the descriptors, to know what to allocate).
  const bool on_device = packet.is_cuda() && target == packet.device() && cuda_path::available();
  std::vector<at::Tensor> out;
  std::vector<void*> ptrs;
  for (const SegmentInfo& s : info.segments) {
    const std::vector<int64_t> shape = s.shape ? *s.shape : std::vector<int64_t>{static_cast<int64_t>(s.numel)};
    out.push_back(at::empty(shape, at::TensorOptions()
                                       .dtype(scalar_type_of(as_float32 ? DType::f32 : s.dtype))
                                       .device(on_device ? target : c10::Device(at::kCPU))));
    ptrs.push_back(out.back().data_ptr());
  }
  if (on_device) {
    cuda_path::check_status_sync(cuda_path::decode_into(packet, out, /*accumulate=*/false));
    return out;
  }
  co3::decode_into(data, static_cast<size_t>(size), ptrs, as_float32, config_.threads);
  if (!target.is_cpu())
    for (at::Tensor& t : out) t = t.to(target);
  return out;
}

void Codec::decode_into(const at::Tensor& packet, const std::vector<at::Tensor>& outputs,
                        bool accumulate) const {
  check_packet_tensor(packet);
  if (packet.is_cuda() && cuda_path::available()) {
    bool all_there = true;
    for (const at::Tensor& o : outputs) all_there = all_there && o.defined() && o.device() == packet.device();
    if (all_there) {
      cuda_path::check_status_sync(cuda_path::decode_into(packet, outputs, accumulate));
      return;
    }
  }
  int64_t size = 0;
  const at::Tensor bytes = host_packet(packet, &size);
  const uint8_t* data = bytes.data_ptr<uint8_t>();
  const PacketInfo info = co3::inspect(data, static_cast<size_t>(size));
  check(outputs.size() == info.segments.size(), Errc::invalid_argument, [&] {
    return "decode_into: " + std::to_string(outputs.size()) + " outputs for a packet of " +
           std::to_string(info.segments.size()) + " tensors";
  });
  bool direct = !accumulate;  // every output a contiguous CPU tensor of its segment's dtype
  for (size_t i = 0; i < outputs.size(); ++i) {
    const at::Tensor& o = outputs[i];
    check(o.defined() && at::isFloatingType(o.scalar_type()), Errc::invalid_argument, [&] {
      return "decode_into: output " + std::to_string(i) + " is not a floating-point tensor";
    });
    check(static_cast<uint64_t>(o.numel()) == info.segments[i].numel, Errc::invalid_argument, [&] {
      return "decode_into: output " + std::to_string(i) + " has " + std::to_string(o.numel()) +
             " elements, the packet's tensor " + std::to_string(info.segments[i].numel);
    });
    direct = direct && o.device().is_cpu() && o.is_contiguous() &&
             o.scalar_type() == scalar_type_of(info.segments[i].dtype);
  }
  std::vector<at::Tensor> staging(outputs.size());
  std::vector<void*> ptrs(outputs.size());
  for (size_t i = 0; i < outputs.size(); ++i) {
    staging[i] = direct ? outputs[i] : at::empty({outputs[i].numel()}, at::kFloat);
    ptrs[i] = staging[i].data_ptr();
  }
  co3::decode_into(data, static_cast<size_t>(size), ptrs, /*as_f32=*/!direct, config_.threads);
  if (!direct) {
    for (size_t i = 0; i < outputs.size(); ++i) {
      const at::Tensor decoded = staging[i].view(outputs[i].sizes());
      if (accumulate)
        outputs[i].copy_(outputs[i].to(at::kFloat).add_(decoded.to(outputs[i].device())));
      else
        outputs[i].copy_(decoded);
    }
  }
}

void Codec::decode_accumulate(const std::vector<at::Tensor>& packets,
                              const std::vector<at::Tensor>& outputs,
                              const std::vector<std::string>& labels) const {
  check(labels.empty() || labels.size() == packets.size(), Errc::invalid_argument, [&] {
    return "decode_accumulate: " + std::to_string(labels.size()) + " labels for " +
           std::to_string(packets.size()) + " packets";
  });
  const auto named = [&](size_t r, const Error& e) {
    return Error(e.code(), (labels.empty() ? "packet " + std::to_string(r) : labels[r]) + ": " + e.what());
  };
  // The sum is kept in float32 and rounded to each output's dtype once, at the end: outputs of
  // other dtypes or strides accumulate in a float32 copy.
  std::vector<at::Tensor> sums(outputs.size());
  for (size_t i = 0; i < outputs.size(); ++i) {
    const at::Tensor& o = outputs[i];
    check(o.defined() && at::isFloatingType(o.scalar_type()), Errc::invalid_argument, [&] {
      return "decode_accumulate: output " + std::to_string(i) + " is not a floating-point tensor";
    });
    sums[i] = o.scalar_type() == at::kFloat && o.is_contiguous() ? o : o.to(at::kFloat).contiguous();
  }
  bool device_path = cuda_path::available() && !packets.empty();
  for (const at::Tensor& p : packets)
    device_path = device_path && p.defined() && p.is_cuda() && p.device() == packets[0].device();
  for (const at::Tensor& o : outputs) device_path = device_path && o.device() == packets[0].device();
  if (device_path) {
    std::vector<at::Tensor> statuses;
    for (size_t r = 0; r < packets.size(); ++r) {
      try {
        check_packet_tensor(packets[r]);
        statuses.push_back(cuda_path::decode_into(packets[r], sums, /*accumulate=*/true));
      } catch (const Error& e) {
        throw named(r, e);
      }
    }
    std::optional<Error> error;
    const int64_t failed = cuda_path::first_failed_status_sync(statuses, &error);
    if (failed >= 0) throw named(static_cast<size_t>(failed), *error);
  } else {
    for (size_t r = 0; r < packets.size(); ++r) {
      try {
        decode_into(packets[r], sums, /*accumulate=*/true);
      } catch (const Error& e) {
        throw named(r, e);
      }
    }
  }
  for (size_t i = 0; i < outputs.size(); ++i)
    if (!sums[i].is_same(outputs[i])) outputs[i].copy_(sums[i].view(outputs[i].sizes()));
}

void Codec::decode_each(const std::vector<at::Tensor>& packets,
                        const std::vector<std::vector<at::Tensor>>& outputs,
                        const std::vector<std::string>& labels) const {
  check(outputs.size() == packets.size() && (labels.empty() || labels.size() == packets.size()),
        Errc::invalid_argument, [&] {
          return "decode_each: " + std::to_string(outputs.size()) + " output lists and " +
                 std::to_string(labels.size()) + " labels for " + std::to_string(packets.size()) +
                 " packets";
        });
  const auto named = [&](size_t r, const Error& e) {
    return Error(e.code(), (labels.empty() ? "packet " + std::to_string(r) : labels[r]) + ": " + e.what());
  };
  bool device_path = cuda_path::available() && !packets.empty();
  for (size_t r = 0; r < packets.size(); ++r) {
    device_path = device_path && packets[r].defined() && packets[r].is_cuda() &&
                  packets[r].device() == packets[0].device();
    for (const at::Tensor& o : outputs[r])
      device_path = device_path && o.defined() && o.device() == packets[0].device() &&
                    o.scalar_type() == at::kFloat && o.is_contiguous();
  }
  if (!device_path) {
    for (size_t r = 0; r < packets.size(); ++r) {
      try {
        decode_into(packets[r], outputs[r]);
      } catch (const Error& e) {
        throw named(r, e);
      }
    }
    return;
  }
  std::vector<at::Tensor> statuses;
  for (size_t r = 0; r < packets.size(); ++r) {
    try {
      check_packet_tensor(packets[r]);
      statuses.push_back(cuda_path::decode_into(packets[r], outputs[r], /*accumulate=*/false));
    } catch (const Error& e) {
      throw named(r, e);
    }
  }
  std::optional<Error> error;
  const int64_t failed = cuda_path::first_failed_status_sync(statuses, &error);
  if (failed >= 0) throw named(static_cast<size_t>(failed), *error);
}

TensorStats Codec::stats(const at::Tensor& tensor) const {
  const at::Tensor host = host_contiguous(tensor);
  return co3::stats(cpu_view(host, "tensor 0"), config_);
}

int64_t packet_size(const at::Tensor& packet) {
  check_packet_tensor(packet);
  const int64_t n = packet.numel();
  check(n >= 36, Errc::corrupt_packet,
        [&] { return "packet: " + std::to_string(n) + " bytes is shorter than a header"; });
  const at::Tensor head = host_contiguous(packet.narrow(0, 0, 32));
  const uint8_t* h = head.data_ptr<uint8_t>();
  // A sender's failure record (FORMAT.md §11) raises the sender's own error.
  kernels::raise_status(detail::load_failure_record(h, 32));
  check(std::memcmp(h, "CO3p", 4) == 0, Errc::corrupt_packet, "packet: bad magic (not a co3 packet)");
  uint64_t total = 0;
  std::memcpy(&total, h + 8, 8);
  check(total >= 36 && total <= static_cast<uint64_t>(n), Errc::corrupt_packet, [&] {
    return "packet: total_bytes " + std::to_string(total) + " but the tensor holds " +
           std::to_string(n) + " bytes (truncated)";
  });
  return static_cast<int64_t>(total);
}

PacketInfo inspect(const at::Tensor& packet) {
  int64_t size = 0;
  const at::Tensor bytes = host_packet(packet, &size);
  return co3::inspect(bytes.data_ptr<uint8_t>(), static_cast<size_t>(size));
}

}  // namespace co3
