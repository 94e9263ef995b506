#include "train/simulation.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "co3/error.h"
#include "train/code_stats.h"
#include "train/experiment.h"

namespace co3::train {

RunResult run_simulation(const TrainOptions& opts, const RunHooks& hooks,
                         std::vector<float>* final_params) {
  Experiment exp(opts, /*need_train=*/true, /*need_test=*/true);
  std::vector<BatchSampler> samplers;
  std::vector<std::unique_ptr<GradientCompressor>> compressors;
  for (int u = 0; u < opts.users; ++u) {
    samplers.push_back(exp.make_sampler(u));
    compressors.push_back(make_compressor(opts.method, exp.shapes(), opts.threads, exp.device(), opts.seed));
  }
  auto decoder = make_decoder(opts.method, exp.shapes(), opts.threads, exp.device());
  RunLog log(opts, exp.entries(), exp.rounds(), exp.rounds_per_epoch());
  CodeStatsLog codes(opts);

  for (int64_t r = 0; r < exp.rounds(); ++r) {
    RoundRecord rec;
    std::vector<std::vector<uint8_t>> packets;
    for (int u = 0; u < opts.users; ++u) {
      std::vector<at::Tensor> grads;
      const bool stats_now = u == 0 && codes.due(r);
      UserUpdate up =
          UserStep::run(exp, samplers[u], *compressors[u], stats_now ? &grads : nullptr);
      if (stats_now) codes.add(r, grads);
      if (hooks.on_packet) hooks.on_packet(r, u, up.packet);
      rec.loss += up.loss / opts.users;
      rec.encode_s += up.encode_s;
      rec.packet_bytes.push_back(up.packet.size());
      packets.push_back(std::move(up.packet));
    }
    rec.decode_s = server_step(exp, *decoder, packets);
    log.add_round(std::move(rec));
    if (exp.is_eval_round(r)) log.add_eval(exp.evaluate());
  }
  log.finish();
  at::Tensor flat = exp.flat_params();
  std::vector<float> params(flat.data_ptr<float>(), flat.data_ptr<float>() + flat.numel());
  if (!opts.save_params.empty()) save_params(opts.save_params, params);
  if (final_params) *final_params = std::move(params);
  return log.result();
}

void save_params(const std::string& path, const std::vector<float>& params) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  check(f != nullptr, Errc::io, "cannot write " + path + ": " + std::strerror(errno));
  const bool ok = std::fwrite(params.data(), sizeof(float), params.size(), f) == params.size();
  check(std::fclose(f) == 0 && ok, Errc::io, "cannot write " + path);
}

std::vector<float> load_params(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  check(f != nullptr, Errc::io, "cannot read " + path + ": " + std::strerror(errno));
  std::vector<float> out;
  float buf[4096];
  size_t n;
  while ((n = std::fread(buf, sizeof(float), 4096, f)) > 0) out.insert(out.end(), buf, buf + n);
  std::fclose(f);
  return out;
}

}  // namespace co3::train
