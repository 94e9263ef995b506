// The consumer of tests/consumer/CMakeLists.txt, compiled with -march=native -ffp-contract=fast.
// Exit status 0 when (1) every golden packet is encoded byte for byte, (2) co3's inline math
// compiled here (moments, the GenNorm fit) gives the fields co3_core wrote into those packets,
// and (3) fadd(fmul(a, b), c) compiled here is two roundings, not one fused multiply-add.
#include <cstdio>
#include <vector>

#include "../golden/golden_cases.h"
#include "co3/detail/encode_stats.h"
#include "co3/dtype.h"
#include "co3/moments.h"

namespace {

// A segment's moments as host/codec/encode_quantize.cpp folds them (tiles of kTileEntries, pairwise), here.
co3::Moments moments_here(const co3::golden::Tensor& t) {
  std::vector<co3::Moments> tiles;
  for (uint64_t first = 0; first < t.numel; first += co3::kTileEntries) {
    const uint64_t count =
        t.numel - first < co3::kTileEntries ? t.numel - first : co3::kTileEntries;
    tiles.push_back(co3::tile_moments(
        [&](size_t i) { return co3::load_as_float(t.bytes.data(), t.dtype, first + i); }, count));
  }
  return co3::fold_pairwise(tiles);
}

}  // namespace

int main(int argc, char**) {
  int failures = 0, packets = 0, fits = 0;
  for (const co3::golden::Case& c : co3::golden::cases()) {
    if (c.missing_data) continue;
    const std::vector<uint8_t> packet = co3::golden::encode_cpu(c);
    const std::vector<uint8_t> want =
        co3::golden::read_file(co3::golden::golden_dir() + "/" + c.name + ".co3");
    ++packets;
    if (packet != want) {
      std::printf("golden case %s: the packet differs from tests/golden\n", c.name.c_str());
      ++failures;
      continue;
    }
    if (c.steps != 1) continue;
    const co3::PacketInfo info = co3::inspect(packet.data(), packet.size());
    for (size_t k = 0; k < c.tensors.size(); ++k) {
      const co3::golden::Tensor& t = c.tensors[k];
      if (!t.memory.empty() || t.fit || t.numel == 0) continue;
      const co3::Moments m = moments_here(t);
      const co3::GenNormFit fit = co3::detail::segment_fit(m, false, 0, 0);
      ++fits;
      if (co3::detail::fit_field(fit.beta) != info.segments[k].beta ||
          co3::detail::fit_field(fit.alpha) != info.segments[k].alpha) {
        std::printf("golden case %s, tensor %zu: the fit computed here differs from co3_core's\n",
                    c.name.c_str(), k);
        ++failures;
      }
    }
  }
  // 1 + 2^-23 squared is 1 + 2^-22 + 2^-46: rounded, then minus (1 + 2^-22), exactly 0; fused,
  // 2^-46. The operands come from argc so that nothing is folded at compile time.
  const float a = 1.0f + 0x1p-23f * static_cast<float>(argc);
  const float c = -(1.0f + 0x1p-22f * static_cast<float>(argc));
  const float r = co3::detail::fadd(co3::detail::fmul(a, a), c);
  if (r != 0.0f) {
    std::printf("fadd(fmul(a, a), c) = %a: fused into one rounding in this consumer\n", r);
    ++failures;
  }
  std::printf("%d golden packets, %d fits compared; %d failures\n", packets, fits, failures);
  return failures == 0 && packets >= 17 && fits >= 5 ? 0 : 1;
}
