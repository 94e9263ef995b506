#include "io/pt_reader.h"

#include "co3/error.h"

#ifdef CO3_HAVE_TORCH

#include <cstring>
#include <vector>

// The narrowest header declaring pickle_load (torch/serialize.h pulls in torch::nn).
#include <torch/csrc/jit/serialization/pickle.h>

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

// c10 messages can span several lines; the CLI reports one.
std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

LoadedTensor flatten(const std::string& path, at::Tensor t) {
  if (t.layout() != at::kStrided) fail(Errc::invalid_argument, path + ": sparse tensor");
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

LoadedTensor load_pt_file(const std::string& path) {
  std::vector<char> file;
  read_file(path, file);
  std::vector<at::Tensor> tensors;
  try {
    tensors = top_level_tensors(torch::jit::pickle_load(file));
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

#else  // !CO3_HAVE_TORCH

namespace co3::io {

LoadedTensor load_pt_file(const std::string& path) {
  fail(Errc::invalid_argument,
       path + ": .pt input needs LibTorch, but co3 was built without LibTorch "
              "(CO3_WITH_TORCH=OFF); convert the tensor to .npy or .f32");
}

}  // namespace co3::io

#endif
