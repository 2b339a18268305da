// Counted rates and their Wilson intervals, against values worked by hand.
#include <gtest/gtest.h>

#include "cai/io/error.h"
#include "cai/io/rate.h"

namespace cai {
namespace rate_test {

TEST(Rate, WilsonIntervals) {
  // 8 of 10 at z = 1.96: p + z^2/2n = 0.99208, z sqrt(p(1-p)/n + z^2/4n^2) = 0.313624,
  // 1 + z^2/n = 1.38416.
  const Interval a = wilson_interval(8, 10, 1.96);
  EXPECT_NEAR(a.lo, 0.678456 / 1.38416, 1e-5);
  EXPECT_NEAR(a.hi, 1.305704 / 1.38416, 1e-5);
  const Interval b = wilson_interval(0, 10, 1.96);
  EXPECT_NEAR(b.lo, 0.0, 1e-12);
  EXPECT_NEAR(b.hi, 0.38416 / 1.38416, 1e-9);
  const Interval c = wilson_interval(0, 0);
  EXPECT_EQ(c.lo, 0.0);
  EXPECT_EQ(c.hi, 1.0);
  EXPECT_THROW(wilson_interval(3, 2), Error);
  // Half-counted ties: 7.5 of 10 is the rate 0.75.
  const Interval d = wilson_interval_rate(0.75, 10, 1.96);
  EXPECT_LT(d.lo, 0.75);
  EXPECT_GT(d.hi, 0.75);
}

TEST(Rate, JsonAndTextCarryTheInterval) {
  const CountedRate r{8, 10};
  const auto j = to_json(r);
  EXPECT_EQ(j["pass"], 8);
  EXPECT_EQ(j["total"], 10);
  EXPECT_NEAR(j["ci95"][0].get<double>(), 0.4902, 1e-3);
  EXPECT_NEAR(j["ci95"][1].get<double>(), 0.9433, 1e-3);
  const CountedRate back = counted_rate(j, "x");
  EXPECT_EQ(back.pass, 8);
  EXPECT_EQ(back.total, 10);
  EXPECT_EQ(percent_with_ci(r), "80.0% [49.0, 94.3]");
  EXPECT_EQ(percent_with_ci(CountedRate{}), "n/a");
  // A table row: the label padded to 28, the rate right-aligned in 20, then the counts.
  EXPECT_EQ(rate_row("overall", r),
            "overall                        80.0% [49.0, 94.3]  (8/10)\n");
  EXPECT_EQ(rate_row("empathy", CountedRate{}),
            "empathy                                       n/a  (0/0)\n");
}

}  // namespace rate_test
}  // namespace cai
