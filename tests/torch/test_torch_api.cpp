// The LibTorch API (include/co3/torch): round trips for every dtype, shape and stride, error
// messages that name the tensor, the compressor's memory and refit policies, checkpoints.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <unistd.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "co3/codec.h"
#include "co3/error.h"
#include "co3/gennorm.h"
#include "co3/torch/tensor.h"
#include "co3/torch/codec.h"
#include "co3/torch/compressor.h"

namespace {

using co3::Codec;
using co3::CodecConfig;
using co3::Compressor;
using co3::CompressorOptions;
using co3::Errc;
using co3::Error;

// What the raw CPU codec makes of the same values: the oracle the tensor API must equal.
at::Tensor raw_roundtrip(const at::Tensor& t, const CodecConfig& cfg) {
  const at::Tensor c = t.contiguous();
  const auto dt = c.scalar_type() == at::kFloat ? co3::DType::f32
                  : c.scalar_type() == at::kHalf ? co3::DType::f16 : co3::DType::bf16;
  const auto pkt = co3::encode(co3::TensorView{c.data_ptr(), static_cast<uint64_t>(c.numel()), dt}, cfg);
  at::Tensor out = at::empty(c.sizes(), c.options());
  co3::decode_into(pkt.data(), pkt.size(), {out.data_ptr()});
  return out;
}

// Checks `f` throws co3::Error with `code` and a message containing `needle`.
template <class F>
void expect_error(F f, Errc code, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one mentioning '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(TorchCodec, EveryDtypeShapeAndStrideRoundTrips) {
  torch::manual_seed(1);
  CodecConfig cfg;
  cfg.format = co3::formats::e4m3;
  Codec codec(cfg);
  for (auto dtype : {at::kFloat, at::kHalf, at::kBFloat16}) {
    const at::Tensor a = torch::randn({7, 5, 3}).to(dtype) * 0.01;
    const at::Tensor b = torch::randn({40, 30}).to(dtype).t();  // non-contiguous
    const at::Tensor c = torch::randn({}).to(dtype);            // a scalar
    const at::Tensor d = torch::empty({0, 4}, dtype);           // empty
    const std::vector<at::Tensor> inputs = {a, b, c, d};
    const at::Tensor packet = codec.encode(inputs);
    EXPECT_EQ(packet.scalar_type(), at::kByte);
    EXPECT_EQ(packet.dim(), 1);
    const auto out = codec.decode(packet);
    ASSERT_EQ(out.size(), 4u);
    for (size_t i = 0; i < 4; ++i) {
      const at::Tensor& in = inputs[i];
      EXPECT_EQ(out[i].sizes(), in.sizes()) << i;
      EXPECT_EQ(out[i].scalar_type(), dtype) << i;
      EXPECT_TRUE(torch::equal(out[i], raw_roundtrip(in, cfg))) << "tensor " << i << " " << dtype;
    }
    // float32 on request.
    EXPECT_EQ(codec.decode(packet, std::nullopt, true)[0].scalar_type(), at::kFloat);
  }
}

TEST(TorchCodec, DecodeIntoStridedAndOtherDtypesAndPaddedPackets) {
  torch::manual_seed(2);
  Codec codec;
  const at::Tensor g = torch::randn({64, 32});
  const at::Tensor packet = codec.encode(g);
  const at::Tensor expect = codec.decode(packet)[0];
  // A transposed bfloat16 view receives the values converted.
  at::Tensor base = torch::zeros({32, 64}, at::kBFloat16);
  at::Tensor view = base.t();
  codec.decode_into(packet, {view});
  EXPECT_TRUE(torch::equal(view, expect.to(at::kBFloat16)));
  // A flat float32 buffer (a DDP bucket) receives them as they are.
  at::Tensor flat = torch::zeros({64 * 32});
  codec.decode_into(packet, {flat});
  EXPECT_TRUE(torch::equal(flat, expect.flatten()));
  // Gather padding after the packet is ignored: the header says where the packet ends.
  const at::Tensor padded = torch::cat({packet, torch::full({100}, 7, at::kByte)});
  EXPECT_EQ(co3::packet_size(padded), packet.numel());
  EXPECT_TRUE(torch::equal(codec.decode(padded)[0], expect));
  expect_error([&] { codec.decode_into(packet, {torch::zeros({5})}); }, Errc::invalid_argument,
               "has 5 elements");
  expect_error([&] { codec.decode_into(packet, {flat, flat}); }, Errc::invalid_argument,
               "2 outputs for a packet of 1");
}

// decode_accumulate against an oracle written differently: decode each packet, then add in list
// order; a corrupt packet in the list is named by its label.
TEST(TorchCodec, DecodeAccumulateSumsPacketsInOrderAndNamesTheBadOne) {
  const co3::Codec codec;
  std::vector<at::Tensor> packets;
  at::Tensor expect = torch::zeros({3000});
  for (int r = 0; r < 3; ++r) {
    torch::manual_seed(r);
    packets.push_back(codec.encode(torch::randn({3000}) * (r + 1)));
    expect = expect + codec.decode(packets.back())[0];
  }
  at::Tensor sum = torch::zeros({3000});
  codec.decode_accumulate(packets, {sum});
  EXPECT_TRUE(torch::equal(sum, expect));
  at::Tensor half = torch::zeros({3000}, at::kHalf);  // accumulated in float32, rounded once
  codec.decode_accumulate(packets, {half});
  EXPECT_TRUE(torch::equal(half, expect.to(at::kHalf)));

  packets[1] = packets[1].clone();
  packets[1][60] = packets[1][60].item<uint8_t>() ^ 0x01;
  try {
    codec.decode_accumulate(packets, {sum}, {"rank 0's packet", "rank 1's packet", "rank 2's packet"});
    ADD_FAILURE() << "a corrupt packet was accumulated";
  } catch (const co3::Error& e) {
    EXPECT_EQ(e.code(), co3::Errc::corrupt_packet);
    EXPECT_EQ(std::string(e.what()).rfind("rank 1's packet: ", 0), 0u) << e.what();
  }
  EXPECT_THROW(codec.decode_accumulate(packets, {sum}, {"one label"}), co3::Error);
}

// encode_into writes encode's bytes at the start of a reused buffer, and refuses a short one.
TEST(TorchCodec, EncodeIntoAReusedBuffer) {
  const co3::Codec codec;
  const std::vector<at::Tensor> ts = {torch::randn({500, 3}), torch::randn({40}).to(at::kBFloat16)};
  const at::Tensor packet = codec.encode(ts);
  at::Tensor buffer = torch::full({packet.numel() + 100}, 0xEE, at::kByte);
  codec.encode_into(ts, buffer);
  EXPECT_EQ(co3::packet_size(buffer), packet.numel());
  EXPECT_TRUE(torch::equal(buffer.narrow(0, 0, packet.numel()), packet));
  at::Tensor short_buffer = torch::empty({packet.numel() - 1}, at::kByte);
  EXPECT_THROW(codec.encode_into(ts, short_buffer), co3::Error);
  EXPECT_THROW(codec.encode_into(ts, torch::empty({100000}, at::kInt)), co3::Error);
}

TEST(TorchCodec, ErrorsNameTheTensorTheFieldAndTheValue) {
  Codec codec;
  expect_error([&] { codec.encode({torch::zeros({3}), torch::zeros({3}, at::kDouble)}); },
               Errc::invalid_argument, "tensor 1: dtype Double unsupported");
  expect_error([&] { codec.encode({torch::zeros({3}, at::kInt)}, nullptr, {"fc.weight"}); },
               Errc::invalid_argument, "tensor 0 ('fc.weight'): dtype Int");
  at::Tensor nan = torch::zeros({4});
  nan[2] = std::nanf("");
  expect_error([&] { codec.encode({torch::zeros({3}), nan}, nullptr, {"a", "b"}); }, Errc::non_finite,
               "tensor 1 ('b'): 1 non-finite");
  expect_error([&] { codec.decode(torch::zeros({100}, at::kFloat)); }, Errc::invalid_argument,
               "1-D uint8");
  expect_error([&] { codec.decode(torch::zeros({10}, at::kByte)); }, Errc::corrupt_packet,
               "shorter than a header");
  at::Tensor packet = codec.encode(torch::randn({1000}));
  expect_error([&] { codec.decode(packet.narrow(0, 0, packet.numel() - 1)); }, Errc::corrupt_packet,
               "truncated");
  at::Tensor flipped = packet.clone();
  flipped.data_ptr<uint8_t>()[packet.numel() / 2] ^= 4;
  expect_error([&] { codec.decode(flipped); }, Errc::corrupt_packet, "CRC32C");
  CodecConfig bad;
  bad.chunk_symbols = 7;
  expect_error([&] { Codec c(bad); }, Errc::invalid_argument, "chunk");
}

TEST(TorchCodec, StatsAgreeWithThePacket) {
  torch::manual_seed(3);
  CodecConfig cfg;
  cfg.code = co3::CodeSource::gennorm;
  Codec codec(cfg);
  const at::Tensor g = torch::randn({20000}) * 1e-3;
  const co3::TensorStats s = codec.stats(g);
  // The API records the shape (version 2: 8 + 8 bytes more than the raw codec's packet).
  EXPECT_DOUBLE_EQ(s.packet_bits_per_entry * g.numel() / 8 + 16, codec.encode(g).numel());
  EXPECT_GT(s.beta, 1.5);  // Gaussian data
  EXPECT_LT(s.beta, 2.5);
}

// The compressor's memory follows u = g + γ·e, e ← u − Q(u), checked against the decoded packet.
TEST(TorchCompressor, ErrorMemoryFollowsTheRecurrence) {
  torch::manual_seed(4);
  CompressorOptions o;
  o.config.format = co3::formats::fp4;
  o.gamma = 0.7f;
  Compressor comp(o);
  Codec codec(o.config);
  at::Tensor e = torch::zeros({50, 20});
  for (int step = 0; step < 4; ++step) {
    const at::Tensor g = torch::randn({50, 20}) * 1e-2;
    const at::Tensor packet = comp.compress({"w"}, {g});
    const at::Tensor u = g + 0.7f * e;  // two rounded float32 operations, like the codec
    const at::Tensor q = codec.decode(packet)[0];
    e = u - q;
    EXPECT_TRUE(torch::allclose(comp.memory("w"), e, 0, 1e-7)) << step;
  }
  EXPECT_EQ(comp.step(), 4);
  expect_error([&] { comp.compress({"w"}, {torch::zeros({20, 50})}); }, Errc::invalid_argument,
               "tensor 0 ('w'): shape [20, 50] but its error memory has shape [50, 20]");
  expect_error([&] { comp.compress({"a", "a"}, {torch::zeros({1}), torch::zeros({1})}); },
               Errc::invalid_argument, "appears twice");
  o.gamma = 1.5f;
  expect_error([&] { Compressor c(o); }, Errc::invalid_argument, "gamma 1.5");
}

// A compress that fails leaves every memory as it was (NaN in the second tensor under the
// 'error' policy; a code too short for the data) and forgets names it saw first.
TEST(TorchCompressor, AFailingCompressLeavesEveryMemoryAsItWas) {
  torch::manual_seed(5);
  CompressorOptions o;
  o.config.format = co3::formats::e5m2;
  o.config.non_finite = co3::NonFinitePolicy::error;
  o.gamma = 0.7f;
  Compressor comp(o);
  const at::Tensor a = torch::randn({40, 30}) * 1e-2;
  at::Tensor b = torch::randn({700}) * 1e-2;
  comp.compress({"a", "b"}, {a, b});
  const at::Tensor mem_a = comp.memory("a").clone(), mem_b = comp.memory("b").clone();
  ASSERT_GT(mem_a.abs().sum().item<float>(), 0.0f);
  at::Tensor bad = b.clone();
  bad[123] = std::numeric_limits<float>::quiet_NaN();
  expect_error([&] { comp.compress({"a", "b", "c"}, {a, bad, b}); }, Errc::non_finite,
               "tensor 1 ('b')");
  EXPECT_TRUE(torch::equal(comp.memory("a"), mem_a));
  EXPECT_TRUE(torch::equal(comp.memory("b"), mem_b));
  EXPECT_EQ(comp.names(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(comp.step(), 1);

  o.config.max_code_length = 3;  // 8 codes: fewer than the symbols these tensors use
  Compressor short_code(o);
  short_code.load_state(comp.state());
  expect_error([&] { short_code.compress({"a", "b"}, {a, b}); }, Errc::invalid_argument,
               "code lengths");
  EXPECT_TRUE(torch::equal(short_code.memory("a"), mem_a));
  EXPECT_TRUE(torch::equal(short_code.memory("b"), mem_b));
}

// The Compressor's default policy is 'propagate' (CodecConfig's stays 'error'): a gradient with
// ±Inf/NaN is coded, decodes (and accumulates) to them, and its memory and fit stay as they were.
TEST(TorchCompressor, NonFiniteGradientsPropagateByDefault) {
  EXPECT_EQ(CompressorOptions{}.config.non_finite, co3::NonFinitePolicy::propagate);
  EXPECT_EQ(CodecConfig{}.non_finite, co3::NonFinitePolicy::error);
  torch::manual_seed(9);
  CompressorOptions o;
  o.config.format = co3::formats::fp4;
  o.gamma = 0.7f;
  Compressor comp(o);
  at::Tensor g = torch::randn({30, 40}) * 1e-2;
  const at::Tensor b = torch::randn({100}) * 1e-2;
  comp.compress({"g", "b"}, {g, b});
  const at::Tensor mem = comp.memory("g").clone(), mem_b = comp.memory("b").clone();
  const co3::GenNormParams fit = comp.fit("g");
  g[2][3] = std::numeric_limits<float>::infinity();
  g[29][39] = std::numeric_limits<float>::quiet_NaN();
  const at::Tensor packet = comp.compress({"g", "b"}, {g, b});
  EXPECT_TRUE(torch::equal(comp.memory("g"), mem));
  EXPECT_FALSE(torch::equal(comp.memory("b"), mem_b));
  EXPECT_EQ(comp.fit("g").beta, fit.beta);
  EXPECT_EQ(comp.fit("g").alpha, fit.alpha);
  const Codec codec(o.config);
  const at::Tensor y = codec.decode(packet)[0];
  EXPECT_EQ(y[2][3].item<float>(), std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(y[29][39].item<float>()));
  EXPECT_EQ(torch::isfinite(y).sum().item<int64_t>(), 30 * 40 - 2);
  at::Tensor sum = torch::ones({30, 40}, torch::kHalf);
  codec.decode_into(packet, {sum, torch::zeros({100})}, /*accumulate=*/true);
  EXPECT_EQ(sum[2][3].item<float>(), std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(sum[29][39].item<float>()));
}

TEST(TorchCompressor, RefitPolicies) {
  torch::manual_seed(5);
  std::vector<at::Tensor> grads;
  for (int t = 0; t < 5; ++t) grads.push_back(torch::randn({4000}) * (t + 1.0));  // scale grows
  const auto run = [&](co3::Refit refit, int64_t every) {
    CompressorOptions o;
    o.gamma = 0.0f;
    o.refit = refit;
    o.refit_every = every;
    o.average_decay = 0.5;
    Compressor comp(o);
    std::vector<double> alphas;
    for (const auto& g : grads) {
      co3::EncodeReport r;
      comp.compress({"g"}, {g}, &r);
      alphas.push_back(r.segments[0].alpha);
    }
    return alphas;
  };
  const auto each = run(co3::Refit::every_step, 1);
  for (int t = 1; t < 5; ++t) EXPECT_GT(each[t], each[t - 1]);  // refitted every step
  const auto every2 = run(co3::Refit::every_n_steps, 2);
  EXPECT_EQ(every2[0], each[0]);
  EXPECT_EQ(every2[1], each[0]);  // reused
  EXPECT_EQ(every2[2], each[2]);  // refitted
  EXPECT_EQ(every2[3], each[2]);
  const auto avg = run(co3::Refit::running_average, 1);
  EXPECT_EQ(avg[0], each[0]);
  // Step 1 uses the average of step 0 alone; step 2 that of steps 0 and 1 (decay 0.5).
  EXPECT_NEAR(avg[1], each[0], 1e-9 * each[0]);
  EXPECT_GT(avg[2], each[0]);
  EXPECT_LT(avg[2], each[1]);
}

// compress_each(..., one_fit): every piece at the scale of one fit to all of them, i.e. what a
// compressor of the whole (concatenated) tensor uses, step after step with error memory, under
// each refit policy (bit for bit, but running-average's pooled averages, equal up to rounding);
// without one_fit the pieces' own fits give other scales.
TEST(TorchCompressor, OneFitCodesEveryPieceAtTheWholeTensorsScale) {
  torch::manual_seed(9);
  const std::vector<int64_t> sizes = {3000, 8192, 5, 9000};
  const std::vector<std::string> names = {"p0", "p1", "p2", "p3"};
  for (co3::Refit refit : {co3::Refit::every_step, co3::Refit::every_n_steps, co3::Refit::running_average}) {
    CompressorOptions o;
    o.config.format = co3::formats::fp4;
    o.gamma = 0.7f;
    o.refit = refit;
    o.refit_every = 2;
    Compressor pieces(o), whole(o), own(o);
    bool own_differs = false;
    for (int step = 0; step < 4; ++step) {
      std::vector<at::Tensor> parts;
      for (size_t k = 0; k < sizes.size(); ++k)  // pieces of different spread and shape
        parts.push_back(torch::randn({sizes[k]}) * std::pow(4.0, static_cast<double>(k)) *
                        (step + 1) * (k == 3 ? torch::randn({sizes[k]}).abs() : torch::ones({sizes[k]})));
      const std::vector<at::Tensor> packets = pieces.compress_each(names, parts, true);
      const std::vector<at::Tensor> own_packets = own.compress_each(names, parts);
      const at::Tensor all = whole.compress({"w"}, {torch::cat(parts)});
      const float scale = co3::inspect(all).segments[0].scale;
      std::vector<at::Tensor> decoded;
      for (size_t k = 0; k < parts.size(); ++k) {
        const float s = co3::inspect(packets[k]).segments[0].scale;
        SCOPED_TRACE(testing::Message() << co3::to_string(refit) << ", step " << step << ", piece " << k);
        if (refit == co3::Refit::running_average) {
          EXPECT_NEAR(s, scale, 1e-5 * scale);
        } else {
          EXPECT_EQ(s, scale);
        }
        own_differs = own_differs || co3::inspect(own_packets[k]).segments[0].scale != scale;
        decoded.push_back(Codec(o.config).decode(packets[k], std::nullopt, true)[0].reshape(-1));
      }
      if (refit != co3::Refit::running_average) {
        EXPECT_TRUE(torch::equal(torch::cat(decoded), Codec(o.config).decode(all, std::nullopt, true)[0]));
      }
    }
    EXPECT_TRUE(own_differs) << co3::to_string(refit);
  }
}

// A step skipped after all (another rank's NaN): with the memory put back from the caller's copy
// and restore_statistics, the compressor codes the next step exactly as if the skipped step had
// never been compressed; without restore_statistics the running average has moved.
TEST(TorchCompressor, RestoreStatisticsUndoesASkippedStep) {
  torch::manual_seed(7);
  for (co3::Refit refit : {co3::Refit::running_average, co3::Refit::every_n_steps}) {
    SCOPED_TRACE(co3::to_string(refit));
    CompressorOptions o;
    o.config.format = co3::formats::e4m3;
    o.gamma = 0.8f;
    o.refit = refit;
    o.refit_every = 1;  // every step refits, so the skipped step moves the fit
    const at::Tensor g0 = torch::randn({500}), skipped = torch::randn({500}) * 9, g2 = torch::randn({500});
    Compressor never(o), undone(o), moved(o);
    never.compress({"g"}, {g0});
    for (Compressor* c : {&undone, &moved}) {
      c->compress({"g"}, {g0});
      const at::Tensor before = c->memory("g").clone();
      c->compress({"g"}, {skipped});
      c->memory("g").copy_(before);
    }
    const auto statistics = [](const Compressor& c) {
      const auto st = c.state();
      return torch::cat({st.at("fit/g"), st.at("average/g")});
    };
    EXPECT_FALSE(torch::equal(statistics(undone), statistics(never)));  // the step moved them
    undone.restore_statistics("g");
    EXPECT_TRUE(torch::equal(statistics(undone), statistics(never)));
    // The next packet: every_n_steps at N = 1 refits from it alone whatever came before (and
    // the step count, which still counts the skipped call, would shift larger N's refit steps);
    // running_average's scale comes from the restored average: the same bits as never skipped.
    if (refit != co3::Refit::running_average) continue;
    const at::Tensor expected = never.compress({"g"}, {g2});
    EXPECT_TRUE(torch::equal(undone.compress({"g"}, {g2}), expected));
    EXPECT_FALSE(torch::equal(moved.compress({"g"}, {g2}), expected));  // the average moved
  }
  Compressor c{CompressorOptions{}};
  expect_error([&] { c.restore_statistics("nobody"); }, Errc::invalid_argument, "no tensor named 'nobody'");
}

TEST(TorchCompressor, CheckpointRestoresEverything) {
  torch::manual_seed(6);
  CompressorOptions o;
  o.config.format = co3::formats::fp4;
  o.gamma = 0.9f;
  o.refit = co3::Refit::running_average;
  Compressor a(o);
  for (int t = 0; t < 3; ++t) a.compress({"w", "b"}, {torch::randn({30, 3}), torch::randn({3})});
  char path[] = "/tmp/co3_compressor_XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  a.save(path);
  Compressor b(o);
  b.load(path);
  std::remove(path);
  EXPECT_EQ(b.step(), 3);
  EXPECT_EQ(b.names(), a.names());
  const at::Tensor gw = torch::randn({30, 3}), gb = torch::randn({3});
  // The next packets are identical: same memory, same averaged fit.
  EXPECT_TRUE(torch::equal(a.compress({"w", "b"}, {gw, gb}), b.compress({"w", "b"}, {gw, gb})));
  EXPECT_TRUE(torch::equal(a.memory("w"), b.memory("w")));
  auto state = a.state();
  state.erase("step");
  expect_error([&] { b.load_state(state); }, Errc::invalid_argument, "'step' is missing");
  state = a.state();
  state["fit/w"] = torch::zeros({3}, at::kDouble);
  expect_error([&] { b.load_state(state); }, Errc::invalid_argument, "'fit/w' must be a float64 vector of 2");
  expect_error([&] { b.load("/nonexistent/state.pt"); }, Errc::io, "/nonexistent/state.pt");
}

// all_finite (the collectives' skip check) against at::isfinite(t).all(), an oracle written
// otherwise: every non-finite kind at the first, a middle and the last entry, every float dtype,
// empty and one-entry tensors.
TEST(TorchTensor, AllFiniteAgreesWithIsfinite) {
  const float kinds[] = {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                         -std::numeric_limits<float>::infinity()};
  for (const at::ScalarType dtype : {at::kFloat, at::kHalf, at::kBFloat16, at::kDouble}) {
    for (const int64_t n : {int64_t{0}, int64_t{1}, int64_t{1000}, int64_t{70001}}) {
      const at::Tensor base = (torch::randn({n}) * 1e3).to(dtype);
      EXPECT_TRUE(co3::all_finite(base).item<bool>()) << dtype << " " << n;
      EXPECT_EQ(co3::all_finite(base).dim(), 0);
      for (const float v : kinds)
        for (const int64_t at : {int64_t{0}, n / 2, n - 1}) {
          if (n == 0) continue;
          at::Tensor t = base.clone();
          t[at] = v;
          EXPECT_EQ(co3::all_finite(t).item<bool>(), at::isfinite(t).all().item<bool>());
          EXPECT_FALSE(co3::all_finite(t).item<bool>()) << dtype << " " << n << " " << v << " at " << at;
        }
    }
  }
}

}  // namespace
