// The reduce-scatter + all-gather of shard packets (Algorithm::rsag, docs/DISTRIBUTED.md): each
// rank receives one shard's packets and the N summed shards, so its bytes stay flat in N and it
// decodes about two bucket passes whatever N is, where the all-gather of whole packets sends
// (N−1) packets and decodes N.
#include <ATen/ATen.h>

#include <algorithm>
#include <numeric>

#include "co3/error.h"
#include "co3/torch/distributed.h"
#include "co3/torch/tensor.h"
#include "distributed_exchange.h"
#include "shard_cut.h"

namespace co3 {
namespace {

template <class Group>
AllToAll all_to_all_impl(Group& group) {
  return [&group](at::Tensor& output, at::Tensor& input, const std::vector<int64_t>& output_splits,
                  const std::vector<int64_t>& input_splits) {
    std::vector<int64_t> out(output_splits), in(input_splits);
    group.alltoall_base(output, input, out, in)->wait();
  };
}

// The memories (and refit statistics) one step may move, put back when the averaged gradient is
// not finite: a step that a loss scaler skips must not move them, and a rank whose own values
// were finite moved them when it coded.
class MemoryGuard {
 public:
  void add(Compressor& c, const std::string& name) {
    const std::vector<std::string> known = c.names();
    const bool seen = std::find(known.begin(), known.end(), name) != known.end();
    kept_.push_back({&c, name, seen ? c.memory(name).clone() : at::Tensor()});
  }
  // `finite`: a device bool; no host read unless a refit other than every-step needs its
  // statistics back (those staged the gradients through the host already).
  void restore_unless(const at::Tensor& finite) {
    // On the host the check is free and a finite step (nearly every one) puts nothing back; on a
    // device `where` keeps it there, with no host read.
    if (finite.device().is_cpu() && finite.item<bool>()) return;
    bool need_statistics = false;
    for (Kept& k : kept_) {
      const std::vector<std::string> known = k.owner->names();
      if (std::find(known.begin(), known.end(), k.name) == known.end()) continue;  // it failed
      at::Tensor memory = k.owner->memory(k.name);
      const at::Tensor before = k.before.defined() ? k.before : at::zeros_like(memory);
      memory.copy_(at::where(finite, memory, before));
      need_statistics = need_statistics || k.owner->options().refit != Refit::every_step;
    }
    if (need_statistics && !finite.item<bool>())
      for (Kept& k : kept_)
        if (k.owner->options().refit != Refit::every_step) {
          const std::vector<std::string> known = k.owner->names();
          if (std::find(known.begin(), known.end(), k.name) != known.end())
            k.owner->restore_statistics(k.name);
        }
  }

 private:
  struct Kept {
    Compressor* owner;
    std::string name;
    at::Tensor before;  // undefined: the name was new (zero memory)
  };
  std::vector<Kept> kept_;
};

// Stage 1's announcement, [kind, entries, length of shard 0's packet, …], on the bucket's device
// without a host read: a CUDA packet is a worst-case-sized buffer whose header holds its length.
at::Tensor announce(int64_t kind, int64_t entries, const std::vector<at::Tensor>& payloads,
                    c10::Device device) {
  const int world = static_cast<int>(payloads.size());
  std::vector<int64_t> host(2 + world, 0);
  host[0] = kind;
  host[1] = entries;
  for (int s = 0; s < world; ++s)
    if (payloads[s].defined() && !payloads[s].is_cuda()) host[2 + s] = payloads[s].numel();
  at::Tensor head = at::tensor(host, at::kLong).to(device);
  for (int s = 0; s < world; ++s)
    if (payloads[s].defined() && payloads[s].is_cuda())
      head.narrow(0, 2 + s, 1).copy_(payloads[s].narrow(0, 8, 8).view(at::kLong), true);
  return head;
}

at::Tensor message_bytes(const std::string& text, c10::Device device) {
  return at::tensor(at::ArrayRef<uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()),
                    at::kByte)
      .to(device);
}

// Every rank's failure message, when any rank announced one: one more all-gather (every rank
// reads the same announcements, so all take it), then the same Error on every rank.
[[noreturn]] void raise_failures(const Collectives& comm, const at::Tensor& heads,
                                 const std::string& mine, c10::Device device) {
  const int world = comm.world_size;
  const int64_t* h = heads.data_ptr<int64_t>();
  const int64_t width = heads.size(1);
  int64_t longest = 0;
  for (int r = 0; r < world; ++r)
    if (h[r * width] == kFailure) longest = std::max(longest, h[r * width + 2]);
  at::Tensor padded = at::zeros({longest}, at::TensorOptions(at::kByte).device(device));
  if (!mine.empty()) padded.narrow(0, 0, static_cast<int64_t>(mine.size())).copy_(message_bytes(mine, device));
  std::vector<at::Tensor> gathered;
  for (int r = 0; r < world; ++r) gathered.push_back(at::empty_like(padded));
  comm.all_gather(gathered, padded);
  std::string failures;
  for (int r = 0; r < world; ++r) {
    if (h[r * width] != kFailure) continue;
    const at::Tensor text = gathered[r].narrow(0, 0, h[r * width + 2]).cpu();
    failures += (failures.empty() ? "" : "; ") + rank_label(r) + " failed: " +
                std::string(reinterpret_cast<const char*>(text.data_ptr<uint8_t>()), text.numel());
  }
  fail(Errc::invalid_argument, "rsag: " + failures);
}

// Every rank checks every stage-1 announcement alike (so all raise or none does), before any
// size read off the network sizes an allocation: a known kind, the same entries as rank 0, and
// per shard a length within payload_bound of its entries (0 exactly for an empty shard).
void check_announcements(const at::Tensor& heads, const std::vector<int64_t>& bounds) {
  const int64_t world = heads.size(0), width = heads.size(1);
  const int64_t* h = heads.data_ptr<int64_t>();
  for (int64_t r = 0; r < world; ++r) {
    const int64_t* a = h + r * width;
    check(a[0] == kPacket || a[0] == kFailure, Errc::corrupt_packet, [&] {
      return "rsag: " + rank_label(static_cast<int>(r)) + " announced payload kind " +
             std::to_string(a[0]) + " (not a co3 peer?)";
    });
    check(a[1] == h[1], Errc::invalid_argument, [&] {
      return "rsag: " + rank_label(static_cast<int>(r)) + "'s bucket holds " + std::to_string(a[1]) +
             " entries, rank 0's " + std::to_string(h[1]) + " (the ranks' buckets differ)";
    });
    for (int64_t s = 0; s < world; ++s) {
      const int64_t n = bounds[s + 1] - bounds[s], len = a[2 + s];
      const int64_t bound = a[0] == kFailure ? (s == 0 ? payload_bound(0, 1) : 0)
                                             : (n == 0 ? 0 : payload_bound(n, 1));
      const int64_t least = a[0] == kPacket && n > 0 ? 1 : 0;  // a shard with entries has a packet
      check(len >= least && len <= bound, Errc::corrupt_packet, [&] {
        return "rsag: " + rank_label(static_cast<int>(r)) + " announced " + std::to_string(len) +
               " bytes for shard " + std::to_string(s) + ", beyond the bound of " +
               std::to_string(bound) + " for its " + std::to_string(n) + " entries";
      });
    }
  }
}

CommStats rsag(const Collectives& comm, Compressor& worker, Compressor& shard,
               const std::string& key, const at::Tensor& bucket, std::string failure) {
  const int world = comm.world_size, me = comm.rank;
  check(world >= 1 && me >= 0 && me < world, Errc::invalid_argument, [&] {
    return "rsag: rank " + std::to_string(me) + " of world size " + std::to_string(world);
  });
  check(bucket.defined(), Errc::invalid_argument, "rsag: no bucket");
  const c10::Device device = bucket.device();
  const at::TensorOptions bytes_opts = at::TensorOptions(at::kByte).device(device);
  const int64_t entries = bucket.numel();
  // The cut the last step left (shard_cut.h): even at a bucket's first step, then balanced.
  const int64_t unit = worker.options().config.chunk_symbols;
  const std::vector<int64_t> bounds = kept_cut(worker, key, entries, world, unit);
  const auto size_of = [&](int s) { return bounds[s + 1] - bounds[s]; };
  CommStats stats;
  stats.elements = entries;

  // 1. The worker codes each shard with error feedback: one packet per shard, in one step, all
  // at the scale of one GenNorm fit to the whole bucket's u (a fit per shard costs fp4 bits that
  // grow as the shards shrink with N: docs/DISTRIBUTED.md).
  MemoryGuard guard;
  std::vector<std::string> names;
  std::vector<at::Tensor> shards;
  std::vector<int> index;  // the shard each coded packet belongs to
  const at::Tensor flat = bucket.reshape({-1});
  for (int s = 0; s < world; ++s)
    if (size_of(s) > 0) {
      names.push_back(shard_name(key, s));
      shards.push_back(flat.narrow(0, bounds[s], size_of(s)));
      index.push_back(s);
      guard.add(worker, names.back());
    }
  if (size_of(me) > 0) guard.add(shard, key);
  std::vector<at::Tensor> packets(world);
  if (failure.empty()) {
    try {
      const std::vector<at::Tensor> coded = worker.compress_each(names, shards, /*one_fit=*/true);
      for (size_t i = 0; i < coded.size(); ++i) packets[index[i]] = coded[i];
    } catch (const std::exception& e) {
      failure = e.what();
    }
  }
  // 2. Announce, check alike everywhere, and send shard s's packets to rank s.
  const int64_t kind = failure.empty() ? kPacket : kFailure;
  std::vector<at::Tensor> payloads = packets;
  if (kind == kFailure) {
    payloads.assign(world, at::Tensor());
    payloads[0] = message_bytes(failure, at::kCPU);  // its length is known on the host
  }
  at::Tensor head = announce(kind, entries, payloads, device);
  std::vector<at::Tensor> heads;
  for (int r = 0; r < world; ++r) heads.push_back(at::empty_like(head));
  comm.all_gather(heads, head);
  const at::Tensor announced = at::stack(heads).cpu();  // host read 1: sizes the all-to-all
  check_announcements(announced, bounds);
  const int64_t width = announced.size(1);
  const int64_t* h = announced.data_ptr<int64_t>();
  bool any_failed = false;
  for (int r = 0; r < world; ++r) any_failed = any_failed || h[r * width] == kFailure;
  if (any_failed) raise_failures(comm, announced, failure, device);
  const auto length = [&](int from, int of_shard) { return h[from * width + 2 + of_shard]; };
  // Each packet travels in an 8-byte slot (slot_bytes), aligned for the CUDA decoder.
  std::vector<int64_t> send_splits(world), receive_splits(world);
  int64_t total = 0;
  for (int r = 0; r < world; ++r) {
    send_splits[r] = slot_bytes(length(me, r));
    receive_splits[r] = slot_bytes(length(r, me));
    for (int s = 0; s < world; ++s) total += length(r, s);
  }
  const int64_t head_bytes = 8 * width;
  stats.sent_bytes = (world - 1) * head_bytes;
  stats.received_bytes = (world - 1) * head_bytes;
  for (int r = 0; r < world; ++r) {
    stats.packet_bytes += length(me, r);
    if (r == me) continue;
    stats.sent_bytes += send_splits[r];
    stats.received_bytes += receive_splits[r];
  }
  std::vector<at::Tensor> mine(world);  // rank r's packet of my shard
  if (total > 0) {  // every rank reads the same matrix: all join the all-to-all or none
    at::Tensor send = at::zeros({std::accumulate(send_splits.begin(), send_splits.end(), int64_t{0})},
                                bytes_opts);
    int64_t offset = 0;
    for (int s = 0; s < world; ++s) {
      if (length(me, s) > 0) send.narrow(0, offset, length(me, s)).copy_(packets[s].narrow(0, 0, length(me, s)));
      offset += send_splits[s];
    }
    at::Tensor receive = at::empty({std::accumulate(receive_splits.begin(), receive_splits.end(), int64_t{0})},
                                   bytes_opts);
    comm.all_to_all(receive, send, receive_splits, send_splits);
    offset = 0;
    for (int r = 0; r < world; ++r) {
      mine[r] = receive.narrow(0, offset, length(r, me));
      offset += receive_splits[r];
    }
  }

  // 3. My shard: the sum of its N decoded packets in rank order (float32), coded again with the
  // shard compressor's own error feedback. A failure here travels through stage 4's exchange.
  at::Tensor summed = at::empty({0}, bytes_opts);
  std::string stage2_failure;
  if (size_of(me) > 0) {
    try {
      at::Tensor sum = at::zeros({size_of(me)}, bucket.options().dtype(at::kFloat));
      std::vector<std::string> labels;
      for (int r = 0; r < world; ++r)
        labels.push_back(rank_label(r) + "'s packet of shard " + std::to_string(me));
      worker.codec().decode_accumulate(mine, {sum}, labels);  // host read 2 (CUDA)
      summed = shard.compress({key}, {sum});
    } catch (const std::exception& e) {
      stage2_failure = e.what();
    }
  }

  // 4. Every summed shard to every rank; all decode the same N packets into the bucket.
  std::vector<int64_t> expected(world);
  for (int s = 0; s < world; ++s) expected[s] = size_of(s);
  CommStats gathered_stats;
  const std::vector<at::Tensor> summed_all =
      exchange_payloads(comm.all_gather, world, summed, stage2_failure, device, size_of(me), 1,
                        expected, &gathered_stats, &comm.all_to_all, me);  // host reads 3 (and the length, CUDA)
  stats.packet_bytes += gathered_stats.packet_bytes;
  stats.summed_packet_bytes = gathered_stats.packet_bytes;
  stats.summed_elements = size_of(me);
  stats.sent_bytes += gathered_stats.sent_bytes;
  stats.received_bytes += gathered_stats.received_bytes;
  stats.contributed_bytes = stats.sent_bytes;
  at::Tensor average = at::zeros({entries}, bucket.options().dtype(at::kFloat));
  std::vector<at::Tensor> to_decode;
  std::vector<std::vector<at::Tensor>> outputs;
  std::vector<std::string> labels;
  for (int s = 0; s < world; ++s)
    if (size_of(s) > 0) {
      to_decode.push_back(summed_all[s]);
      outputs.push_back({average.narrow(0, bounds[s], size_of(s))});
      labels.push_back("rsag: " + rank_label(s) + "'s summed shard");
    }
  shard.codec().decode_each(to_decode, outputs, labels);  // host read 4 (CUDA)
  const at::Tensor finite = all_finite(average);
  guard.restore_unless(finite);
  // 5. The next step's cut, from the summed shards' lengths every rank has read alike. A skipped
  // step (not finite: one host read on CUDA, only when the cut would move) keeps its cut.
  std::vector<int64_t> summed_bytes(world, 0);
  for (int s = 0; s < world; ++s) summed_bytes[s] = summed_all[s].numel();
  const std::vector<int64_t> next = balanced_cut(bounds, summed_bytes, unit);
  if (next != bounds && finite.item<bool>()) {
    move_memories(worker, shard, key, bounds, next, me);
    stats.recut = 1;
  }
  bucket.copy_(average.div_(world).view(bucket.sizes()));
  return stats;
}

}  // namespace

AllToAll all_to_all_of(c10d::ProcessGroup& pg) { return all_to_all_impl(pg); }
AllToAll all_to_all_of(c10d::Backend& backend) { return all_to_all_impl(backend); }

const char* to_string(Algorithm a) { return a == Algorithm::rsag ? "rsag" : "allgather"; }

Algorithm parse_algorithm(const std::string& s) {
  for (Algorithm a : {Algorithm::allgather, Algorithm::rsag})
    if (s == to_string(a)) return a;
  fail(Errc::invalid_argument, "algorithm '" + s + "' unknown (allgather or rsag)");
}

Algorithm choose_algorithm(int world_size, int64_t entries, int64_t chunk_symbols) {
  return world_size >= 3 && entries >= world_size * std::max<int64_t>(chunk_symbols, 1)
             ? Algorithm::rsag
             : Algorithm::allgather;
}

CommStats rsag_allreduce(const Collectives& comm, Compressor& worker, Compressor& shard,
                         const std::string& key, const at::Tensor& bucket) {
  return rsag(comm, worker, shard, key, bucket, "");
}

CommStats compressed_allreduce_with(const Collectives& comm, Compressor& compressor,
                                    const std::vector<std::string>& names,
                                    const std::vector<at::Tensor>& grads, Algorithm algorithm,
                                    Compressor* shard) {
  if (algorithm == Algorithm::allgather)
    return compressed_allreduce(comm.all_gather, comm.world_size, compressor, names, grads);
  check(shard != nullptr, Errc::invalid_argument,
        "compressed_allreduce: rsag needs a shard compressor (the summed shards' error memory)");
  check(!grads.empty() && grads[0].defined() && names.size() == grads.size(), Errc::invalid_argument,
        "compressed_allreduce: no gradients, or not one name per gradient");
  // The gradients as one bucket (their float32 concatenation). A gradient co3 cannot code still
  // takes part in every collective, as a message, so no peer waits.
  std::string failure, key;
  std::vector<at::Tensor> flat;
  for (size_t i = 0; i < grads.size(); ++i) {
    key += (i ? "," : "") + names[i];
    try {
      dtype_of(grads[i], tensor_label(i, names[i]));
      check(grads[i].device() == grads[0].device(), Errc::invalid_argument,
            [&] { return tensor_label(i, names[i]) + ": on another device than tensor 0"; });
      flat.push_back(grads[i].reshape({-1}).to(at::kFloat));
    } catch (const std::exception& e) {
      if (failure.empty()) failure = e.what();
      flat.push_back(at::zeros({grads[i].numel()}, grads[0].options().dtype(at::kFloat)));
    }
  }
  at::Tensor bucket = flat.size() == 1 ? flat[0] : at::cat(flat);
  const CommStats stats = rsag(comm, compressor, *shard, key, bucket, failure);
  int64_t offset = 0;
  for (const at::Tensor& g : grads) {
    const at::Tensor part = bucket.narrow(0, offset, g.numel());
    if (!part.is_alias_of(g)) g.copy_(part.view(g.sizes()));  // one float32 gradient is the bucket
    offset += g.numel();
  }
  return stats;
}

}  // namespace co3
