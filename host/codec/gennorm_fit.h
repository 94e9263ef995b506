// fit_gennorm (gennorm.h) on the host in about half the evaluations of gennorm_ratio, with the
// same bits. Internal to host/.
#pragma once

#include <cstdint>

#include "co3/gennorm.h"

namespace co3::detail {

// Exactly fit_gennorm(mean_abs, mean_sq). tests/cpu/test_gennorm_fit.cpp compares the two.
GenNormFit fit_gennorm_host(double mean_abs, double mean_sq);

// How many calls so far found the estimate's check failing and ran the plain bisection (for
// the test that the shortcut is taken).
uint64_t fit_gennorm_host_fallbacks();

}  // namespace co3::detail
