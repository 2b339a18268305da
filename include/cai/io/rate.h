// A counted rate: how many of `total` passed. Every report's rates take this one shape in JSON,
// {"rate": pass / total, "pass": k, "total": n, "ci95": [lo, hi]}, written and read here (the
// interval is written for readers; it is recomputed, not read). A rate of nothing (total 0) is
// unknown: reports show it as n/a, not 0%.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>

#include "cai/io/error.h"
#include "cai/io/json.h"

namespace cai {

// The Wilson score interval for k successes in n trials (Wilson 1927), z = 1.96 for 95%:
//   (p + z^2/2n -+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n),  p = k/n;  [0, 1] when n = 0.
struct Interval {
  double lo = 0.0, hi = 1.0;
};
Interval wilson_interval(std::int64_t k, std::int64_t n, double z = 1.959963984540054);
// The same for an observed rate p = k / n in [0, 1] where k need not be whole (wins counting
// ties as half).
Interval wilson_interval_rate(double p, std::int64_t n, double z = 1.959963984540054);

struct CountedRate {
  std::int64_t pass = 0, total = 0;

  void add(bool ok) {
    pass += ok ? 1 : 0;
    ++total;
  }
  double rate() const {
    return total ? static_cast<double>(pass) / static_cast<double>(total) : 0.0;
  }
  bool known() const { return total > 0; }
  Interval ci95() const { return wilson_interval(pass, total); }
};

inline nlohmann::json to_json(const CountedRate& r) {
  const Interval ci = r.ci95();
  return {{"rate", r.rate()}, {"pass", r.pass}, {"total", r.total}, {"ci95", {ci.lo, ci.hi}}};
}

// "91.5% [88.1, 94.1]": the rate and its 95% interval in percent; "n/a" for a rate of nothing.
std::string percent_with_ci(const CountedRate& r);

// One line of a rates table: the label, percent_with_ci and the counts, newline-terminated.
std::string rate_row(std::string_view label, const CountedRate& r);

// `where` names the file and key in errors ("round-1/eval.json: compliance.overall").
inline CountedRate counted_rate(const nlohmann::json& j, const std::string& where) {
  CountedRate r;
  r.pass = json_field::count(j, "pass", where);
  r.total = json_field::count(j, "total", where);
  CAI_CHECK(r.pass <= r.total, "{}: pass {} exceeds total {}", where, r.pass, r.total);
  return r;
}

}  // namespace cai
