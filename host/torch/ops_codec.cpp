// torch.ops.co3: the codec and the error-feedback compressor for Python (and TorchScript),
// registered with the dispatcher; python/co3 loads this library and wraps the ops.
//
// Keyword names mirror the CLI's options. co3::Error becomes a Python ValueError for bad
// arguments and a RuntimeError (message starting "co3: ") otherwise.
#include <ATen/ATen.h>
#include <torch/custom_class.h>
#include <torch/library.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "co3/error.h"
#include "co3/torch/codec.h"
#include "co3/torch/compressor.h"
#include "co3/torch/distributed.h"

namespace co3 {
namespace {

template <class F>
auto translate_errors(F f) -> decltype(f()) {
  try {
    return f();
  } catch (const Error& e) {
    if (e.code() == Errc::invalid_argument) TORCH_CHECK_VALUE(false, "co3: ", e.what());
    TORCH_CHECK(false, "co3: ", e.what());
  }
}

// "gennorm", "absmax", "none" or a number.
CodecConfig make_config(const std::string& format, const std::string& rounding,
                        const std::string& scale, const std::string& code, int64_t chunk,
                        int64_t max_code_length, int64_t seed, bool shared_code,
                        const std::string& non_finite, int64_t threads,
                        int64_t entries_per_symbol, int64_t zero_block) {
  CodecConfig c;
  c.format = parse_format(format);
  c.rounding = parse_rounding(rounding);
  c.scale = parse_scale(scale);
  c.code = parse_code_source(code);
  check(chunk >= 0 && chunk <= UINT32_MAX, Errc::invalid_argument,
        [&] { return "chunk " + std::to_string(chunk) + " out of range"; });
  c.chunk_symbols = static_cast<uint32_t>(chunk);
  check(max_code_length >= 0 && max_code_length <= 64, Errc::invalid_argument,
        [&] { return "max_code_length " + std::to_string(max_code_length) + " out of range"; });
  c.max_code_length = static_cast<int>(max_code_length);
  check(seed >= 0, Errc::invalid_argument,
        [&] { return "seed " + std::to_string(seed) + " is negative"; });
  c.seed = static_cast<uint64_t>(seed);
  c.shared_code = shared_code;
  c.non_finite = parse_non_finite(non_finite);
  check(threads >= 0 && threads <= 1024, Errc::invalid_argument,
        [&] { return "threads " + std::to_string(threads) + " out of range"; });
  c.threads = static_cast<int>(threads);
  check(entries_per_symbol >= 0 && entries_per_symbol <= 4 && zero_block >= 0 && zero_block <= 64,
        Errc::invalid_argument, [&] {
          return "entries_per_symbol " + std::to_string(entries_per_symbol) + " or zero_block " +
                 std::to_string(zero_block) + " out of range";
        });
  c.entries_per_symbol = static_cast<int>(entries_per_symbol);
  c.zero_block = static_cast<int>(zero_block);
  validate(c);
  return c;
}

#define CO3_CONFIG_SCHEMA                                                                       \
  "str format='e5m2', str rounding='nearest', str scale='gennorm', str code='histogram', "      \
  "int chunk=4096, int max_code_length=0, int seed=0, bool shared_code=False, "                 \
  "str non_finite='error', int threads=0, int entries_per_symbol=0, int zero_block=0"
#define CO3_CONFIG_PARAMS                                                                       \
  const std::string &format, const std::string &rounding, const std::string &scale,            \
      const std::string &code, int64_t chunk, int64_t max_code_length, int64_t seed,            \
      bool shared_code, const std::string &non_finite, int64_t threads,                         \
      int64_t entries_per_symbol, int64_t zero_block
#define CO3_CONFIG_ARGS                                                                         \
  format, rounding, scale, code, chunk, max_code_length, seed, shared_code, non_finite, threads, \
      entries_per_symbol, zero_block

at::Tensor op_encode(const std::vector<at::Tensor>& tensors, CO3_CONFIG_PARAMS) {
  return translate_errors([&] { return Codec(make_config(CO3_CONFIG_ARGS)).encode(tensors); });
}

void op_encode_into(const std::vector<at::Tensor>& tensors, const at::Tensor& buffer, CO3_CONFIG_PARAMS) {
  translate_errors([&] {
    Codec(make_config(CO3_CONFIG_ARGS)).encode_into(tensors, buffer);
    return 0;
  });
}

int64_t op_max_packet_bytes(const std::vector<at::Tensor>& tensors, CO3_CONFIG_PARAMS) {
  return translate_errors([&] { return Codec(make_config(CO3_CONFIG_ARGS)).max_packet_bytes(tensors); });
}

std::vector<at::Tensor> op_decode(const at::Tensor& packet, std::optional<c10::Device> device,
                                  bool as_float32, int64_t threads) {
  return translate_errors([&] {
    CodecConfig c;
    c.threads = static_cast<int>(threads);
    return Codec(c).decode(packet, device, as_float32);
  });
}

void op_decode_into(const at::Tensor& packet, const std::vector<at::Tensor>& outputs, int64_t threads,
                    bool accumulate) {
  translate_errors([&] {
    CodecConfig c;
    c.threads = static_cast<int>(threads);
    Codec(c).decode_into(packet, outputs, accumulate);
    return 0;
  });
}

void op_decode_accumulate(const std::vector<at::Tensor>& packets, const std::vector<at::Tensor>& outputs,
                          const std::optional<std::vector<std::string>>& labels, int64_t threads) {
  translate_errors([&] {
    CodecConfig c;
    c.threads = static_cast<int>(threads);
    Codec(c).decode_accumulate(packets, outputs, labels.value_or(std::vector<std::string>{}));
    return 0;
  });
}

int64_t op_packet_size(const at::Tensor& packet) {
  return translate_errors([&] { return packet_size(packet); });
}

c10::Dict<std::string, double> op_stats(const at::Tensor& tensor, CO3_CONFIG_PARAMS) {
  return translate_errors([&] {
    const TensorStats s = Codec(make_config(CO3_CONFIG_ARGS)).stats(tensor);
    c10::Dict<std::string, double> d;
    d.insert("n", static_cast<double>(s.n));
    d.insert("beta", s.beta);
    d.insert("alpha", s.alpha);
    d.insert("scale", s.scale);
    d.insert("entropy_bits", s.entropy_bits);
    d.insert("bits_histogram", s.bits_per_entry[0]);
    d.insert("bits_gennorm", s.bits_per_entry[1]);
    d.insert("bits_normal", s.bits_per_entry[2]);
    d.insert("bits_laplace", s.bits_per_entry[3]);
    d.insert("packet_bits_per_entry", s.packet_bits_per_entry);
    d.insert("target_bits_per_entry", s.target_bits_per_entry);
    d.insert("nmse", s.nmse);
    return d;
  });
}

// The compressor as a TorchScript class: torch.classes.co3.Compressor.
struct CompressorClass : torch::CustomClassHolder {
  Compressor impl;
  explicit CompressorClass(CompressorOptions o) : impl(o) {}
};

c10::intrusive_ptr<CompressorClass> make_compressor(CO3_CONFIG_PARAMS, double gamma,
                                                    const std::string& refit, int64_t refit_every,
                                                    double average_decay) {
  return translate_errors([&] {
    CompressorOptions o;
    o.config = make_config(CO3_CONFIG_ARGS);
    o.gamma = static_cast<float>(gamma);
    o.refit = parse_refit(refit);
    o.refit_every = refit_every;
    o.average_decay = average_decay;
    return c10::make_intrusive<CompressorClass>(o);
  });
}

std::vector<int64_t> shard_bounds_op(int64_t entries, int64_t world_size, int64_t chunk) {
  return translate_errors([&] {
    check(world_size >= 1 && world_size <= (int64_t{1} << 20), Errc::invalid_argument,
          "shard_bounds: world size out of range");
    return shard_bounds(entries, static_cast<int>(world_size), chunk);
  });
}

// compressed_allreduce over a torch.distributed process group (blocking): [packet bytes, bytes
// sent, bytes received, entries, summed packet bytes, summed entries, recut] of this rank. `shard` is rsag's summed-shard compressor.
std::vector<int64_t> op_compressed_allreduce(const c10::intrusive_ptr<c10d::ProcessGroup>& group,
                                             const c10::intrusive_ptr<CompressorClass>& compressor,
                                             const std::optional<c10::intrusive_ptr<CompressorClass>>& shard,
                                             const std::vector<std::string>& names,
                                             const std::vector<at::Tensor>& grads,
                                             const std::string& algorithm) {
  return translate_errors([&] {
    const CommStats s = compressed_allreduce(*group, compressor->impl, names, grads,
                                             parse_algorithm(algorithm),
                                             shard ? &(*shard)->impl : nullptr);
    return std::vector<int64_t>{s.packet_bytes, s.sent_bytes, s.received_bytes, s.elements,
                                s.summed_packet_bytes, s.summed_elements, s.recut};
  });
}

}  // namespace
}  // namespace co3

TORCH_LIBRARY(co3, m) {
  using namespace co3;
  m.def("encode(Tensor[] tensors, *, " CO3_CONFIG_SCHEMA ") -> Tensor", &op_encode);
  m.def("encode_into(Tensor[] tensors, Tensor(a!) buffer, *, " CO3_CONFIG_SCHEMA ") -> ()", &op_encode_into);
  m.def("max_packet_bytes(Tensor[] tensors, *, " CO3_CONFIG_SCHEMA ") -> int", &op_max_packet_bytes);
  m.def("decode(Tensor packet, *, Device? device=None, bool as_float32=False, int threads=0) -> Tensor[]",
        &op_decode);
  m.def("decode_into(Tensor packet, Tensor(a!)[] outputs, *, int threads=0, bool accumulate=False) -> ()",
        &op_decode_into);
  m.def("decode_accumulate(Tensor[] packets, Tensor(a!)[] outputs, *, str[]? labels=None, int threads=0) -> ()",
        &op_decode_accumulate);
  m.def("packet_size(Tensor packet) -> int", &op_packet_size);
  m.def("stats(Tensor tensor, *, " CO3_CONFIG_SCHEMA ") -> Dict(str, float)", &op_stats);

  m.class_<CompressorClass>("Compressor")
      .def_static("create", &make_compressor)
      .def("compress",
           [](const c10::intrusive_ptr<CompressorClass>& self, std::vector<std::string> names,
              std::vector<at::Tensor> grads) {
             return translate_errors([&] { return self->impl.compress(names, grads); });
           })
      .def("memory",
           [](const c10::intrusive_ptr<CompressorClass>& self, std::string name) {
             return translate_errors([&] { return self->impl.memory(name); });
           })
      .def("set_memory",
           [](const c10::intrusive_ptr<CompressorClass>& self, std::string name, at::Tensor memory) {
             translate_errors([&] { self->impl.set_memory(name, memory); });
           })
      .def("restore_statistics",
           [](const c10::intrusive_ptr<CompressorClass>& self, std::string name) {
             self->impl.restore_statistics(name);
           })
      .def("step", [](const c10::intrusive_ptr<CompressorClass>& self) { return self->impl.step(); })
      .def("names", [](const c10::intrusive_ptr<CompressorClass>& self) { return self->impl.names(); })
      .def("state_dict",
           [](const c10::intrusive_ptr<CompressorClass>& self) {
             c10::Dict<std::string, at::Tensor> d;
             for (const auto& [k, v] : self->impl.state()) d.insert(k, v);
             return d;
           })
      .def("load_state_dict",
           [](const c10::intrusive_ptr<CompressorClass>& self, c10::Dict<std::string, at::Tensor> d) {
             std::map<std::string, at::Tensor> s;
             for (const auto& kv : d) s[kv.key()] = kv.value();
             translate_errors([&] {
               self->impl.load_state(s);
               return 0;
             });
           })
      .def("save",
           [](const c10::intrusive_ptr<CompressorClass>& self, std::string path) {
             translate_errors([&] {
               self->impl.save(path);
               return 0;
             });
           })
      .def("load", [](const c10::intrusive_ptr<CompressorClass>& self, std::string path) {
        translate_errors([&] {
          self->impl.load(path);
          return 0;
        });
      });
  // After the class: its schema names it.
  m.def("compressed_allreduce(__torch__.torch.classes.c10d.ProcessGroup process_group, "
        "__torch__.torch.classes.co3.Compressor compressor, "
        "__torch__.torch.classes.co3.Compressor? shard, str[] names, Tensor(a!)[] grads, "
        "str algorithm='allgather') -> int[]",
        &op_compressed_allreduce);
  m.def("shard_bounds(int entries, int world_size, int chunk) -> int[]", &shard_bounds_op);
  m.def("choose_algorithm(int world_size, int entries, int chunk) -> str",
        [](int64_t world_size, int64_t entries, int64_t chunk) -> std::string {
          return to_string(choose_algorithm(static_cast<int>(std::min<int64_t>(world_size, 1 << 20)),
                                            entries, chunk));
        });
}
