#include "train/compressor.h"

#include "co3/error.h"
#include "train/compressor_impl.h"

namespace co3::train {

FloatFormat parse_train_format(const std::string& name) {
  // "eXmY" for any X, Y (e.g. e3m2) means the IEEE-biased E,M format.
  if (name.size() == 4 && name[0] == 'e' && name[2] == 'm' && name != "e5m2" && name != "e4m3")
    return parse_format(std::string(1, name[1]) + "," + name[3]);
  return parse_format(name);
}

CodecConfig co3_config(const MethodSpec& m, int threads) {
  CodecConfig c;
  c.format = parse_train_format(m.format);
  c.scale = parse_scale(m.scale);
  c.code = parse_code_source(m.code);
  c.shared_code = m.shared_code;
  c.entries_per_symbol = m.entries_per_symbol;
  c.zero_block = m.zero_block;
  c.threads = threads;
  validate(c);
  return c;
}

namespace {
std::vector<int64_t> numels_of(const std::vector<std::vector<int64_t>>& shapes) {
  std::vector<int64_t> out;
  for (const auto& s : shapes) {
    int64_t n = 1;
    for (int64_t d : s) n *= d;
    out.push_back(n);
  }
  return out;
}
}  // namespace

std::unique_ptr<GradientCompressor> make_compressor(const MethodSpec& m,
                                                    const std::vector<std::vector<int64_t>>& shapes,
                                                    int threads, at::Device device, uint64_t seed) {
  const std::vector<int64_t> numels = numels_of(shapes);
  if (m.kind == "fp32") return make_raw_compressor(at::kFloat);
  if (m.kind == "bf16") return make_raw_compressor(at::kBFloat16);
  if (m.kind == "co3") {
    const std::vector<int64_t> coded = m.flat ? std::vector<int64_t>{flat_numel(numels)} : numels;
    auto c = device.is_cuda() ? make_co3_device_compressor(co3_config(m, threads), m.gamma, coded, device)
                              : make_co3_compressor(co3_config(m, threads), m.gamma, coded);
    return m.flat ? flatten_compressor(std::move(c)) : std::move(c);
  }
  if (m.kind == "topk")
    return m.flat ? flatten_compressor(make_topk_compressor(m.topk_ratio, {flat_numel(numels)}))
                  : make_topk_compressor(m.topk_ratio, numels);
  if (m.kind == "powersgd") return make_powersgd_compressor(m.powersgd_rank, shapes, seed);
  fail(Errc::invalid_argument, "method '" + m.kind + "': expected fp32, bf16, co3, topk or powersgd");
}

std::unique_ptr<GradientDecoder> make_decoder(const MethodSpec& m,
                                              const std::vector<std::vector<int64_t>>& shapes,
                                              int threads, at::Device device) {
  const std::vector<int64_t> numels = numels_of(shapes);
  if (m.kind == "fp32") return make_raw_decoder(at::kFloat, numels);
  if (m.kind == "bf16") return make_raw_decoder(at::kBFloat16, numels);
  if (m.kind == "co3") {
    const std::vector<int64_t> coded = m.flat ? std::vector<int64_t>{flat_numel(numels)} : numels;
    auto d = device.is_cuda() ? make_co3_device_decoder(coded, device) : make_co3_decoder(coded, threads);
    return m.flat ? flatten_decoder(std::move(d), numels) : std::move(d);
  }
  if (m.kind == "topk")
    return m.flat ? flatten_decoder(make_topk_decoder({flat_numel(numels)}), numels) : make_topk_decoder(numels);
  if (m.kind == "powersgd") return make_powersgd_decoder(m.powersgd_rank, shapes);
  fail(Errc::invalid_argument, "method '" + m.kind + "': expected fp32, bf16, co3, topk or powersgd");
}

}  // namespace co3::train
