// Calibration of soft labels and agreement intervals (see include/cai/eval/calibration.h).
#include "cai/eval/calibration.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "cai/io/error.h"
#include "cai/io/json.h"

namespace cai::eval {

nlohmann::json Calibration::to_json() const {
  nlohmann::json b = nlohmann::json::array();
  for (const auto& x : bins)
    b.push_back({{"lo", x.lo},
                 {"hi", x.hi},
                 {"count", x.count},
                 {"confidence", x.confidence},
                 {"accuracy", x.accuracy}});
  return {{"n", n},         {"ece", ece},           {"mce", mce},
          {"brier", brier}, {"accuracy", accuracy}, {"mean_confidence", mean_confidence},
          {"bins", b}};
}

Calibration calibration(const std::vector<double>& confidence, const std::vector<bool>& right,
                        int bins, double lo) {
  CAI_CHECK(confidence.size() == right.size(), "calibration: {} confidences but {} outcomes",
            confidence.size(), right.size());
  CAI_CHECK(bins >= 1, "calibration: bins must be >= 1, got {}", bins);
  CAI_CHECK(lo >= 0.0 && lo < 1.0, "calibration: lo must be in [0, 1), got {}", lo);
  Calibration c;
  c.n = static_cast<std::int64_t>(confidence.size());
  std::vector<double> conf_sum(static_cast<std::size_t>(bins), 0.0);
  std::vector<std::int64_t> hits(static_cast<std::size_t>(bins), 0);
  c.bins.resize(static_cast<std::size_t>(bins));
  const double width = (1.0 - lo) / bins;
  for (int b = 0; b < bins; ++b) {
    c.bins[static_cast<std::size_t>(b)].lo = lo + b * width;
    c.bins[static_cast<std::size_t>(b)].hi = b + 1 == bins ? 1.0 : lo + (b + 1) * width;
  }
  std::int64_t right_total = 0;
  double conf_total = 0.0, brier = 0.0;
  for (std::size_t i = 0; i < confidence.size(); ++i) {
    const double p = confidence[i];
    CAI_CHECK(std::isfinite(p) && p >= lo && p <= 1.0,
              "calibration: confidence {} of prediction {} is outside [{}, 1]", p, i, lo);
    const auto b = std::min<std::size_t>(static_cast<std::size_t>((p - lo) / width),
                                         static_cast<std::size_t>(bins - 1));
    c.bins[b].count += 1;
    conf_sum[b] += p;
    hits[b] += right[i];
    right_total += right[i];
    conf_total += p;
    brier += (p - (right[i] ? 1.0 : 0.0)) * (p - (right[i] ? 1.0 : 0.0));
  }
  for (std::size_t b = 0; b < c.bins.size(); ++b) {
    ReliabilityBin& x = c.bins[b];
    if (x.count == 0) continue;
    x.confidence = conf_sum[b] / static_cast<double>(x.count);
    x.accuracy = static_cast<double>(hits[b]) / static_cast<double>(x.count);
    const double gap = std::abs(x.accuracy - x.confidence);
    c.ece += static_cast<double>(x.count) / static_cast<double>(c.n) * gap;
    c.mce = std::max(c.mce, gap);
  }
  if (c.n > 0) {
    c.accuracy = static_cast<double>(right_total) / static_cast<double>(c.n);
    c.mean_confidence = conf_total / static_cast<double>(c.n);
    c.brier = brier / static_cast<double>(c.n);
  }
  return c;
}

nlohmann::json Agreement::to_json() const {
  const Interval ci = ci95();
  return {{"agree", agree}, {"n", n}, {"rate", rate()}, {"ci95", {ci.lo, ci.hi}}};
}

Agreement Agreement::from_json(const nlohmann::json& j, const std::string& where) {
  using json_field::count;
  Agreement a{count(j, "agree", where), count(j, "n", where)};
  CAI_CHECK(a.agree <= a.n, "{}: agree {} exceeds n {}", where, a.agree, a.n);
  return a;
}

Calibration Calibration::from_json(const nlohmann::json& j, const std::string& where) {
  using json_field::count;
  using json_field::number;
  Calibration c;
  c.n = count(j, "n", where);
  c.ece = number(j, "ece", where);
  c.mce = number(j, "mce", where);
  c.brier = number(j, "brier", where);
  c.accuracy = number(j, "accuracy", where);
  c.mean_confidence = number(j, "mean_confidence", where);
  json_field::for_each(
      json_field::any(j, "bins", where), where + ".bins",
      [&](const nlohmann::json& b, const std::string& at) {
        c.bins.push_back({number(b, "lo", at), number(b, "hi", at), count(b, "count", at),
                          number(b, "confidence", at), number(b, "accuracy", at)});
      });
  return c;
}

}  // namespace cai::eval
