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
  int64_t packet_bytes = 0;        // this rank's packet (rsag: its shard packets and summed shard)
  int64_t contributed_bytes = 0;   // allgather: what this rank put into the all-gathers: 32 (its
                                   // announcement) + the padded packet; an all-gather delivers it
                                   // to W − 1 ranks. rsag: the same as sent_bytes
  int64_t sent_bytes = 0;          // bytes of this rank's that land in other ranks' outputs
  int64_t received_bytes = 0;      // the other ranks' bytes that reached this rank
  int64_t elements = 0;            // gradient entries this rank coded
  // rsag: this rank's summed-shard packet (stage 2, in packet_bytes too) and its entries, so that
  // a report can tell the two stages' bits an entry apart; 0 for allgather.
  int64_t summed_packet_bytes = 0;
  int64_t summed_elements = 0;
  int64_t recut = 0;  // rsag: 1 where this step moved the shard cut (balanced_cut), else 0
};

// How the ranks' packets meet (docs/DISTRIBUTED.md):
//   allgather  every rank all-gathers every rank's whole packet and decodes all N of them;
//   rsag       the bucket is cut into N shards, shard s's packets go to rank s (all-to-all),
//              rank s sums them, codes the sum again (its own error memory) and the summed
//              shards are all-gathered: per-rank bytes flat in N, about two decode passes.
enum class Algorithm : uint8_t { allgather = 0, rsag = 1 };
const char* to_string(Algorithm a);
Algorithm parse_algorithm(const std::string& s);  // allgather | rsag

// The rule behind algorithm="auto": rsag from 3 ranks on, where its bytes per rank,
// (N−1)/N·(b₁+b₂) against allgather's (N−1)·b₁ (bits an entry of each stage), are fewer (at 2
// ranks they are equal and rsag codes twice), and only for a bucket of at least N chunks, which
// gives every rank a shard. From byte counts; docs/DISTRIBUTED.md.
Algorithm choose_algorithm(int world_size, int64_t entries, int64_t chunk_symbols);

// Where the bucket of `entries` entries is cut into `world_size` shards: world_size + 1 offsets,
// on whole chunks of `chunk_symbols`, shard s holding chunks [s·C/N, (s+1)·C/N) of the C chunks
// (so a bucket of fewer chunks than ranks leaves some shards empty). The same on every rank.
std::vector<int64_t> shard_bounds(int64_t entries, int world_size, int64_t chunk_symbols);

// rsag's next cut, from this step's cut `bounds` and the bytes of each shard's summed packet:
// rank s sends its summed shard to N − 1 ranks, so the largest sets the busiest rank's bytes.
// Where the largest exceeds the mean by more than `tolerance` (a fraction), each shard's bytes
// are spread evenly over its entries and the new bound s sits where their running sum reaches
// s/N of the total, rounded to whole units of `unit` entries, every shard keeping at least one
// unit, if under that spread its largest shard holds less than the largest now by half the
// tolerance; otherwise, or for a bucket of fewer units than shards, `bounds` as it is. The same
// on every rank, which all have the same lengths (docs/DISTRIBUTED.md, "The shard cut"). The
// default tolerance is above a step's noise: on the Fashion-MNIST MLP's 4-rank bucket the
// summed packets moved by up to 20 % from step to step, and a cut that followed them (at 0.10)
// sent 6 % more bytes; the ResNet-18 buckets' layers differ by 2×.
std::vector<int64_t> balanced_cut(const std::vector<int64_t>& bounds,
                                  const std::vector<int64_t>& bytes, int64_t unit,
                                  double tolerance = 0.25);

// An all-gather of one tensor per rank into `outputs` (world-size tensors), blocking.
using AllGather = std::function<void(std::vector<at::Tensor>& outputs, at::Tensor& input)>;
AllGather all_gather_of(c10d::ProcessGroup& pg);
AllGather all_gather_of(c10d::Backend& backend);  // e.g. a c10d::ProcessGroupGloo

// An all-to-all of bytes, blocking: input's first input_splits[0] bytes to rank 0, … ; output
// receives output_splits[r] bytes from rank r, in rank order.
using AllToAll = std::function<void(at::Tensor& output, at::Tensor& input,
                                    const std::vector<int64_t>& output_splits,
                                    const std::vector<int64_t>& input_splits)>;
AllToAll all_to_all_of(c10d::ProcessGroup& pg);
AllToAll all_to_all_of(c10d::Backend& backend);

struct Collectives {
  AllGather all_gather;
  AllToAll all_to_all;
  int world_size = 1;
  int rank = 0;
};
template <class Group>
Collectives collectives_of(Group& group) {
  return {all_gather_of(group), all_to_all_of(group), group.getSize(), group.getRank()};
}

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

// The reduce-scatter + all-gather of shard packets (Algorithm::rsag; docs/DISTRIBUTED.md),
// averaging `bucket` (one tensor, any shape, float32/16 or bfloat16) over the ranks in place:
//  1. `worker` codes the N shards of the bucket, one packet each, with error feedback keyed
//     "<key>#<s>" (together, the memory of the whole bucket), at the cut those memories hold:
//     shard_bounds on its chunk size at the bucket's first step, then balanced_cut's;
//  2. every rank all-gathers [kind, entries, N packet lengths] (host read 1), checks every
//     length against payload_bound of its shard before allocating, and the packets of shard s
//     go to rank s in one all-to-all of the exact lengths;
//  3. rank s decode-accumulates its N packets in rank order (float32; host read 2 on CUDA) and
//     `shard` (its own γ and format, memory keyed `key`) codes the sum;
//  4. the summed-shard packets are exchanged (announcements, host read 3; each payload at its
//     own length through an all-to-all) and every rank, the owner too, decodes all N into the
//     bucket (host read 4) and divides by N: the same bits on every rank;
//  5. where the summed packets' lengths are unbalanced (balanced_cut), every rank moves the cut
//     for the next step alike and the memories with it (CommStats::recut; docs/DISTRIBUTED.md,
//     "The shard cut"); a non-finite step keeps its cut.
// A failure on any rank (coding, a corrupt packet) travels as a message through the next
// collective and every rank throws the same Error naming it. A non-finite average puts back
// every rank's worker and shard memories (and the refits' statistics) as they were.
CommStats rsag_allreduce(const Collectives& comm, Compressor& worker, Compressor& shard,
                         const std::string& key, const at::Tensor& bucket);

// compressed_allreduce by `algorithm`: rsag codes the gradients as one bucket (their float32
// concatenation) keyed by their names joined with ','; `shard` is then required.
CommStats compressed_allreduce_with(const Collectives& comm, Compressor& compressor,
                                    const std::vector<std::string>& names,
                                    const std::vector<at::Tensor>& grads, Algorithm algorithm,
                                    Compressor* shard = nullptr);
template <class Group>
CommStats compressed_allreduce(Group& group, Compressor& compressor,
                               const std::vector<std::string>& names,
                               const std::vector<at::Tensor>& grads, Algorithm algorithm,
                               Compressor* shard = nullptr) {
  return compressed_allreduce_with(collectives_of(group), compressor, names, grads, algorithm, shard);
}

}  // namespace co3
