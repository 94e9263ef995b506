// co3: compress gradient files into docs/FORMAT.md packets, decompress them, measure them.
//
// Exit status: 0 success; 1 a corrupt packet; 2 a bad command line or input file. Every failure
// prints exactly one line on stderr, so that scripts can show it as is.
#include <climits>
#include <cstdio>
#include <exception>
#include <new>
#include <string>
#include <vector>

#include "args.h"
#include "co3/codec.h"
#include "co3/error.h"
#include "device.h"
#include "io/readers.h"
#include "stats_print.h"

#ifndef CO3_VERSION
#error "CO3_VERSION must be defined by the build (the project version)"
#endif

namespace co3::cli {
namespace {

constexpr uint64_t kMaxThreads = 1024;  // more only costs memory and start-up time

const char* const kUsage = "co3 " CO3_VERSION R"( - a lossy gradient codec (docs/FORMAT.md packets)

usage: co3 COMMAND ARGS [OPTIONS]

commands:
  compress IN OUT     encode a gradient file into a co3 packet
  decompress IN OUT   decode a packet into raw float32 values
  stats IN            report the statistics and sizes a compression would give

IN gradient files: .f32 (raw little-endian float32), .npy (float32 or float16, C order),
.pt (one tensor saved with torch.save). `co3 COMMAND --help` lists a command's options.
Exit status: 0 success, 1 corrupt packet, 2 bad command line or input.
)";

const char* const kCodecOptions =
    R"(  --format F            fp4|e5m2|e4m3|fp16|bf16 or E,M[,bias[,ieee|finite|fn]] (e5m2)
  --rounding R          nearest|nearest-down|stochastic (nearest)
  --seed N              key of the stochastic rounding (0)
  --scale S             none|absmax|gennorm|VALUE: how values are scaled before
                        quantization (gennorm: minimise the expected error)
  --code C              histogram|gennorm|normal|laplace: what the Huffman code is built
                        from, the measured histogram or a fitted model (histogram)
  --chunk N             symbols per independently decodable chunk, 32..65536 (4096)
  --max-code-length N   longest codeword in bits, 1..24; 0 chooses (0)
  --non-finite P        error|clamp|propagate: refuse NaN/Inf, map them to 0/the largest value,
                        or keep them (they decode to the same ±Inf/NaN) (error)
  --threads N           worker threads; 0 uses every core (0)
)";

const char* const kCompressHelp = R"(usage: co3 compress IN OUT [OPTIONS]

Quantizes the gradient in IN (.f32, .npy or .pt), entropy-codes it into a co3 packet written
to OUT, and prints one summary line on stderr.

options (defaults in parentheses):
  --device D            cpu|cuda: where to encode (cpu); cuda needs a build with CUDA
                        and a device, and gives the same bytes as cpu
)";

const char* const kDecompressHelp = R"(usage: co3 decompress IN OUT [--threads N]

Decodes the co3 packet IN and writes the values of all its segments, in order, to OUT as raw
little-endian float32 (.f32), whatever their original dtype.

options:
  --threads N           worker threads; 0 uses every core (0)
)";

const char* const kStatsHelp = R"(usage: co3 stats IN [OPTIONS] [--json]

Reports what compressing IN would give, writing nothing: the moments, the fitted GenNorm
shape beta and scale alpha, the entropy of the quantized values, the payload size under each
code source, the packet size and the normalised mean squared error.

options (defaults in parentheses):
  --json                one JSON object on stdout instead of a table
)";

const std::vector<OptionSpec> kCodecSpecs = {
    {"format", true}, {"rounding", true},        {"seed", true},       {"scale", true},
    {"code", true},   {"max-code-length", true}, {"non-finite", true}, {"chunk", true},
    {"threads", true}};

int parse_threads(const Args& a) {
  const std::string* v = a.value("threads");
  return v ? static_cast<int>(parse_uint("threads", *v, kMaxThreads)) : 0;
}

CodecConfig codec_config(const Args& a) {
  CodecConfig c;
  if (const std::string* v = a.value("format")) c.format = parse_format(*v);
  if (const std::string* v = a.value("rounding")) c.rounding = parse_rounding(*v);
  if (const std::string* v = a.value("seed")) c.seed = parse_uint("seed", *v, UINT64_MAX);
  if (const std::string* v = a.value("scale")) c.scale = parse_scale(*v);
  if (const std::string* v = a.value("code")) c.code = parse_code_source(*v);
  // Only the integer syntax is checked here; validate() owns the ranges and their messages.
  if (const std::string* v = a.value("chunk")) {
    c.chunk_symbols = static_cast<uint32_t>(parse_uint("chunk", *v, UINT32_MAX));
  }
  if (const std::string* v = a.value("max-code-length")) {
    c.max_code_length = static_cast<int>(parse_uint("max-code-length", *v, INT_MAX));
  }
  if (const std::string* v = a.value("non-finite")) c.non_finite = parse_non_finite(*v);
  c.threads = parse_threads(a);
  validate(c);
  return c;
}

void expect_positional(const std::string& command, const Args& a, const char* names,
                       size_t count) {
  if (a.positional.size() < count) {
    fail(Errc::invalid_argument,
         "co3 " + command + " needs " + names + " (see co3 " + command + " --help)");
  }
  if (a.positional.size() > count) {
    fail(Errc::invalid_argument, "co3 " + command + ": unexpected argument '" +
                                     a.positional[count] + "'");
  }
}

TensorView view_of(const io::LoadedTensor& t) { return {t.bytes.data(), t.numel, t.dtype}; }

int compress(const std::vector<std::string>& argv) {
  std::vector<OptionSpec> specs = kCodecSpecs;
  specs.push_back({"device", true});
  const Args a = parse_args("compress", argv, specs);
  if (a.help) {
    std::fputs(kCompressHelp, stdout);
    std::fputs(kCodecOptions, stdout);
    return 0;
  }
  expect_positional("compress", a, "IN and OUT", 2);
  const CodecConfig config = codec_config(a);
  const std::string* device_name = a.value("device");
  const Device device = device_name ? parse_device(*device_name) : Device::cpu;
  // Before any input is read: a GPU run that cannot happen fails at once.
  require_device(device);
  const io::LoadedTensor tensor = io::load_tensor_file(a.positional[0]);
  const std::vector<uint8_t> packet = device == Device::cuda
                                          ? encode_on_device(view_of(tensor), config)
                                          : encode(view_of(tensor), config);
  io::write_file(a.positional[1], packet.data(), packet.size());

  std::string rate;
  if (tensor.numel != 0) {
    char buf[64];
    std::snprintf(buf, sizeof buf, ", %.4g bits/entry",
                  8.0 * static_cast<double>(packet.size()) / static_cast<double>(tensor.numel));
    rate = buf;
  }
  std::fprintf(stderr, "co3: %llu %s entries -> %zu bytes%s (%s, %s code)\n",
               static_cast<unsigned long long>(tensor.numel), to_string(tensor.dtype),
               packet.size(), rate.c_str(), to_string(config.format).c_str(),
               to_string(config.code));
  return 0;
}

int decompress(const std::vector<std::string>& argv) {
  const Args a = parse_args("decompress", argv, {{"threads", true}});
  if (a.help) {
    std::fputs(kDecompressHelp, stdout);
    return 0;
  }
  expect_positional("decompress", a, "IN and OUT", 2);
  const int threads = parse_threads(a);
  std::vector<uint8_t> packet;
  io::read_file(a.positional[0], packet);

  // inspect() has checked every element count against the payload present, so the total is
  // bounded by the packet's size; the overflow check only guards the arithmetic.
  const PacketInfo info = inspect(packet.data(), packet.size());
  uint64_t total = 0;
  for (const SegmentInfo& s : info.segments) {
    check(!__builtin_add_overflow(total, s.numel, &total), Errc::corrupt_packet,
          "element counts overflow");
  }
  std::vector<float> values(total);
  std::vector<void*> outputs;
  uint64_t offset = 0;
  for (const SegmentInfo& s : info.segments) {
    outputs.push_back(values.data() + offset);
    offset += s.numel;
  }
  decode_into(packet.data(), packet.size(), outputs, /*as_f32=*/true, threads);
  io::write_f32_file(a.positional[1], values.data(), values.size());
  return 0;
}

int stats_command(const std::vector<std::string>& argv) {
  std::vector<OptionSpec> specs = kCodecSpecs;
  specs.push_back({"json", false});
  const Args a = parse_args("stats", argv, specs);
  if (a.help) {
    std::fputs(kStatsHelp, stdout);
    std::fputs(kCodecOptions, stdout);
    return 0;
  }
  expect_positional("stats", a, "IN", 1);
  const CodecConfig config = codec_config(a);
  const io::LoadedTensor tensor = io::load_tensor_file(a.positional[0]);
  const TensorStats s = stats(view_of(tensor), config);
  if (a.has("json")) {
    print_stats_json(stdout, s, config);
  } else {
    print_stats_table(stdout, s, config);
  }
  return 0;
}

int run(const std::vector<std::string>& argv) {
  if (argv.empty()) fail(Errc::invalid_argument, "no command given (see co3 --help)");
  const std::string& command = argv[0];
  const std::vector<std::string> rest(argv.begin() + 1, argv.end());
  if (command == "--help" || command == "-h") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (command == "--version") {
    std::puts("co3 " CO3_VERSION);
    return 0;
  }
  if (command == "compress") return compress(rest);
  if (command == "decompress") return decompress(rest);
  if (command == "stats") return stats_command(rest);
  fail(Errc::invalid_argument, "unknown command '" + command + "' (see co3 --help)");
}

// Messages from libraries may span lines; the contract is one line per failure.
int report(const char* prefix, std::string message, int status) {
  for (char& c : message) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  std::fprintf(stderr, "co3: %s: %s\n", prefix, message.c_str());
  return status;
}

}  // namespace
}  // namespace co3::cli

int main(int argc, char** argv) {
  using namespace co3::cli;
  try {
    return run(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const co3::Error& e) {
    if (e.code() == co3::Errc::corrupt_packet) return report("corrupt packet", e.what(), 1);
    return report("error", e.what(), 2);
  } catch (const std::bad_alloc&) {
    return report("error", "out of memory", 2);
  } catch (const std::exception& e) {
    return report("error", e.what(), 2);
  } catch (...) {
    return report("error", "unexpected failure", 2);
  }
}
