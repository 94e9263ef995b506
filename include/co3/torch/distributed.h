// Compressed all-reduce for C++ training loops on torch.distributed's c10d (LibTorch has no DDP
// module: a C++ loop averages its gradients after backward() itself).
//
//   auto store = c10::make_intrusive<c10d::TCPStore>("127.0.0.1", store_options);
//   auto opts = c10d::ProcessGroupGloo::Options::create();
//   opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
//   c10d::ProcessGroupGloo pg(store, rank, world, opts);
//   co3::Compressor comp({config, /*gamma=*/0.7f});
//   ... loss.backward();
//   co3::compressed_allreduce(pg, comp, names, grads);   // grads now hold the average
//
// Each rank compresses its gradients (with its compressor's error feedback), the packets are
// exchanged (exchange_packets below: announcements, then the payloads padded to the largest),
// and every rank decode-accumulates all of them in rank order on the gradients' device and
// divides: all ranks end with the same bits. A failure on one rank (a bad dtype, an encoder
// error) still takes part in every collective, as a message, and every rank raises the same
// error naming it: no rank is left waiting. NaN/Inf gradients (the compressor's 'propagate'
// policy) reach every rank's average, and then every rank puts its error memories back as they
// were before the step, which a loss scaler skips. The call blocks until the collectives complete.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/csrc/distributed/c10d/Backend.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "co3/torch/compressor.h"

namespace co3 {

struct CommStats {
  int64_t packet_bytes = 0;        // this rank's packet
  int64_t contributed_bytes = 0;   // what this rank put into the all-gathers: 32 (its announcement) +
                                   // the padded packet; an all-gather delivers it to W − 1 ranks
  int64_t received_bytes = 0;      // the other ranks' contributions that reached this rank
  int64_t elements = 0;            // gradient entries this rank coded
};

// An all-gather of one tensor per rank into `outputs` (world-size tensors), blocking.
using AllGather = std::function<void(std::vector<at::Tensor>& outputs, at::Tensor& input)>;
AllGather all_gather_of(c10d::ProcessGroup& pg);
AllGather all_gather_of(c10d::Backend& backend);  // e.g. a c10d::ProcessGroupGloo

// The exchange under compressed_allreduce (docs/DISTRIBUTED.md): every rank announces
// [kind, length, entries, tensors] (a packet, or the message of a failure on that rank), every
// rank checks every announcement alike (the same entries and tensors everywhere, a length below
// a bound derived from them) before anything is allocated, then the payloads are all-gathered, padded to the
// largest. Returns every rank's packet (in rank order; this rank's too) trimmed to its length,
// or throws on every rank alike: Error(invalid_argument) naming each rank that failed and why,
// or the check that failed. `packet` is this rank's packet (undefined when `failure` says why
// there is none); `device` is where the payloads travel; `tensors` the count it holds.
// Host reads: the packet's length (a CUDA packet) and the announcements.
std::vector<at::Tensor> exchange_packets(const AllGather& all_gather, int world_size,
                                         const at::Tensor& packet, const std::string& failure,
                                         c10::Device device, int64_t entries, int64_t tensors,
                                         CommStats* stats = nullptr);

// Averages `grads` over the ranks in place (see above). `names` key the error memory.
CommStats compressed_allreduce(const AllGather& all_gather, int world_size, Compressor& compressor,
                               const std::vector<std::string>& names,
                               const std::vector<at::Tensor>& grads);
template <class Group>
CommStats compressed_allreduce(Group& group, Compressor& compressor,
                               const std::vector<std::string>& names,
                               const std::vector<at::Tensor>& grads) {
  return compressed_allreduce(all_gather_of(group), group.getSize(), compressor, names, grads);
}

}  // namespace co3
