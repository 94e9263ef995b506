// Placeholder until co3_make_scale_tables has written the presets.
#include "co3/gennorm_scale.h"
namespace co3 {
const ScaleTable* preset_scale_table(FloatFormat, Rounding) { return nullptr; }
}  // namespace co3
