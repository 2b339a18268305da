// A counted rate: how many of `total` passed. Every report's rates take this one shape in JSON,
// {"rate": pass / total, "pass": k, "total": n}, written and read here. A rate of nothing
// (total 0) is unknown: reports show it as n/a, not 0%.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

#include "cai/io/error.h"
#include "cai/io/json.h"

namespace cai {

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
};

inline nlohmann::json to_json(const CountedRate& r) {
  return {{"rate", r.rate()}, {"pass", r.pass}, {"total", r.total}};
}

// `where` names the file and key in errors ("round-1/eval.json: compliance.overall").
inline CountedRate counted_rate(const nlohmann::json& j, const std::string& where) {
  CountedRate r;
  r.pass = json_field::count(j, "pass", where);
  r.total = json_field::count(j, "total", where);
  CAI_CHECK(r.pass <= r.total, "{}: pass {} exceeds total {}", where, r.pass, r.total);
  return r;
}

}  // namespace cai
