#include "co3/torch/compressor.h"

#include <ATen/ATen.h>
#include <torch/csrc/jit/serialization/pickle.h>

#include <cmath>
#include <cstdio>
#include <functional>
#include <set>

#include "co3/error.h"
#include "co3/gennorm.h"
#include "co3/torch/tensor.h"
#include "codec_cuda.h"

namespace co3 {
namespace {

// Runs `f` when the scope ends, by return or by exception.
class ScopeExit {
 public:
  explicit ScopeExit(std::function<void()> f) : f_(std::move(f)) {}
  ScopeExit(const ScopeExit&) = delete;
  ScopeExit& operator=(const ScopeExit&) = delete;
  ~ScopeExit() { f_(); }

 private:
  std::function<void()> f_;
};

}  // namespace

const char* to_string(Refit r) {
  switch (r) {
    case Refit::every_step: return "every-step";
    case Refit::every_n_steps: return "every-n-steps";
    case Refit::running_average: return "running-average";
  }
  return "?";
}

Refit parse_refit(const std::string& s) {
  for (Refit r : {Refit::every_step, Refit::every_n_steps, Refit::running_average})
    if (s == to_string(r)) return r;
  fail(Errc::invalid_argument,
       "refit '" + s + "' unknown (every-step, every-n-steps or running-average)");
}

Compressor::Compressor(CompressorOptions options) : options_(options), codec_(options.config) {
  const CompressorOptions& o = options_;
  check(o.gamma >= 0.0f && o.gamma <= 1.0f, Errc::invalid_argument,
        [&] { return "compressor: gamma " + std::to_string(o.gamma) + " outside [0, 1]"; });
  check(o.refit_every >= 1, Errc::invalid_argument, [&] {
    return "compressor: refit_every " + std::to_string(o.refit_every) + " must be >= 1";
  });
  check(o.average_decay >= 0.0 && o.average_decay < 1.0, Errc::invalid_argument, [&] {
    return "compressor: average_decay " + std::to_string(o.average_decay) + " outside [0, 1)";
  });
}

at::Tensor Compressor::compress(const std::vector<std::string>& names,
                                const std::vector<at::Tensor>& grads, EncodeReport* report) {
  return compress_with(names, grads, report, std::nullopt);
}

at::Tensor Compressor::compress_with(const std::vector<std::string>& names,
                                     const std::vector<at::Tensor>& grads, EncodeReport* report,
                                     const std::optional<GenNormParams>& shared_fit) {
  check(names.size() == grads.size(), Errc::invalid_argument, [&] {
    return "compress: " + std::to_string(names.size()) + " names for " +
           std::to_string(grads.size()) + " gradients";
  });
  std::set<std::string> seen;
  for (size_t i = 0; i < names.size(); ++i)
    check(seen.insert(names[i]).second, Errc::invalid_argument,
          [&] { return tensor_label(i, names[i]) + ": the name appears twice"; });
  c10::Device device(at::kCPU);
  if (!grads.empty() && grads[0].defined()) device = grads[0].device();
  // CUDA gradients are encoded on the device when nothing needs the step's statistics on the
  // host: the every-step refit (the default) and no report. Then the error memory is updated in
  // place on the device and fit() keeps the last host-side fit. Other policies stage through the
  // host (a synchronization), as does the rate policy (its controller reads a histogram of every
  // u on the host before the encode, and the packet's size after it).
  const bool rate = options_.config.scale.policy == ScalePolicy::rate;
  const bool on_device = device.is_cuda() && cuda_path::available() && report == nullptr &&
                         options_.refit == Refit::every_step && !rate;
  std::vector<at::Tensor> host_grads(grads.size()), host_memory(grads.size());
  std::vector<EncodeInput> inputs(grads.size());
  // The encoders leave every memory as it was when they fail; a name first seen in a call that
  // throws is forgotten again. (A failure the GPU finds is raised where the packet is read, after
  // this call: there a new name keeps its zero memory, which is what it would start with.)
  std::vector<std::string> created;
  bool committed = false;
  const ScopeExit forget([&] {
    if (!committed)
      for (const std::string& name : created) entries_.erase(name);
  });
  for (size_t i = 0; i < grads.size(); ++i) {
    const at::Tensor& g = grads[i];
    const std::string label = tensor_label(i, names[i]);
    dtype_of(g, label);
    if (i == 0) device = g.device();
    check(g.device() == device, Errc::invalid_argument, [&] {
      return label + ": on " + g.device().str() + " while tensor 0 is on " + device.str();
    });
    auto it = entries_.find(names[i]);
    if (it == entries_.end()) {
      Entry e;
      e.memory = at::zeros(g.sizes(), g.options().dtype(at::kFloat));
      it = entries_.emplace(names[i], e).first;
      created.push_back(names[i]);
    }
    Entry& e = it->second;
    check(e.memory.sizes() == g.sizes(), Errc::invalid_argument, [&] {
      return label + ": shape " + c10::str(g.sizes()) + " but its error memory has shape " +
             c10::str(e.memory.sizes());
    });
    // The memory lives on the gradient's device (a loaded checkpoint starts on the CPU).
    if (e.memory.device() != g.device()) e.memory = e.memory.to(g.device());
    if (on_device) {
      host_grads[i] = g.contiguous();
      if (!e.memory.is_contiguous()) e.memory = e.memory.contiguous();
      host_memory[i] = e.memory;
    } else {
      host_grads[i] = host_contiguous(g);
      host_memory[i] = host_contiguous(e.memory);
    }
    inputs[i] = EncodeInput(TensorView{host_grads[i].data_ptr(), static_cast<uint64_t>(g.numel()),
                                       dtype_of(g, label)},
                            host_memory[i].data_ptr<float>(), options_.gamma);
    inputs[i].shape = g.sizes().vec();
    switch (options_.refit) {
      case Refit::every_step: break;
      case Refit::every_n_steps:
        if (step_ % options_.refit_every != 0 && e.fit.beta > 0) inputs[i].fit = e.fit;
        break;
      case Refit::running_average:
        if (e.avg_steps > 0) {
          const GenNormFit f = fit_gennorm(e.avg_abs, e.avg_sq);
          inputs[i].fit = GenNormParams{f.beta, f.alpha};
        }
        break;
    }
    if (shared_fit) inputs[i].fit = shared_fit;
  }
  if (on_device) {
    at::Tensor packet;
    try {
      packet = cuda_path::encode(inputs, options_.config, device);
    } catch (const Error& err) {
      rethrow_named(err, names);
    }
    for (const std::string& name : names) {  // statistics unchanged: nothing to restore
      Entry& e = entries_[name];
      e.before_last = e;
    }
    committed = true;
    ++step_;
    return packet;
  }
  EncodeReport local;
  EncodeReport& r = report ? *report : local;
  std::vector<uint8_t> bytes;
  try {
    if (options_.config.scale.policy == ScalePolicy::rate) {
      // The rate controller of this set of names (a DDP hook codes each bucket under its own
      // name; their sizes and layers differ).
      std::string key;
      for (const std::string& name : names) key += name + '\n';
      bytes = encode_at_rate(rate_[key], inputs, options_.config, &r);
    } else {
      bytes = co3::encode(inputs, options_.config, &r);
    }
  } catch (const Error& err) {
    rethrow_named(err, names);
  }
  for (size_t i = 0; i < grads.size(); ++i) {
    Entry& e = entries_[names[i]];
    e.before_last = e;
    const SegmentReport& s = r.segments[i];
    // A tensor whose NaN/Inf propagate belongs to a step that a loss scaler skips: like its
    // memory, its fit and average stay as they were.
    const bool skipped = options_.config.non_finite == NonFinitePolicy::propagate &&
                         s.moments.non_finite > 0;
    if (skipped) continue;
    e.fit = GenNormParams{s.beta, s.alpha};
    if (s.moments.count > 0) {
      const double a = s.moments.mean_abs(), q = s.moments.mean_sq(), d = options_.average_decay;
      e.avg_abs = e.avg_steps ? d * e.avg_abs + (1 - d) * a : a;
      e.avg_sq = e.avg_steps ? d * e.avg_sq + (1 - d) * q : q;
      ++e.avg_steps;
    }
    // A staged (non-CPU or non-contiguous) memory goes back where it lives.
    if (!host_memory[i].is_same(e.memory)) e.memory.copy_(host_memory[i]);
  }
  committed = true;
  ++step_;
  return packet_tensor(bytes, device);
}

std::optional<GenNormParams> Compressor::pooled_fit(const std::vector<std::string>& names,
                                                    const std::vector<at::Tensor>& grads) const {
  const CompressorOptions& o = options_;
  if (o.refit == Refit::every_n_steps && step_ % o.refit_every != 0) return std::nullopt;
  if (o.refit == Refit::running_average) {
    double sum_abs = 0, sum_sq = 0, n = 0;  // the averages weighted by entries
    bool all = true;
    for (size_t i = 0; i < names.size() && all; ++i) {
      auto it = entries_.find(names[i]);
      all = it != entries_.end() && it->second.avg_steps > 0;
      if (!all) break;
      const double w = static_cast<double>(grads[i].numel());
      sum_abs += w * it->second.avg_abs;
      sum_sq += w * it->second.avg_sq;
      n += w;
    }
    if (all && n > 0) {
      const GenNormFit f = fit_gennorm(sum_abs / n, sum_sq / n);
      return GenNormParams{f.beta, f.alpha};
    }
  }
  // The moments of this step's u = g + γ·e over every gradient, as one tensor.
  Moments total;
  std::vector<at::Tensor> device_sums, host;  // host: the CPU tensors the inputs point into
  std::vector<EncodeInput> inputs;
  for (size_t i = 0; i < grads.size(); ++i) {
    const at::Tensor& g = grads[i];
    dtype_of(g, tensor_label(i, names[i]));  // the error compress() raises for a bad gradient
    auto it = entries_.find(names[i]);
    const bool remembered = it != entries_.end() && it->second.memory.sizes() == g.sizes() && o.gamma != 0;
    if (g.is_cuda()) {  // u as ATen computes it, summed on the device; one read for all below
      at::Tensor u = g.to(at::kFloat);
      if (remembered) u = u + it->second.memory.to(g.device()) * o.gamma;
      const at::Tensor finite = at::isfinite(u);
      const at::Tensor v = at::where(finite, u, at::zeros_like(u)).to(at::kDouble);
      device_sums.push_back(at::stack({v.sum(), v.abs().sum(), (v * v).sum(), finite.sum().to(at::kDouble)}));
      continue;
    }
    const at::Tensor grad = host_contiguous(g);
    const at::Tensor memory = remembered ? host_contiguous(it->second.memory) : at::Tensor();
    host.push_back(grad);
    host.push_back(memory);
    inputs.emplace_back(TensorView{grad.data_ptr(), static_cast<uint64_t>(g.numel()), dtype_of(g, "")},
                        remembered ? memory.data_ptr<float>() : nullptr, remembered ? o.gamma : 0.0f);
  }
  total = moments(inputs, o.config.threads);
  if (!device_sums.empty()) {
    const at::Tensor s = at::stack(device_sums).sum(0).cpu();  // host read: the CUDA moments
    const double* d = s.data_ptr<double>();
    Moments m;
    m.sum = d[0];
    m.sum_abs = d[1];
    m.sum_sq = d[2];
    m.count = static_cast<uint64_t>(d[3]);
    total.merge(m);
  }
  const GenNormFit f = fit_gennorm(total.mean_abs(), total.mean_sq());
  return GenNormParams{f.beta, f.alpha};
}

std::vector<at::Tensor> Compressor::compress_each(const std::vector<std::string>& names,
                                                  const std::vector<at::Tensor>& grads, bool one_fit) {
  check(names.size() == grads.size(), Errc::invalid_argument, [&] {
    return "compress_each: " + std::to_string(names.size()) + " names for " +
           std::to_string(grads.size()) + " gradients";
  });
  const std::optional<GenNormParams> fit =
      one_fit && grads.size() > 1 ? pooled_fit(names, grads) : std::nullopt;
  const int64_t step = step_;
  std::vector<at::Tensor> packets;
  for (size_t i = 0; i < grads.size(); ++i) {
    step_ = step;  // every packet at this step's refit
    try {
      packets.push_back(compress_with({names[i]}, {grads[i]}, nullptr, fit));
    } catch (...) {
      step_ = step;
      throw;
    }
  }
  step_ = step + 1;
  return packets;
}

std::vector<std::string> Compressor::names() const {
  std::vector<std::string> out;
  for (const auto& kv : entries_) out.push_back(kv.first);
  return out;
}

at::Tensor Compressor::memory(const std::string& name) const {
  auto it = entries_.find(name);
  check(it != entries_.end(), Errc::invalid_argument,
        [&] { return "compressor: no tensor named '" + name + "'"; });
  return it->second.memory;
}

void Compressor::set_memory(const std::string& name, const at::Tensor& memory) {
  auto it = entries_.find(name);
  check(it != entries_.end(), Errc::invalid_argument,
        [&] { return "compressor: no tensor named '" + name + "'"; });
  check(memory.defined() && memory.scalar_type() == at::kFloat, Errc::invalid_argument,
        [&] { return "compressor: the memory of '" + name + "' must be a float32 tensor"; });
  it->second.memory = memory;
}

GenNormParams Compressor::fit(const std::string& name) const {
  auto it = entries_.find(name);
  check(it != entries_.end(), Errc::invalid_argument,
        [&] { return "compressor: no tensor named '" + name + "'"; });
  return it->second.fit;
}

void Compressor::restore_statistics(const std::string& name) {
  auto it = entries_.find(name);
  check(it != entries_.end(), Errc::invalid_argument,
        [&] { return "compressor: no tensor named '" + name + "'"; });
  Entry& e = it->second;
  static_cast<Statistics&>(e) = e.before_last;
}

std::map<std::string, at::Tensor> Compressor::state() const {
  std::map<std::string, at::Tensor> s;
  s["step"] = at::scalar_tensor(step_, at::kLong);
  const auto f64 = at::TensorOptions().dtype(at::kDouble);
  for (const auto& [name, e] : entries_) {
    s["memory/" + name] = e.memory.detach().to(at::kCPU).clone();
    s["fit/" + name] = at::tensor({e.fit.beta, e.fit.alpha}, f64);
    s["average/" + name] = at::tensor({e.avg_abs, e.avg_sq, static_cast<double>(e.avg_steps)}, f64);
  }
  return s;
}

void Compressor::load_state(const std::map<std::string, at::Tensor>& state) {
  std::map<std::string, Entry> entries;
  int64_t step = -1;
  const auto bad = [](const std::string& key, const std::string& why) {
    fail(Errc::invalid_argument, "compressor state: '" + key + "' " + why);
  };
  const auto doubles = [&](const std::string& key, const at::Tensor& t, int64_t n) {
    if (!t.defined() || t.scalar_type() != at::kDouble || t.dim() != 1 || t.numel() != n)
      bad(key, "must be a float64 vector of " + std::to_string(n));
    return t.contiguous();
  };
  for (const auto& [key, t] : state) {
    const size_t slash = key.find('/');
    const std::string kind = key.substr(0, slash);
    const std::string name = slash == std::string::npos ? "" : key.substr(slash + 1);
    if (key == "step") {
      if (!t.defined() || t.scalar_type() != at::kLong || t.numel() != 1) bad(key, "must be one int64");
      step = t.item<int64_t>();
      if (step < 0) bad(key, "is negative");
    } else if (kind == "memory" && !name.empty()) {
      if (!t.defined() || t.scalar_type() != at::kFloat) bad(key, "must be a float32 tensor");
      entries[name].memory = t.detach().clone();
    } else if (kind == "fit" && !name.empty()) {
      const at::Tensor v = doubles(key, t, 2);
      entries[name].fit = GenNormParams{v[0].item<double>(), v[1].item<double>()};
    } else if (kind == "average" && !name.empty()) {
      const at::Tensor v = doubles(key, t, 3);
      Entry& e = entries[name];
      e.avg_abs = v[0].item<double>();
      e.avg_sq = v[1].item<double>();
      const double steps = v[2].item<double>();
      if (!(steps >= 0 && steps == std::floor(steps))) bad(key, "step count is not a whole number >= 0");
      e.avg_steps = static_cast<int64_t>(steps);
    } else {
      bad(key, "is not a compressor state key (step, memory/, fit/, average/)");
    }
  }
  if (step < 0) bad("step", "is missing");
  for (auto& [name, e] : entries) {
    if (!e.memory.defined()) bad("memory/" + name, "is missing");
    e.before_last = e;  // a checkpoint holds no step to undo
  }
  entries_ = std::move(entries);
  rate_.clear();
  step_ = step;
}

void Compressor::save(const std::string& path) const {
  c10::Dict<std::string, at::Tensor> dict;
  for (const auto& [k, v] : state()) dict.insert(k, v);
  const std::vector<char> bytes = torch::jit::pickle_save(c10::IValue(dict));
  FILE* f = std::fopen(path.c_str(), "wb");
  check(f != nullptr, Errc::io, [&] { return "compressor: cannot write " + path; });
  const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  check(std::fclose(f) == 0 && ok, Errc::io, [&] { return "compressor: cannot write " + path; });
}

void Compressor::load(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  check(f != nullptr, Errc::io, [&] { return "compressor: cannot read " + path; });
  std::vector<char> bytes;
  char buf[65536];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) bytes.insert(bytes.end(), buf, buf + n);
  std::fclose(f);
  c10::IValue v;
  try {
    v = torch::jit::pickle_load(bytes);
  } catch (const c10::Error& e) {
    fail(Errc::io, "compressor: " + path + " is not a saved compressor state: " + e.what_without_backtrace());
  }
  check(v.isGenericDict(), Errc::io,
        [&] { return "compressor: " + path + " does not hold a state dictionary"; });
  std::map<std::string, at::Tensor> state;
  for (const auto& kv : v.toGenericDict()) {
    check(kv.key().isString() && kv.value().isTensor(), Errc::io,
          [&] { return "compressor: " + path + " holds a non-tensor entry"; });
    state[kv.key().toStringRef()] = kv.value().toTensor();
  }
  load_state(state);
}

void Compressor::reset() {
  entries_.clear();
  rate_.clear();
  step_ = 0;
}

}  // namespace co3
