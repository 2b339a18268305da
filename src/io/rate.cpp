// Wilson intervals of counted rates (see include/cai/io/rate.h).
#include "cai/io/rate.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace cai {

Interval wilson_interval(std::int64_t k, std::int64_t n, double z) {
  CAI_CHECK(n >= 0 && k >= 0 && k <= n, "wilson interval: {} successes in {} trials", k, n);
  return wilson_interval_rate(n ? static_cast<double>(k) / static_cast<double>(n) : 0.0, n, z);
}

Interval wilson_interval_rate(double p, std::int64_t n, double z) {
  CAI_CHECK(n >= 0 && p >= 0.0 && p <= 1.0, "wilson interval: rate {} over {} trials", p, n);
  if (n == 0) return {0.0, 1.0};
  const double nn = static_cast<double>(n), z2 = z * z;
  const double centre = p + z2 / (2 * nn);
  const double half = z * std::sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn));
  const double denom = 1 + z2 / nn;
  return {std::max(0.0, (centre - half) / denom), std::min(1.0, (centre + half) / denom)};
}

std::string percent_with_ci(const CountedRate& r) {
  if (!r.known()) return "n/a";
  const Interval ci = r.ci95();
  return fmt::format("{:.1f}% [{:.1f}, {:.1f}]", 100 * r.rate(), 100 * ci.lo, 100 * ci.hi);
}

std::string rate_row(std::string_view label, const CountedRate& r) {
  return fmt::format("{:<28} {:>20}  ({}/{})\n", label, percent_with_ci(r), r.pass, r.total);
}

}  // namespace cai
