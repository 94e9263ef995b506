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
// all-gathered (their sizes first, then the payload padded to the largest size), and every rank
// decodes all of them and averages in rank order: all ranks end with the same bits. The call
// blocks until the collectives complete (it waits on their work objects).
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
  int64_t contributed_bytes = 0;   // what this rank put into the all-gathers: 8 (its size) +
                                   // the padded packet; an all-gather delivers it to W − 1 ranks
  int64_t received_bytes = 0;      // the other ranks' contributions that reached this rank
  int64_t elements = 0;            // gradient entries this rank coded
};

// An all-gather of one tensor per rank into `outputs` (world-size tensors), blocking.
using AllGather = std::function<void(std::vector<at::Tensor>& outputs, at::Tensor& input)>;
AllGather all_gather_of(c10d::ProcessGroup& pg);
AllGather all_gather_of(c10d::Backend& backend);  // e.g. a c10d::ProcessGroupGloo

// Every rank's packet (in rank order; this rank's too), each trimmed to its real size.
std::vector<at::Tensor> all_gather_packets(const AllGather& all_gather, int world_size,
                                           const at::Tensor& packet, CommStats* stats = nullptr);

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
