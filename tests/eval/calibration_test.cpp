// Calibration of soft labels and agreement intervals (calibration.h) against hand-computed
// values.
#include <gtest/gtest.h>

#include <cmath>

#include "cai/eval/calibration.h"
#include "cai/io/error.h"

namespace cai::eval {
namespace {

// Six predictions in five bins of [0.5, 1]:
//   [0.5, 0.6): 0.55 right              -> confidence 0.55, accuracy 1,   gap 0.45
//   [0.6, 0.7): 0.65 wrong, 0.65 right  -> confidence 0.65, accuracy 0.5, gap 0.15
//   [0.7, 0.8): none
//   [0.8, 0.9): 0.85 right              -> confidence 0.85, accuracy 1,   gap 0.15
//   [0.9, 1.0]: 0.95 right, 0.95 wrong  -> confidence 0.95, accuracy 0.5, gap 0.45
// ECE = (1 * 0.45 + 2 * 0.15 + 1 * 0.15 + 2 * 0.45) / 6 = 0.3; MCE = 0.45;
// Brier = (0.45^2 + 0.65^2 + 0.35^2 + 0.15^2 + 0.05^2 + 0.95^2) / 6 = 1.675 / 6.
TEST(Calibration, ExpectedCalibrationErrorOnAHandMadeExample) {
  const Calibration c = calibration({0.55, 0.65, 0.65, 0.85, 0.95, 0.95},
                                    {true, false, true, true, true, false}, 5, 0.5);
  EXPECT_EQ(c.n, 6);
  EXPECT_NEAR(c.ece, 0.3, 1e-12);
  EXPECT_NEAR(c.mce, 0.45, 1e-12);
  EXPECT_NEAR(c.brier, 1.675 / 6, 1e-12);
  EXPECT_NEAR(c.accuracy, 4.0 / 6, 1e-12);
  EXPECT_NEAR(c.mean_confidence, 4.6 / 6, 1e-12);
  ASSERT_EQ(c.bins.size(), 5u);
  const std::vector<std::int64_t> counts = {1, 2, 0, 1, 2};
  const std::vector<double> conf = {0.55, 0.65, 0.0, 0.85, 0.95}, acc = {1, 0.5, 0, 1, 0.5};
  for (std::size_t b = 0; b < 5; ++b) {
    EXPECT_NEAR(c.bins[b].lo, 0.5 + 0.1 * static_cast<double>(b), 1e-12);
    EXPECT_EQ(c.bins[b].count, counts[b]) << b;
    EXPECT_NEAR(c.bins[b].confidence, conf[b], 1e-12) << b;
    EXPECT_NEAR(c.bins[b].accuracy, acc[b], 1e-12) << b;
  }
  EXPECT_EQ(c.bins.back().hi, 1.0);
  const auto j = c.to_json();
  EXPECT_NEAR(j["ece"].get<double>(), 0.3, 1e-12);
  EXPECT_EQ(j["bins"][1]["count"], 2);
}

TEST(Calibration, CalibratedPredictionsHaveNoErrorAndEndsFallInTheEndBins) {
  // Confidence 0.75 right three times in four: calibrated.
  const Calibration c = calibration({0.75, 0.75, 0.75, 0.75}, {true, true, true, false}, 10);
  EXPECT_NEAR(c.ece, 0.0, 1e-12);
  // 0.5 and 1.0 land in the first and last bins; the range [0, 1] for one-sided events.
  const Calibration e = calibration({0.5, 1.0}, {false, true}, 4);
  EXPECT_EQ(e.bins.front().count, 1);
  EXPECT_EQ(e.bins.back().count, 1);
  EXPECT_NEAR(e.ece, 0.25, 1e-12);  // half the predictions off by 0.5
  const Calibration z = calibration({0.0, 0.3}, {false, true}, 2, 0.0);
  EXPECT_NEAR(z.ece, std::abs(0.5 - 0.15), 1e-12);  // one bin: confidence 0.15, accuracy 0.5
  EXPECT_EQ(calibration({}, {}, 3).n, 0);
}

TEST(Calibration, Errors) {
  EXPECT_THROW(calibration({0.7}, {}, 5), Error);
  EXPECT_THROW(calibration({0.4}, {true}, 5), Error);  // below the range
  EXPECT_THROW(calibration({1.2}, {true}, 5), Error);
  EXPECT_THROW(calibration({0.7}, {true}, 0), Error);
  EXPECT_THROW(wilson_interval(3, 2), Error);
}

// Wilson 95% intervals, worked by hand with z = 1.96 (and matching published tables):
// 8 of 10: (0.8 + 0.19208 -+ 1.96 sqrt(0.016 + 0.009604)) / 1.38416 = (0.4902, 0.9433);
// 0 of 10: (0, 0.38416 / 1.38416) = (0, 0.2775).
// The interval itself is tested with counted rates (tests/io/rate_test.cpp).
TEST(Calibration, AgreementCarriesItsWilsonInterval) {
  const auto j = agreement_json(8, 10);
  EXPECT_EQ(j["agree"], 8);
  EXPECT_EQ(j["n"], 10);
  EXPECT_NEAR(j["rate"].get<double>(), 0.8, 1e-12);
  EXPECT_NEAR(j["ci95"][0].get<double>(), 0.4902, 1e-3);
  EXPECT_NEAR(j["ci95"][1].get<double>(), 0.9433, 1e-3);
}

}  // namespace
}  // namespace cai::eval
