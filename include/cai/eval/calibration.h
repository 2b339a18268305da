// Whether a judge's confidence can be trusted: calibration of its soft labels against a
// reference (the world's oracle, or gold labels), and agreement rates with their intervals.
//
// A judge gives the response it prefers a probability p >= 0.5 (its confidence); the
// reference says whether that preference was right. Confidences are grouped in equal-width
// bins; per bin the mean confidence is set against the share that was right (a reliability
// diagram), and the expected calibration error weighs the gaps by the bins' sizes
// (Naeini et al. 2015, "Obtaining Well Calibrated Probabilities Using Bayesian Binning";
// Guo et al. 2017, "On Calibration of Modern Neural Networks", eq. 3):
//   ECE = sum_b (n_b / n) |accuracy_b - confidence_b|,   MCE = max_b |accuracy_b - confidence_b|.
// The Brier score is the mean of (p - right)^2 over the same predictions.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "cai/io/rate.h"

namespace cai::eval {

struct ReliabilityBin {
  double lo = 0.0, hi = 0.0;  // [lo, hi); the last bin includes hi
  std::int64_t count = 0;
  double confidence = 0.0;  // mean confidence of its predictions (0 when empty)
  double accuracy = 0.0;    // share of them that were right (0 when empty)
};

struct Calibration {
  std::int64_t n = 0;
  double ece = 0.0, mce = 0.0, brier = 0.0;
  double accuracy = 0.0, mean_confidence = 0.0;
  std::vector<ReliabilityBin> bins;
  // {"n", "ece", "mce", "brier", "accuracy", "mean_confidence",
  //  "bins": [{"lo", "hi", "count", "confidence", "accuracy"}]}
  nlohmann::json to_json() const;
  // `where` names the source in errors.
  static Calibration from_json(const nlohmann::json& j, const std::string& where);
};

// confidence[i] in [lo, 1] (a value below lo is an error), right[i] whether the prediction
// held; `bins` equal bins over [lo, 1]. lo is 0.5 for a preference between two responses.
Calibration calibration(const std::vector<double>& confidence, const std::vector<bool>& right,
                        int bins = 10, double lo = 0.5);

// The Wilson interval lives with counted rates (io/rate.h); agreements use it here.
using cai::Interval;
using cai::wilson_interval;
using cai::wilson_interval_rate;

// An agreement count with its rate and 95% Wilson interval:
// {"agree": k, "n": n, "rate": k / n (0 when n = 0), "ci95": [lo, hi]}.
struct Agreement {
  std::int64_t agree = 0, n = 0;
  double rate() const { return n ? static_cast<double>(agree) / static_cast<double>(n) : 0.0; }
  Interval ci95() const { return wilson_interval(agree, n); }
  nlohmann::json to_json() const;
  static Agreement from_json(const nlohmann::json& j, const std::string& where);
};
inline nlohmann::json agreement_json(std::int64_t agree, std::int64_t n) {
  return Agreement{agree, n}.to_json();
}

}  // namespace cai::eval
