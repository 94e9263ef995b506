// The device path of the LibTorch API (codec_cuda.h): plans and scratch for the kernels, from
// ATen's caching allocator, on the current stream.
#include "codec_cuda.h"

#include "co3/error.h"
#include "co3/torch/tensor.h"

#if defined(CO3_HAVE_KERNELS)
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>

#include <cstring>

#include "co3/kernels/decode.h"
#include "co3/kernels/encode.h"
#include "co3/kernels/status_sync.h"
#endif

namespace co3::cuda_path {

#if defined(CO3_HAVE_KERNELS)

namespace {

cudaStream_t current_stream(c10::Device device) {
  return at::cuda::getCurrentCUDAStream(device.index()).stream();
}

// Device scratch from the caching allocator: freed (and reusable on this stream) when the
// tensor goes, which stream ordering makes safe without a sync.
at::Tensor device_bytes(uint64_t n, c10::Device device) {
  return at::empty({static_cast<int64_t>(n)}, at::TensorOptions().dtype(at::kByte).device(device));
}

// Host bytes to the start of `dst` through pinned memory from the caching host allocator: a
// non-blocking copy, and the allocator keeps the pinned block until the copy has run (no sync,
// unlike a copy from pageable memory).
void upload(const uint8_t* bytes, size_t n, const at::Tensor& dst) {
  if (n == 0) return;
  at::Tensor pinned = at::empty({static_cast<int64_t>(n)}, at::TensorOptions().dtype(at::kByte).pinned_memory(true));
  std::memcpy(pinned.data_ptr<uint8_t>(), bytes, n);
  dst.narrow(0, 0, static_cast<int64_t>(n)).copy_(pinned, /*non_blocking=*/true);
}

}  // namespace

bool available() { return true; }

namespace {

void encode_with(const kernels::EncodePlan& plan, const at::Tensor& packet) {
  const c10::Device device = packet.device();
  const c10::cuda::CUDAGuard guard(device);
  const cudaStream_t stream = current_stream(device);
  at::Tensor workspace = device_bytes(plan.workspace_bytes(), device);
  // The size and the status share one scratch tensor (8 + 16 bytes).
  at::Tensor small = device_bytes(32, device);
  auto* d_bytes = reinterpret_cast<uint64_t*>(small.data_ptr<uint8_t>());
  auto* d_status = reinterpret_cast<kernels::DeviceStatus*>(small.data_ptr<uint8_t>() + 8);
  // The encoder leaves a failure record (FORMAT.md §11) in the buffer when it fails.
  upload(plan.job_table().data(), plan.job_table().size(), workspace);
  C10_CUDA_CHECK(plan.encode_async(workspace.data_ptr(), packet.data_ptr<uint8_t>(), d_bytes, d_status, stream));
}

}  // namespace


at::Tensor encode(const std::vector<EncodeInput>& inputs, const CodecConfig& config, c10::Device device) {
  const kernels::EncodePlan plan(inputs, config);
  at::Tensor packet = device_bytes(plan.max_packet_bytes(), device);
  encode_with(plan, packet);
  return packet;
}

void encode_into(const std::vector<EncodeInput>& inputs, const CodecConfig& config, const at::Tensor& buffer) {
  const kernels::EncodePlan plan(inputs, config);
  check(static_cast<uint64_t>(buffer.numel()) >= plan.max_packet_bytes(), Errc::invalid_argument,
        [&] {
          return "encode_into: the buffer holds " + std::to_string(buffer.numel()) +
                 " bytes; these tensors need up to " + std::to_string(plan.max_packet_bytes()) +
                 " (max_packet_bytes)";
        });
  encode_with(plan, buffer);
}

at::Tensor decode_into(const at::Tensor& packet, const std::vector<at::Tensor>& outputs, bool accumulate) {
  const c10::Device device = packet.device();
  const c10::cuda::CUDAGuard guard(device);
  const cudaStream_t stream = current_stream(device);
  check(packet.is_contiguous(), Errc::invalid_argument, "packet: not contiguous");
  const uint64_t capacity = static_cast<uint64_t>(packet.numel());
  // The packet's length is its header's total_bytes (gather padding may follow): the decoder
  // reads it from the header in device memory, which it validates against the capacity.
  check(capacity >= 16, Errc::corrupt_packet,
        [&] { return "packet: " + std::to_string(capacity) + " bytes is shorter than a header"; });
  std::vector<at::Tensor> direct(outputs.size());
  std::vector<kernels::DecodeOutput> outs(outputs.size());
  for (size_t i = 0; i < outputs.size(); ++i) {
    const at::Tensor& o = outputs[i];
    const std::string what = "decode_into: output " + std::to_string(i);
    check(o.defined() && at::isFloatingType(o.scalar_type()), Errc::invalid_argument,
          [&] { return what + " is not a floating-point tensor"; });
    check(o.device() == device, Errc::invalid_argument,
          [&] { return what + ": on " + o.device().str() + ", the packet on " + device.str(); });
    const bool usable = o.is_contiguous() && (o.scalar_type() == at::kFloat ||
                                              o.scalar_type() == at::kHalf ||
                                              o.scalar_type() == at::kBFloat16);
    // Accumulating through a staging copy needs the output's current values in it.
    direct[i] = usable ? o : (accumulate ? o.to(at::kFloat).contiguous() : at::empty({o.numel()}, o.options().dtype(at::kFloat)));
    outs[i].data = direct[i].data_ptr();
    outs[i].numel = static_cast<uint64_t>(o.numel());
    outs[i].dtype = dtype_of(direct[i], what);
    outs[i].accumulate = accumulate;
  }
  const kernels::DecodePlan plan({capacity}, {static_cast<uint32_t>(outputs.size())});
  at::Tensor workspace = device_bytes(plan.workspace_bytes(), device);
  at::Tensor jobs = device_bytes(plan.jobs_bytes(), device);
  at::Tensor status = device_bytes(sizeof(kernels::DeviceStatus), device);
  kernels::DecodePacket p;
  p.data = packet.data_ptr<uint8_t>();
  p.capacity = capacity;
  p.d_bytes = reinterpret_cast<const uint64_t*>(packet.data_ptr<uint8_t>() + 8);
  std::vector<uint8_t> host_jobs(plan.jobs_bytes());
  plan.write_jobs({p}, outs, host_jobs.data());
  upload(host_jobs.data(), host_jobs.size(), jobs);
  C10_CUDA_CHECK(kernels::decode(plan, jobs.data_ptr(), workspace.data_ptr(),
                                 reinterpret_cast<kernels::DeviceStatus*>(status.data_ptr<uint8_t>()), stream));
  for (size_t i = 0; i < outputs.size(); ++i)
    if (!direct[i].is_same(outputs[i])) outputs[i].copy_(direct[i].view(outputs[i].sizes()));
  return status;
}

void check_status_sync(const at::Tensor& status) {
  const c10::cuda::CUDAGuard guard(status.device());
  kernels::raise_status_sync(reinterpret_cast<const kernels::DeviceStatus*>(status.data_ptr<uint8_t>()),
                              current_stream(status.device()));
}

int64_t first_failed_status_sync(const std::vector<at::Tensor>& statuses, std::optional<Error>* error) {
  if (statuses.empty()) return -1;
  const at::Tensor host = at::cat(statuses).cpu();  // the one synchronization
  const uint8_t* bytes = host.data_ptr<uint8_t>();
  for (size_t i = 0; i < statuses.size(); ++i) {
    kernels::DeviceStatus st;
    std::memcpy(&st, bytes + i * sizeof(st), sizeof(st));
    if (st.code != static_cast<uint32_t>(kernels::Status::ok)) {
      error->emplace(kernels::status_error(st));
      return static_cast<int64_t>(i);
    }
  }
  return -1;
}

#else

bool available() { return false; }

namespace {
[[noreturn]] void no_kernels() {
  fail(Errc::invalid_argument, "CUDA tensors: this co3 was built without its CUDA kernels");
}
}  // namespace

at::Tensor encode(const std::vector<EncodeInput>&, const CodecConfig&, c10::Device) { no_kernels(); }
void encode_into(const std::vector<EncodeInput>&, const CodecConfig&, const at::Tensor&) { no_kernels(); }
at::Tensor decode_into(const at::Tensor&, const std::vector<at::Tensor>&, bool) { no_kernels(); }
void check_status_sync(const at::Tensor&) { no_kernels(); }
int64_t first_failed_status_sync(const std::vector<at::Tensor>&, std::optional<Error>*) { no_kernels(); }

#endif

}  // namespace co3::cuda_path
