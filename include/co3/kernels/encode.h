// The GPU encoder: a batch of device tensors (float32, float16, bfloat16, mixed sizes) to one
// docs/FORMAT.md packet in device memory, byte-identical to co3::encode on the CPU for the same
// inputs and config, with the same error memory written back.
//
//   co3::kernels::EncodePlan plan(inputs, config);     // host only: checks, sizes, job table
//   cudaMalloc(&ws, plan.workspace_bytes());           // once; reusable for every encode
//   cudaMalloc(&packet, plan.max_packet_bytes());      // once
//   plan.upload(ws, stream);                           // once per workspace (pageable copy)
//   plan.encode_async(ws, packet, d_bytes, d_status, stream);   // each step; graph-capturable
//   co3::kernels::raise_status_sync(d_status, stream); // when the caller wants errors (syncs)
//
// `inputs` are co3::EncodeInput (codec.h) whose grad.data and memory are DEVICE pointers, aligned
// to their element size. The plan captures those pointers: an encode reads whatever they hold
// when it runs (a training loop reuses one plan while its gradient buffers stay put). Shapes and
// given fits are copied into the plan. CodecConfig::threads is ignored.
//
// encode_async launches the whole pipeline on `stream`: no host synchronization, no allocation,
// no pageable copy, so it can be captured in a CUDA graph and replayed. The packet's size is
// written to *d_packet_bytes (device memory); errors the CPU codec would throw after reading the
// data (NaN/Inf under the 'error' policy, a histogram code that cannot be built) go to *d_status
// (status.h) instead, and the packet buffer then holds docs/FORMAT.md §11's 32-byte failure
// record (*d_packet_bytes = 32), which every decoder rejects. Argument errors (everything the
// host can see) are thrown by the plan's constructor, as co3::Error with the CPU codec's message.
//
// Concurrency: encodes on different streams need different workspaces (and packets); one
// workspace serves one encode at a time.
//
// Stages (kernels/encode_*.cu, each thread's work in kernels/encode_stages.h): moments (reads
// every gradient and error memory once), quantize (reads them again, writes the error memory,
// one byte per symbol up to 8-bit symbols, else two, and the histograms), code (one block per
// table; package-merge, codewords and, for model codes, each segment's code pmf run in one
// thread: quick for 8-bit symbols, the slow stage for 16-bit ones), chunk bits and their scan,
// layout, pack (reads the symbols again), CRC. The workspace grows with the tables: per table
// 14 bytes per symbol of the alphabet, plus package-merge scratch for up to 32 tables at once.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "co3/codec.h"
#include "co3/kernels/status_sync.h"

namespace co3::kernels {

struct EncodePlanData;  // the job table and the workspace layout (kernels/encode_plan.h)

class EncodePlan {
 public:
  // Throws co3::Error(invalid_argument) exactly where co3::encode would before reading any data.
  // With a prior code (codec.h; copied into the plan), the tables are uploaded with the job table
  // and the encode counts no histogram and builds no code: co3::encode(inputs, config, *prior)'s
  // bytes.
  EncodePlan(const std::vector<EncodeInput>& device_inputs, const CodecConfig& config,
             const PriorCode* prior = nullptr);
  ~EncodePlan();
  EncodePlan(EncodePlan&&) noexcept;
  EncodePlan& operator=(EncodePlan&&) noexcept;
  EncodePlan(const EncodePlan&) = delete;
  EncodePlan& operator=(const EncodePlan&) = delete;

  // Device scratch an encode needs (256-byte aligned base).
  size_t workspace_bytes() const;
  // An upper bound of the packet's size for any data: preallocate the packet with it.
  uint64_t max_packet_bytes() const;

  // Copies the job table (tensor pointers, sizes, shapes) into the workspace: cudaMemcpyAsync
  // from pageable host memory, so not capturable. Once per workspace, before encode_async.
  cudaError_t upload(void* d_workspace, cudaStream_t stream) const;
  // The bytes upload() copies to the workspace's start: a caller with pinned staging memory
  // (a framework's caching host allocator) copies them itself, capturably.
  const std::vector<uint8_t>& job_table() const;

  // The encode pipeline on `stream`. d_packet: max_packet_bytes() bytes; d_packet_bytes: one
  // uint64_t; d_status: one DeviceStatus (reset by this call). Returns the first launch error.
  cudaError_t encode_async(void* d_workspace, uint8_t* d_packet, uint64_t* d_packet_bytes,
                           DeviceStatus* d_status, cudaStream_t stream) const;

  const EncodePlanData& data() const { return *data_; }  // for kernels/ and its tests

 private:
  EncodePlanData* data_;
};

// For tests and tools: plans, allocates workspace and packet (cudaMalloc), uploads, encodes,
// synchronizes `stream`, raises the device status as co3::Error and returns the packet on the
// host; a CUDA failure throws Error(io). Not for a training loop's hot path.
std::vector<uint8_t> encode_sync(const std::vector<EncodeInput>& device_inputs,
                                 const CodecConfig& config, cudaStream_t stream = nullptr,
                                 const PriorCode* prior = nullptr);

}  // namespace co3::kernels
