// The GenNorm scale tables: computing one, and the per-process cache (gennorm_scale.h).
#include "co3/gennorm_scale.h"

#include <map>
#include <memory>
#include <mutex>
#include <tuple>

#include "co3/config.h"
#include "thread_pool.h"

namespace co3 {

ScaleTable make_scale_table(FloatFormat f, Rounding r, int threads) {
  validate(f);
  ScaleTable t{};
  detail::parallel_for(kScaleGridPoints, detail::resolve_threads(threads), 1, [&](size_t b, size_t e) {
    for (size_t k = b; k < e; ++k)
      t.log_t[k] = detail::log(gennorm_optimal_t(f, r, scale_grid_beta(static_cast<int>(k))));
  });
  return t;
}

const ScaleTable& scale_table(FloatFormat f, Rounding r) {
  if (const ScaleTable* preset = preset_scale_table(f, r)) return *preset;
  using Key = std::tuple<int, int, int, int, int>;
  static std::mutex lock;
  static std::map<Key, std::unique_ptr<ScaleTable>> cache;
  const Key key{f.exp_bits, f.man_bits, f.bias, static_cast<int>(f.layout), static_cast<int>(r)};
  // Computed under the lock: two threads asking for the same new format wait for one result.
  std::lock_guard<std::mutex> guard(lock);
  std::unique_ptr<ScaleTable>& slot = cache[key];
  if (!slot) slot = std::make_unique<ScaleTable>(make_scale_table(f, r));
  return *slot;
}

}  // namespace co3
