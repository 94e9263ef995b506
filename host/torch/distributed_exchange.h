// The pieces of the packet exchange that compressed_allreduce (allgather) and rsag_allreduce
// share (host/torch/distributed*.cpp only).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "co3/torch/distributed.h"

namespace co3 {

// What each rank announces before its payload (docs/DISTRIBUTED.md): whether it has a packet or
// an error message, the payload's length, and the entries and tensors it codes. Every rank checks
// every announcement alike, so all of them take the same branch: they all send the payloads, or
// all raise before any collective is left half joined.
enum : int64_t { kPacket = 0, kFailure = 1 };

// A size no co3 packet of `entries` entries in `tensors` tensors reaches: codes of at most 24
// bits and chunk-table entries of 4 bytes per 32 symbols stay under 4 bytes an entry; a code
// table and a descriptor stay under 1 MiB a tensor. Checked before anything is allocated.
int64_t payload_bound(int64_t entries, int64_t tensors);

std::string rank_label(int r);  // "rank r"

// The bytes a payload of `len` bytes takes in an all-to-all: rounded up to 8, so that every
// packet in the receive buffer starts 8-byte aligned (the CUDA decoder requires it).
inline int64_t slot_bytes(int64_t len) { return (len + 7) / 8 * 8; }

// exchange_packets, where rank r must announce expected[r] entries in `tensors` tensors (the
// summed shards of rsag, of different sizes) or, with `expected` empty, the same as rank 0. A
// defined empty `packet` (an empty shard) is sent as zero bytes. With `exact` (and this
// `rank`), the payloads travel at their own lengths through that all-to-all instead of an
// all-gather padded to the largest (rsag's summed shards differ in size by tens of per cent,
// layer by layer).
std::vector<at::Tensor> exchange_payloads(const AllGather& all_gather, int world_size,
                                          const at::Tensor& packet, const std::string& failure,
                                          c10::Device device, int64_t entries, int64_t tensors,
                                          const std::vector<int64_t>& expected, CommStats* stats,
                                          const AllToAll* exact = nullptr, int rank = -1);

}  // namespace co3
