#include "co3/torch/distributed.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "co3/error.h"
#include "co3/torch/tensor.h"
#include "distributed_exchange.h"

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

int64_t payload_bound(int64_t entries, int64_t tensors) {
  return 4 * entries + (int64_t{1} << 20) * (tensors + 1);
}

std::string rank_label(int r) { return "rank " + std::to_string(r); }

std::vector<at::Tensor> exchange_payloads(const AllGather& all_gather, int world_size,
                                          const at::Tensor& packet, const std::string& failure,
                                          c10::Device device, int64_t entries, int64_t tensors,
                                          const std::vector<int64_t>& expected, CommStats* stats,
                                          const AllToAll* exact, int rank) {
  check(world_size >= 1, Errc::invalid_argument,
        [&] { return "exchange_packets: world size " + std::to_string(world_size); });
  check(expected.empty() || expected.size() == static_cast<size_t>(world_size),
        Errc::invalid_argument, "exchange_packets: one expected entry count per rank");
  const at::TensorOptions bytes_opts = at::TensorOptions(at::kByte).device(device);
  // The packet's length is its header's (a host read for a CUDA packet); a failure sends its
  // message instead, and so does a failure record, whose error packet_size raises. An empty
  // packet (a rank with an empty shard) sends nothing.
  std::string reason = failure.empty() && !packet.defined() ? "no packet" : failure;
  at::Tensor payload;
  if (reason.empty()) {
    try {
      payload = packet.numel() == 0 ? packet : packet.narrow(0, 0, packet_size(packet));
    } catch (const std::exception& e) {
      reason = e.what();
    }
  }
  const int64_t kind = reason.empty() ? kPacket : kFailure;
  if (kind == kFailure)
    payload = at::tensor(at::ArrayRef<uint8_t>(reinterpret_cast<const uint8_t*>(reason.data()), reason.size()),
                         at::kByte)
                  .to(device);
  const auto long_opts = bytes_opts.dtype(at::kLong);
  at::Tensor mine = at::tensor({kind, payload.numel(), entries, tensors}, at::kLong).to(long_opts.device());
  std::vector<at::Tensor> heads;
  for (int r = 0; r < world_size; ++r) heads.push_back(at::empty({4}, long_opts));
  all_gather(heads, mine);
  const at::Tensor all = at::stack(heads).cpu();  // drives the next collective: a host read
  const int64_t* h = all.data_ptr<int64_t>();
  int64_t largest = 0;
  for (int r = 0; r < world_size; ++r) {
    const int64_t k = h[4 * r], len = h[4 * r + 1], n = h[4 * r + 2], t = h[4 * r + 3];
    check(k == kPacket || k == kFailure, Errc::corrupt_packet, [&] {
      return "exchange: " + rank_label(r) + " announced payload kind " + std::to_string(k) +
             " (not a co3 peer?)";
    });
    if (expected.empty())
      check(n == h[2] && t == h[3], Errc::invalid_argument, [&] {
        return "exchange: " + rank_label(r) + " codes " + std::to_string(n) + " entries in " +
               std::to_string(t) + " tensors, rank 0 " + std::to_string(h[2]) + " in " +
               std::to_string(h[3]) + " (the ranks' gradients differ)";
      });
    else
      check(n == expected[r] && t == tensors, Errc::invalid_argument, [&] {
        return "exchange: " + rank_label(r) + " codes " + std::to_string(n) + " entries in " +
               std::to_string(t) + " tensors, its shard " + std::to_string(expected[r]) +
               " in " + std::to_string(tensors) + " (the ranks' buckets differ)";
      });
    const int64_t bound = payload_bound(std::max<int64_t>(n, 0), std::max<int64_t>(t, 0));
    check(len >= 0 && len <= bound, Errc::corrupt_packet, [&] {
      return "exchange: " + rank_label(r) + " announced " + std::to_string(len) +
             " bytes, beyond the bound of " + std::to_string(bound) + " for its entries";
    });
    largest = std::max(largest, len);
  }
  std::vector<at::Tensor> gathered;
  if (exact != nullptr) {
    // Every payload at its own length (in 8-byte slots, which keep the packets aligned for the
    // CUDA decoder): this rank's payload to every rank through one all-to-all.
    check(rank >= 0 && rank < world_size, Errc::invalid_argument, "exchange_packets: rank");
    const int64_t mine_slot = slot_bytes(payload.numel());
    std::vector<int64_t> send_splits(world_size, mine_slot), receive_splits(world_size);
    int64_t received = 0;
    for (int r = 0; r < world_size; ++r) {
      receive_splits[r] = slot_bytes(h[4 * r + 1]);
      received += receive_splits[r];
    }
    at::Tensor send = at::zeros({mine_slot * world_size}, bytes_opts);
    for (int r = 0; r < world_size && payload.numel() > 0; ++r)
      send.narrow(0, r * mine_slot, payload.numel()).copy_(payload.to(device));
    at::Tensor receive = at::empty({received}, bytes_opts);
    if (received > 0) (*exact)(receive, send, receive_splits, send_splits);
    int64_t offset = 0;
    for (int r = 0; r < world_size; ++r) {
      gathered.push_back(receive.narrow(0, offset, receive_splits[r]));
      offset += receive_splits[r];
    }
    if (stats) {
      stats->sent_bytes = (world_size - 1) * (32 + mine_slot);
      stats->received_bytes = (world_size - 1) * 32 + received - receive_splits[rank];
    }
  } else {
    at::Tensor padded = at::zeros({largest}, bytes_opts);
    padded.narrow(0, 0, payload.numel()).copy_(payload.to(device));
    for (int r = 0; r < world_size; ++r) gathered.push_back(at::empty({largest}, bytes_opts));
    all_gather(gathered, padded);
    if (stats) {
      stats->sent_bytes = (world_size - 1) * (32 + largest);
      stats->received_bytes = (world_size - 1) * (32 + largest);
    }
  }
  std::string failures;
  for (int r = 0; r < world_size; ++r) {
    gathered[r] = gathered[r].narrow(0, 0, h[4 * r + 1]);
    if (h[4 * r] == kFailure) {
      const at::Tensor text = gathered[r].cpu();
      failures += (failures.empty() ? "" : "; ") + rank_label(r) + " failed: " +
                  std::string(reinterpret_cast<const char*>(text.data_ptr<uint8_t>()), text.numel());
    }
  }
  check(failures.empty(), Errc::invalid_argument, [&] { return "exchange: " + failures; });
  if (stats) {
    stats->packet_bytes = payload.numel();
    stats->contributed_bytes = 32 + largest;
  }
  return gathered;
}

std::vector<at::Tensor> exchange_packets(const AllGather& all_gather, int world_size,
                                         const at::Tensor& packet, const std::string& failure,
                                         c10::Device device, int64_t entries, int64_t tensors,
                                         CommStats* stats) {
  return exchange_payloads(all_gather, world_size, packet, failure, device, entries, tensors, {},
                           stats);
}

CommStats compressed_allreduce(const AllGather& all_gather, int world_size, Compressor& compressor,
                               const std::vector<std::string>& names,
                               const std::vector<at::Tensor>& grads) {
  check(!grads.empty() && grads[0].defined(), Errc::invalid_argument,
        "compressed_allreduce: no gradients");
  const c10::Device device = grads[0].device();
  CommStats stats;
  for (const at::Tensor& g : grads) stats.elements += g.defined() ? g.numel() : 0;
  // The memories before this step, put back when the average is not finite: a step that a loss
  // scaler skips must not move them, and a rank whose own gradients were finite moved them.
  std::vector<at::Tensor> before(names.size());
  const std::vector<std::string> known = compressor.names();
  for (size_t i = 0; i < names.size(); ++i)
    if (std::find(known.begin(), known.end(), names[i]) != known.end())
      before[i] = compressor.memory(names[i]).clone();
  // A failure here still takes part in every collective (as an error message), so no peer waits.
  at::Tensor packet;
  std::string failure;
  try {
    packet = compressor.compress(names, grads);
  } catch (const std::exception& e) {
    failure = e.what();
  }
  const std::vector<at::Tensor> packets =
      exchange_packets(all_gather, world_size, packet, failure, device, stats.elements,
                       static_cast<int64_t>(grads.size()), &stats);
  // Decode every rank's packet into float32 sums on the gradients' device, in rank order: the
  // same bits on every rank.
  std::vector<at::Tensor> sums;
  for (const at::Tensor& g : grads) sums.push_back(at::zeros({g.numel()}, g.options().dtype(at::kFloat)));
  std::vector<std::string> labels;
  for (int r = 0; r < world_size; ++r) labels.push_back(rank_label(r) + "'s packet");
  compressor.codec().decode_accumulate(packets, sums, labels);
  at::Tensor finite = at::ones({}, at::TensorOptions(at::kBool).device(device));
  for (const at::Tensor& s : sums) finite = finite.logical_and(all_finite(s));
  // On the host the check is free and a finite step (nearly every one) puts nothing back; on a
  // device `where` keeps it there, with no host read.
  const bool finite_on_host = finite.device().is_cpu() && finite.item<bool>();
  for (size_t i = 0; i < names.size() && !finite_on_host; ++i) {
    at::Tensor memory = compressor.memory(names[i]);
    const at::Tensor kept = before[i].defined() ? before[i] : at::zeros_like(memory);
    memory.copy_(at::where(finite, memory, kept));
  }
  // The fit and averages too, where later steps' scales come from them. Those refits staged the
  // gradients through the host in compress(), so this host read adds no new kind of wait.
  if (compressor.options().refit != Refit::every_step && !finite.item<bool>())
    for (const std::string& name : names) compressor.restore_statistics(name);
  for (size_t i = 0; i < grads.size(); ++i) grads[i].copy_(sums[i].div_(world_size).view(grads[i].sizes()));
  return stats;
}

}  // namespace co3
