#include "co3/torch/distributed.h"

#include <ATen/ATen.h>

#include "co3/error.h"
#include "co3/torch/tensor.h"

namespace co3 {
namespace {

template <class Group>
AllGather all_gather_impl(Group& group) {
  return [&group](std::vector<at::Tensor>& outputs, at::Tensor& input) {
    std::vector<std::vector<at::Tensor>> out{outputs};
    std::vector<at::Tensor> in{input};
    group.allgather(out, in)->wait();
    outputs = out[0];
  };
}

}  // namespace

AllGather all_gather_of(c10d::ProcessGroup& pg) { return all_gather_impl(pg); }
AllGather all_gather_of(c10d::Backend& backend) { return all_gather_impl(backend); }

std::vector<at::Tensor> all_gather_packets(const AllGather& all_gather, int world_size,
                                           const at::Tensor& packet, CommStats* stats) {
  check(world_size >= 1, Errc::invalid_argument,
        "all_gather_packets: world size " + std::to_string(world_size));
  const int64_t size = packet_size(packet);
  // Sizes first (one int64 each), then every packet padded to the largest.
  const auto opts = packet.options();
  at::Tensor mine = at::full({1}, size, opts.dtype(at::kLong));
  std::vector<at::Tensor> sizes;
  for (int r = 0; r < world_size; ++r) sizes.push_back(at::empty({1}, opts.dtype(at::kLong)));
  all_gather(sizes, mine);
  std::vector<int64_t> host_sizes;
  int64_t largest = 0;
  for (const at::Tensor& s : sizes) {
    host_sizes.push_back(s.item<int64_t>());  // the sizes drive the next collective: a host read
    check(host_sizes.back() >= 36, Errc::corrupt_packet,
          "all_gather_packets: a rank sent a packet size of " + std::to_string(host_sizes.back()));
    largest = std::max(largest, host_sizes.back());
  }
  at::Tensor padded = at::zeros({largest}, opts);
  padded.narrow(0, 0, size).copy_(packet.narrow(0, 0, size));
  std::vector<at::Tensor> gathered;
  for (int r = 0; r < world_size; ++r) gathered.push_back(at::empty({largest}, opts));
  all_gather(gathered, padded);
  for (int r = 0; r < world_size; ++r) gathered[r] = gathered[r].narrow(0, 0, host_sizes[r]);
  if (stats) {
    stats->packet_bytes = size;
    stats->contributed_bytes = 8 + largest;
    stats->received_bytes = (world_size - 1) * (8 + largest);
  }
  return gathered;
}

CommStats compressed_allreduce(const AllGather& all_gather, int world_size, Compressor& compressor,
                               const std::vector<std::string>& names,
                               const std::vector<at::Tensor>& grads) {
  CommStats stats;
  const at::Tensor packet = compressor.compress(names, grads);
  const std::vector<at::Tensor> packets = all_gather_packets(all_gather, world_size, packet, &stats);
  for (const at::Tensor& g : grads) stats.elements += g.numel();
  // Decode every rank's packet and sum in rank order, in float32: the same bits on every rank.
  std::vector<at::Tensor> sum;
  for (int r = 0; r < world_size; ++r) {
    std::vector<at::Tensor> decoded = compressor.codec().decode(packets[r], c10::Device(at::kCPU), true);
    check(decoded.size() == grads.size(), Errc::corrupt_packet,
          "compressed_allreduce: rank " + std::to_string(r) + " sent " +
              std::to_string(decoded.size()) + " tensors, this rank has " + std::to_string(grads.size()));
    for (size_t i = 0; i < grads.size(); ++i) {
      check(decoded[i].sizes() == grads[i].sizes(), Errc::corrupt_packet,
            "compressed_allreduce: rank " + std::to_string(r) + "'s " + tensor_label(i, names[i]) +
                " has shape " + c10::str(decoded[i].sizes()) + ", this rank's " +
                c10::str(grads[i].sizes()));
      if (r == 0)
        sum.push_back(decoded[i]);
      else
        sum[i].add_(decoded[i]);
    }
  }
  for (size_t i = 0; i < grads.size(); ++i) grads[i].copy_(sum[i].div_(world_size));
  return stats;
}

}  // namespace co3
