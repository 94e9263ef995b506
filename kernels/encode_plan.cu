// The GPU encoder's host side: the plan (checks, the job table, the workspace layout, the packet
// bound) and the launch sequence. Nothing here synchronizes except encode_sync, which says so.
#include <cstring>
#include <memory>
#include <string>

#include "co3/codec.h"
#include "co3/detail/encode_checks.h"
#include "co3/detail/encode_code.h"
#include "co3/detail/rate_target.h"
#include "co3/detail/trace.h"
#include "co3/detail/zero_blocks.h"
#include "co3/huffman.h"
#include "co3/kernels/encode.h"
#include "encode_plan.h"

namespace co3::kernels {

using enc::EncodeParams;
using enc::SegmentJob;
using enc::TableJob;

struct EncodePlanData {
  EncodeParams params{};
  std::vector<uint8_t> job_bytes;  // SegmentJob[n], TableJob[T], members, dims: the upload
  size_t workspace = 0;
  uint64_t max_packet = 0;
};

namespace {

// Carves a workspace: each region 256-byte aligned, placed at a running offset.
class Carver {
 public:
  template <class T>
  size_t take(uint64_t count) {
    const size_t at = size_;
    size_ = (size_ + sizeof(T) * count + 255) & ~size_t{255};
    return at;
  }
  size_t size() const { return size_; }

 private:
  size_t size_ = 0;
};

// Workspace offsets of every region, in the order of EncodeParams' pointers.
struct Offsets {
  size_t jobs, tables, members, dims, seg, tab, tile_moments, fold, first_bad, symbols, hist,
      lengths, rev, bodies, weights, mix, pmf, scratch, zero_maps, chunk_words, chunk_offsets, crc,
      crc_bytes;
};

}  // namespace

EncodePlan::EncodePlan(const std::vector<EncodeInput>& inputs, const CodecConfig& cfg,
                       const PriorCode* prior)
    : data_(new EncodePlanData) {
  using namespace detail;
  std::unique_ptr<EncodePlanData> guard(data_);
  validate(cfg);
  check(inputs.size() <= kMaxSegments, Errc::invalid_argument,
        "more than 2^24 tensors in one packet");
  size_t non_empty = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    check_encode_input(inputs[i], i);
    non_empty += inputs[i].grad.numel != 0;
    const DType d = inputs[i].grad.dtype;
    check(d == DType::f32 || d == DType::f16 || d == DType::bf16, Errc::invalid_argument,
          tensor_label(i) + ": unknown dtype");
    check(reinterpret_cast<uintptr_t>(inputs[i].grad.data) % dtype_size(d) == 0 &&
              reinterpret_cast<uintptr_t>(inputs[i].memory) % 4 == 0,
          Errc::invalid_argument,
          tensor_label(i) + ": device data or memory not aligned to its element size");
  }
  check(cfg.shared_code || non_empty <= 65535, Errc::invalid_argument,
        "more than 65535 non-empty tensors in one packet without shared_code");
  if (prior) check_prior_code(*prior, packet_coding(cfg), cfg.shared_code, non_empty);

  EncodeParams& p = data_->params;
  p.pc = packet_coding(cfg);
  p.scale_policy = cfg.scale.policy;
  p.scale_value = cfg.scale.value;
  p.rate_payload_bits = rate_policy_payload(inputs, cfg);
  p.non_finite = cfg.non_finite;
  p.seed = cfg.seed;
  p.given_code = prior != nullptr;
  bool any_memory = false;
  for (const EncodeInput& in : inputs) any_memory = any_memory || (in.memory && in.grad.numel);
  p.defer_memory = any_memory && !p.given_code && code_may_fail(p.pc);
  if (cfg.scale.policy == ScalePolicy::gennorm || cfg.scale.policy == ScalePolicy::rate)
    p.scale_table = scale_table(cfg.format, cfg.rounding);
  p.num_segments = static_cast<uint32_t>(inputs.size());
  p.alphabet = 1u << p.pc.symbol_bits();
  p.body_capacity = static_cast<uint32_t>(align8(code_table_body_bound(p.alphabet)));
  const int L = p.pc.max_code_length;
  const uint64_t C = p.pc.chunk_symbols;

  // The job table and the packet bound.
  std::vector<SegmentJob> jobs(inputs.size());
  std::vector<TableJob> tables;
  std::vector<uint32_t> members;
  std::vector<int64_t> dims;
  for (const EncodeInput& in : inputs) p.with_shapes = p.with_shapes || in.shape.has_value();
  uint64_t shape_at = kHeaderBytes + kDescriptorBytes * inputs.size();
  if (cfg.shared_code && non_empty) tables.push_back({0, 0, 0});
  for (size_t i = 0; i < inputs.size(); ++i) {
    const EncodeInput& in = inputs[i];
    SegmentJob& j = jobs[i];
    j.grad = in.grad.data;
    j.memory = in.memory;
    j.numel = in.grad.numel;
    j.gamma = in.gamma;
    j.dtype = in.grad.dtype;
    j.has_fit = in.fit.has_value();
    j.fit_beta = in.fit ? in.fit->beta : 0.0;
    j.fit_alpha = in.fit ? in.fit->alpha : 0.0;
    j.first_tile = p.total_tiles;
    j.num_tiles = (j.numel + kTileEntries - 1) / kTileEntries;
    p.total_tiles += j.num_tiles;
    j.first_symbol = i ? jobs[i - 1].first_symbol + jobs[i - 1].num_symbols : 0;
    j.num_symbols = p.pc.num_symbols(j.numel);
    j.first_symtile = p.total_symtiles;
    j.num_symtiles = (j.num_symbols + enc::kSymbolTile - 1) / enc::kSymbolTile;
    p.total_symtiles += j.num_symtiles;
    j.first_chunk = p.total_chunks;
    j.num_chunks = p.pc.num_chunks(j.numel);
    p.total_chunks += j.num_chunks;
    j.first_map_byte = p.total_map_bytes;
    j.num_map_bytes = zero_map_bytes(p.pc, j.numel, p.pc.zero_block_log2);
    p.total_map_bytes += j.num_map_bytes;
    j.table = kNoTable;
    if (j.numel) {
      if (!cfg.shared_code) tables.push_back({members.size(), 0, 0});
      j.table = static_cast<uint32_t>(tables.size() - 1);
      TableJob& t = tables.back();
      members.push_back(static_cast<uint32_t>(i));
      ++t.num_members;
      t.total_numel += j.numel;
    }
    j.shape_offset = shape_at;
    j.first_dim = dims.size();
    if (p.with_shapes) {
      if (in.shape)
        dims.insert(dims.end(), in.shape->begin(), in.shape->end());
      else
        dims.push_back(static_cast<int64_t>(j.numel));
      j.ndim = dims.size() - j.first_dim;
      shape_at += shape_record_bytes(j.ndim);
    }
  }
  p.num_tables = static_cast<uint32_t>(tables.size());
  p.shape_section_bytes = shape_at - kHeaderBytes - kDescriptorBytes * inputs.size();
  // The bound the CPU side gives too (host/codec/packet_bound.cpp): callers size buffers by it.
  data_->max_packet = co3::max_packet_bytes(inputs, cfg);
  p.crc_blocks =
      (data_->max_packet + enc::kCrcPiece * enc::kThreads - 1) / (enc::kCrcPiece * enc::kThreads);
  p.code_slots =
      p.given_code ? 0 : (p.num_tables < enc::kCodeSlots ? p.num_tables : enc::kCodeSlots);
  p.pm_scratch_bytes = align8(package_merge_scratch_bytes(p.alphabet, L));
  const uint64_t chunk_max_words = (C * L + 31) / 32;
  p.pack_shared_words =
      chunk_max_words <= enc::kPackSharedWords ? static_cast<uint32_t>(chunk_max_words) : 0;

  // The workspace layout.
  Carver c;
  Offsets o;
  o.jobs = c.take<SegmentJob>(jobs.size());
  o.tables = c.take<TableJob>(tables.size());
  o.members = c.take<uint32_t>(members.size());
  o.dims = c.take<int64_t>(dims.size());
  // The code tables: built on the device, or given (uploaded with the job table).
  const auto take_tables = [&] {
    o.tab = c.take<enc::TableResult>(tables.size());
    o.lengths = c.take<uint8_t>(uint64_t{p.num_tables} * p.alphabet);
    o.rev = c.take<uint32_t>(uint64_t{p.num_tables} * p.alphabet);
    o.bodies = c.take<uint8_t>(uint64_t{p.num_tables} * p.body_capacity);
  };
  if (p.given_code) take_tables();
  const size_t upload_bytes = c.size();
  if (!p.given_code) take_tables();
  o.seg = c.take<enc::SegmentResult>(inputs.size());
  o.tile_moments = c.take<Moments>(p.total_tiles);
  o.fold = c.take<Moments>(p.total_tiles);
  o.first_bad = c.take<uint32_t>(1);
  p.byte_symbols = p.pc.symbol_bits() <= 8;
  o.symbols =
      c.take<uint16_t>(jobs.empty() ? 0 : jobs.back().first_symbol + jobs.back().num_symbols);
  o.hist = c.take<unsigned long long>(p.given_code ? 0 : uint64_t{p.num_tables} * p.alphabet);
  o.weights = c.take<unsigned long long>(uint64_t{p.code_slots} * p.alphabet);
  o.mix = c.take<double>(uint64_t{p.code_slots} * p.alphabet);
  o.pmf = c.take<double>(uint64_t{p.code_slots} << p.pc.format.width());
  o.scratch = c.take<uint8_t>(p.code_slots * p.pm_scratch_bytes);
  o.zero_maps = c.take<uint8_t>(p.total_map_bytes);
  o.chunk_words = c.take<unsigned long long>(p.total_chunks + 1);
  o.chunk_offsets = c.take<unsigned long long>(p.total_chunks + 1);
  o.crc = c.take<uint32_t>(p.crc_blocks);
  o.crc_bytes = c.take<unsigned long long>(p.crc_blocks);
  data_->workspace = c.size();

  // The upload: the job table's bytes at the workspace's start.
  data_->job_bytes.assign(upload_bytes, 0);
  auto put = [&](size_t off, const void* src, size_t bytes) {
    if (bytes) std::memcpy(data_->job_bytes.data() + off, src, bytes);
  };
  put(o.jobs, jobs.data(), jobs.size() * sizeof(SegmentJob));
  put(o.tables, tables.data(), tables.size() * sizeof(TableJob));
  put(o.members, members.data(), members.size() * sizeof(uint32_t));
  put(o.dims, dims.data(), dims.size() * sizeof(int64_t));
  if (p.given_code) {
    for (uint32_t t = 0; t < p.num_tables; ++t) {
      const std::vector<uint8_t>& len = prior->tables[t];
      uint8_t* const base = data_->job_bytes.data();
      std::memcpy(base + o.lengths + uint64_t{t} * p.alphabet, len.data(), p.alphabet);
      encode_table(len.data(), p.alphabet,
                   reinterpret_cast<uint32_t*>(base + o.rev) + uint64_t{t} * p.alphabet);
      enc::TableResult r{};
      r.body_bytes = write_code_table_body(len.data(), p.alphabet,
                                           base + o.bodies + uint64_t{t} * p.body_capacity);
      put(o.tab + t * sizeof(r), &r, sizeof(r));
    }
  }
  // Pointers are stored as offsets here and rebased in encode_async (the workspace's address is
  // known only then).
  static_assert(sizeof(Offsets) == 23 * sizeof(size_t), "Offsets lists every region");
  p.jobs = reinterpret_cast<const SegmentJob*>(o.jobs);
  p.tables = reinterpret_cast<const TableJob*>(o.tables);
  p.members = reinterpret_cast<const uint32_t*>(o.members);
  p.dims = reinterpret_cast<const int64_t*>(o.dims);
  p.seg = reinterpret_cast<enc::SegmentResult*>(o.seg);
  p.tab = reinterpret_cast<enc::TableResult*>(o.tab);
  p.tile_moments = reinterpret_cast<Moments*>(o.tile_moments);
  p.fold_buffer = reinterpret_cast<Moments*>(o.fold);
  p.first_bad = reinterpret_cast<uint32_t*>(o.first_bad);
  p.symbols = reinterpret_cast<void*>(o.symbols);
  p.hist = reinterpret_cast<unsigned long long*>(o.hist);
  p.lengths = reinterpret_cast<uint8_t*>(o.lengths);
  p.rev_codes = reinterpret_cast<uint32_t*>(o.rev);
  p.bodies = reinterpret_cast<uint8_t*>(o.bodies);
  p.slot_weights = reinterpret_cast<unsigned long long*>(o.weights);
  p.slot_mix = reinterpret_cast<double*>(o.mix);
  p.slot_pmf = reinterpret_cast<double*>(o.pmf);
  p.slot_scratch = reinterpret_cast<uint8_t*>(o.scratch);
  p.zero_maps = reinterpret_cast<uint8_t*>(o.zero_maps);
  p.chunk_words = reinterpret_cast<unsigned long long*>(o.chunk_words);
  p.chunk_offsets = reinterpret_cast<unsigned long long*>(o.chunk_offsets);
  p.crc_block_crc = reinterpret_cast<uint32_t*>(o.crc);
  p.crc_block_bytes = reinterpret_cast<unsigned long long*>(o.crc_bytes);
  guard.release();
}

EncodePlan::~EncodePlan() {
  delete data_;
}
EncodePlan::EncodePlan(EncodePlan&& o) noexcept : data_(o.data_) {
  o.data_ = nullptr;
}
EncodePlan& EncodePlan::operator=(EncodePlan&& o) noexcept {
  std::swap(data_, o.data_);
  return *this;
}

size_t EncodePlan::workspace_bytes() const {
  return data_->workspace;
}
uint64_t EncodePlan::max_packet_bytes() const {
  return data_->max_packet;
}

const std::vector<uint8_t>& EncodePlan::job_table() const { return data_->job_bytes; }

cudaError_t EncodePlan::upload(void* ws, cudaStream_t stream) const {
  if (data_->job_bytes.empty()) return cudaSuccess;
  return cudaMemcpyAsync(ws, data_->job_bytes.data(), data_->job_bytes.size(),
                         cudaMemcpyHostToDevice, stream);
}

namespace enc {
namespace {

template <class T>
void rebase(T*& ptr, void* base) {
  ptr = reinterpret_cast<T*>(static_cast<uint8_t*>(base) + reinterpret_cast<uintptr_t>(ptr));
}

}  // namespace

EncodeParams rebased(EncodeParams p, void* ws) {
  rebase(p.jobs, ws);
  rebase(p.tables, ws);
  rebase(p.members, ws);
  rebase(p.dims, ws);
  rebase(p.seg, ws);
  rebase(p.tab, ws);
  rebase(p.tile_moments, ws);
  rebase(p.fold_buffer, ws);
  rebase(p.first_bad, ws);
  rebase(p.symbols, ws);
  rebase(p.hist, ws);
  rebase(p.lengths, ws);
  rebase(p.rev_codes, ws);
  rebase(p.bodies, ws);
  rebase(p.slot_weights, ws);
  rebase(p.slot_mix, ws);
  rebase(p.slot_pmf, ws);
  rebase(p.slot_scratch, ws);
  rebase(p.zero_maps, ws);
  rebase(p.chunk_words, ws);
  rebase(p.chunk_offsets, ws);
  rebase(p.crc_block_crc, ws);
  rebase(p.crc_block_bytes, ws);
  return p;
}

const EncodeParams& plan_params(const EncodePlan& plan) {
  return plan.data().params;
}
const std::vector<uint8_t>& plan_upload_bytes(const EncodePlan& plan) {
  return plan.data().job_bytes;
}

}  // namespace enc

cudaError_t EncodePlan::encode_async(void* ws, uint8_t* packet, uint64_t* packet_bytes,
                                     DeviceStatus* status, cudaStream_t stream) const {
  using detail::TraceRange;
  if (reinterpret_cast<uintptr_t>(ws) % 256 || reinterpret_cast<uintptr_t>(packet) % 8)
    return cudaErrorInvalidValue;
  const EncodeParams p = enc::rebased(data_->params, ws);
  cudaError_t e;
  CO3_TRACE("co3::encode (gpu)");
  // Per-encode state: the status, the histograms, the scan's zero tail.
  if ((e = cudaMemsetAsync(status, 0, sizeof(DeviceStatus), stream))) return e;
  if (!p.given_code &&
      (e = cudaMemsetAsync(p.hist, 0, sizeof(unsigned long long) * p.num_tables * p.alphabet,
                           stream)))
    return e;
  if ((e = cudaMemsetAsync(p.chunk_words + p.total_chunks, 0, sizeof(unsigned long long), stream)))
    return e;
  {
    CO3_TRACE("moments");
    if ((e = enc::launch_moments(p, status, stream))) return e;
  }
  {
    CO3_TRACE("quantize");
    if ((e = enc::launch_quantize(p, stream))) return e;
  }
  if (p.pc.zero_block_log2) {
    CO3_TRACE("zero blocks");
    if ((e = enc::launch_zero_blocks(p, stream))) return e;
  }
  if (!p.given_code) {
    CO3_TRACE("codebook");
    if ((e = enc::launch_code(p, stream))) return e;
  }
  {
    CO3_TRACE("pack");
    if ((e = enc::launch_chunk_bits(p, stream))) return e;
    if ((e = enc::launch_layout(p, packet, packet_bytes, status, stream))) return e;
    if ((e = enc::launch_pack(p, packet, stream))) return e;
    if ((e = enc::launch_zero_maps(p, packet, stream))) return e;
    if ((e = enc::launch_class_maps(p, packet, stream))) return e;
  }
  if (p.defer_memory) {
    CO3_TRACE("memory");
    if ((e = enc::launch_memory(p, status, stream))) return e;
  }
  CO3_TRACE("crc");
  return enc::launch_crc(p, packet, packet_bytes, status, stream);
}

namespace {

// A CUDA failure in the convenience path: Error(io), as raise_status_sync reports one.
void cuda_check(cudaError_t e, const char* what) {
  if (e != cudaSuccess)
    fail(Errc::io, std::string("GPU encode: ") + what + ": " + cudaGetErrorString(e));
}

struct DeviceBuffer {
  void* ptr = nullptr;
  explicit DeviceBuffer(size_t bytes) {
    cuda_check(cudaMalloc(&ptr, bytes ? bytes : 1), "cudaMalloc");
  }
  ~DeviceBuffer() { cudaFree(ptr); }
};

}  // namespace

std::vector<uint8_t> encode_sync(const std::vector<EncodeInput>& inputs, const CodecConfig& cfg,
                                 cudaStream_t stream, const PriorCode* prior) {
  const EncodePlan plan(inputs, cfg, prior);
  DeviceBuffer ws(plan.workspace_bytes()), packet(plan.max_packet_bytes()),
      scalars(sizeof(uint64_t) + sizeof(DeviceStatus));
  uint64_t* d_bytes = static_cast<uint64_t*>(scalars.ptr);
  DeviceStatus* d_status = reinterpret_cast<DeviceStatus*>(d_bytes + 1);
  cuda_check(plan.upload(ws.ptr, stream), "upload");
  cuda_check(
      plan.encode_async(ws.ptr, static_cast<uint8_t*>(packet.ptr), d_bytes, d_status, stream),
      "encode_async");
  raise_status_sync(d_status, stream);
  uint64_t bytes = 0;
  cuda_check(cudaMemcpy(&bytes, d_bytes, sizeof bytes, cudaMemcpyDeviceToHost), "packet size");
  std::vector<uint8_t> out(bytes);
  cuda_check(cudaMemcpy(out.data(), packet.ptr, bytes, cudaMemcpyDeviceToHost), "packet");
  return out;
}

}  // namespace co3::kernels
