#include "co3/torch/tensor.h"

#include <ATen/ATen.h>
#include <c10/core/ScalarType.h>

#include <cstdlib>
#include <cstring>

#include "co3/error.h"

namespace co3 {

DType dtype_of(const at::Tensor& t, const std::string& what) {
  check(t.defined(), Errc::invalid_argument, [&] { return what + ": undefined tensor"; });
  switch (t.scalar_type()) {
    case at::kFloat: return DType::f32;
    case at::kHalf: return DType::f16;
    case at::kBFloat16: return DType::bf16;
    default: break;
  }
  fail(Errc::invalid_argument, what + ": dtype " + std::string(c10::toString(t.scalar_type())) +
                                   " unsupported (co3 codes float32, float16 and bfloat16)");
}

at::ScalarType scalar_type_of(DType d) {
  switch (d) {
    case DType::f32: return at::kFloat;
    case DType::f16: return at::kHalf;
    case DType::bf16: return at::kBFloat16;
  }
  fail(Errc::invalid_argument, "unknown co3 dtype " + std::to_string(static_cast<int>(d)));
}

TensorView cpu_view(const at::Tensor& t, const std::string& what) {
  TensorView v;
  v.dtype = dtype_of(t, what);
  check(t.device().is_cpu(), Errc::invalid_argument,
        [&] { return what + ": on " + t.device().str() + ", a CPU tensor was expected"; });
  check(t.is_contiguous(), Errc::invalid_argument, [&] { return what + ": not contiguous"; });
  v.data = t.data_ptr();
  v.numel = static_cast<uint64_t>(t.numel());
  return v;
}

std::string tensor_label(size_t index, const std::string& name) {
  std::string s = "tensor " + std::to_string(index);
  return name.empty() ? s : s + " ('" + name + "')";
}

at::Tensor host_contiguous(const at::Tensor& t) {
  return t.device().is_cpu() ? t.contiguous() : t.to(at::kCPU).contiguous();
}

at::Tensor all_finite(const at::Tensor& t) {
  if (t.numel() == 0) return at::ones({}, at::TensorOptions(at::kBool).device(t.device()));
  const auto [smallest, largest] = at::aminmax(t);
  return at::isfinite(smallest).logical_and(at::isfinite(largest));
}

[[noreturn]] void rethrow_named(const Error& e, const std::vector<std::string>& names) {
  std::string what = e.what();
  if (what.rfind("tensor ", 0) == 0) {
    const size_t colon = what.find(':');
    const std::string index = what.substr(7, colon == std::string::npos ? 0 : colon - 7);
    char* end = nullptr;
    const unsigned long i = std::strtoul(index.c_str(), &end, 10);
    if (!index.empty() && end && *end == '\0' && i < names.size() && !names[i].empty())
      what = tensor_label(i, names[i]) + what.substr(colon);
  }
  throw Error(e.code(), what);
}

at::Tensor packet_tensor(const std::vector<uint8_t>& bytes, c10::Device device) {
  at::Tensor packet = at::empty({static_cast<int64_t>(bytes.size())}, at::kByte);
  std::memcpy(packet.data_ptr(), bytes.data(), bytes.size());
  return device.is_cpu() ? packet : packet.to(device);
}

}  // namespace co3
