#include "io/pt_reader.h"

#include "co3/error.h"

#include <cstring>
#include <vector>

#include <algorithm>

// The narrowest headers for reading a torch.save archive (torch/serialize.h pulls in torch::nn).
#include <caffe2/serialize/inline_container.h>
#include <caffe2/serialize/read_adapter_interface.h>
#include <torch/csrc/jit/serialization/import_read.h>

namespace co3::io {
namespace {

// torch.save(x) stores x itself; a dict, list or tuple qualifies when exactly one of its
// values is a tensor (e.g. {'grad': g, 'step': 120}).
std::vector<at::Tensor> top_level_tensors(const c10::IValue& v) {
  std::vector<at::Tensor> found;
  const auto take = [&found](const c10::IValue& e) {
    if (e.isTensor()) found.push_back(e.toTensor());
  };
  if (v.isTensor()) {
    take(v);
  } else if (v.isGenericDict()) {
    for (const auto& entry : v.toGenericDict()) take(entry.value());
  } else if (v.isList()) {
    for (const auto& e : v.toListRef()) take(e);
  } else if (v.isTuple()) {
    for (const auto& e : v.toTupleRef().elements()) take(e);
  }
  return found;
}

// The archive's bytes for LibTorch's zip reader, with every read clipped to the buffer.
// torch::jit::pickle_load's own reader copies whatever range the zip directory names: a hostile
// file whose central directory points past its end made it read out of bounds (found by
// fuzz_pt; tests/fuzz/regressions/pt/). A short read here makes miniz report an error instead.
class BoundedReader : public caffe2::serialize::ReadAdapterInterface {
 public:
  BoundedReader(const char* data, size_t size) : data_(data), size_(size) {}
  size_t size() const override { return size_; }
  size_t read(uint64_t pos, void* buf, size_t n, const char* /*what*/) const override {
    if (pos >= size_) return 0;
    n = std::min<uint64_t>(n, size_ - pos);
    std::memcpy(buf, data_ + pos, n);
    return n;
  }

 private:
  const char* data_;
  size_t size_;
};

// What pickle_load does, over the bounded reader.
c10::IValue load_archive(const char* data, size_t size) {
  caffe2::serialize::PyTorchStreamReader reader(std::make_shared<BoundedReader>(data, size));
  return torch::jit::readArchiveAndTensors("data", /*pickle_prefix=*/"", /*tensor_prefix=*/"",
                                           /*type_resolver=*/std::nullopt,
                                           /*obj_loader=*/std::nullopt, /*device=*/std::nullopt,
                                           reader);
}

// c10 messages can span several lines; the CLI reports one.
std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

// A loaded tensor's sizes, strides and offset come from the file and LibTorch does not check
// them against its storage: a hostile file made the copy below read past the storage (found by
// fuzz_pt; tests/fuzz/regressions/pt/). Every element must lie inside the storage.
void check_inside_storage(const std::string& path, const at::Tensor& t) {
  if (t.numel() == 0) return;
  if (!t.has_storage()) fail(Errc::invalid_argument, path + ": tensor without storage");
  uint64_t last = static_cast<uint64_t>(t.storage_offset());
  bool ok = t.storage_offset() >= 0;
  for (int64_t d = 0; d < t.dim() && ok; ++d) {
    const int64_t size = t.size(d), stride = t.stride(d);
    ok = stride >= 0 && size >= 1 &&
         (stride == 0 || static_cast<uint64_t>(size - 1) <= (UINT64_MAX / 2 - last) / stride);
    if (ok) last += static_cast<uint64_t>(size - 1) * static_cast<uint64_t>(stride);
  }
  const uint64_t item = t.element_size(), bytes = t.storage().nbytes();
  if (!ok || last >= bytes / item)
    fail(Errc::invalid_argument,
         path + ": tensor of shape " + c10::str(t.sizes()) + " reaches past its storage of " +
             std::to_string(bytes) + " bytes (corrupt file)");
}

LoadedTensor flatten(const std::string& path, at::Tensor t) {
  if (t.layout() != at::kStrided) fail(Errc::invalid_argument, path + ": sparse tensor");
  check_inside_storage(path, t);
  if (!t.is_floating_point()) {
    fail(Errc::invalid_argument, path + ": tensor dtype " +
                                     std::string(c10::toString(t.scalar_type())) +
                                     " is not floating point");
  }
  LoadedTensor out;
  switch (t.scalar_type()) {
    case at::kFloat: out.dtype = DType::f32; break;
    case at::kHalf: out.dtype = DType::f16; break;
    case at::kBFloat16: out.dtype = DType::bf16; break;
    default:  // float64 and rarer floating types: float32 is precise enough for a gradient
      t = t.to(at::kFloat);
      out.dtype = DType::f32;
  }
  t = t.cpu().contiguous();
  out.numel = static_cast<uint64_t>(t.numel());
  out.bytes.resize(out.numel * dtype_size(out.dtype));
  if (!out.bytes.empty()) std::memcpy(out.bytes.data(), t.data_ptr(), out.bytes.size());
  return out;
}

}  // namespace

LoadedTensor parse_pt(const char* data, size_t size, const std::string& path) {
  std::vector<at::Tensor> tensors;
  try {
    tensors = top_level_tensors(load_archive(data, size));
  } catch (const c10::Error& e) {
    fail(Errc::invalid_argument, path + ": not a loadable torch.save file: " +
                                     first_line(e.what_without_backtrace()));
  } catch (const std::exception& e) {
    fail(Errc::invalid_argument,
         path + ": not a loadable torch.save file: " + first_line(e.what()));
  }
  if (tensors.size() != 1) {
    fail(Errc::invalid_argument, path + ": holds " + std::to_string(tensors.size()) +
                                     " tensors at the top level; co3 reads exactly one");
  }
  try {
    return flatten(path, tensors[0]);
  } catch (const c10::Error& e) {
    fail(Errc::invalid_argument, path + ": " + first_line(e.what_without_backtrace()));
  }
}

}  // namespace co3::io
