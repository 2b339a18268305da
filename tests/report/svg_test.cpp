#include <gtest/gtest.h>

#include <cmath>
#include <regex>
#include <string>
#include <vector>

#include "cai/io/error.h"
#include "cai/report/html.h"
#include "cai/report/svg.h"

namespace {

using namespace cai::report;

std::vector<std::string> all(const std::string& s, const std::string& pattern) {
  std::vector<std::string> out;
  std::regex re(pattern);
  for (std::sregex_iterator it(s.begin(), s.end(), re), end; it != end; ++it)
    out.push_back((*it)[1]);
  return out;
}

TEST(Html, EscapesEveryMarkupCharacter) {
  EXPECT_EQ(escape_html("<a href='x'>&\"</a>"), "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;");
  EXPECT_EQ(escape_html("plain é"), "plain é");
  EXPECT_EQ(percent(0.875), "87.5%");
  EXPECT_EQ(percent(std::nan("")), "n/a");
  EXPECT_EQ(number(1.23456, 2), "1.23");
}

void expect_ticks(const std::vector<double>& got, const std::vector<double>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-12) << i;
}

TEST(Svg, NiceTicksUseSteps125) {
  expect_ticks(nice_ticks(0, 1), {0, 0.2, 0.4, 0.6, 0.8, 1});  // raw step 0.2 -> 0.2
  expect_ticks(nice_ticks(0, 380), {0, 100, 200, 300});        // raw 76 -> 100
  expect_ticks(nice_ticks(-3, 12), {0, 5, 10});                // raw 3 -> 5
  expect_ticks(nice_ticks(0.52, 0.97), {0.6, 0.7, 0.8, 0.9});  // raw 0.09 -> 0.1
  EXPECT_FALSE(std::signbit(nice_ticks(-3, 12)[0]));           // no "-0" label
}

// Hand-computed frame: 640 x 300, no title, labels or legend: plot area x in [48, 624],
// y in [14, 274]; x axis 0..2 (ticks every 0.5), y fixed to 0..1.
TEST(Svg, LineChartPlacesPointsOnTheFrame) {
  ChartOptions o;
  o.name = "line";
  o.y_min = 0.0;
  o.y_max = 1.0;
  const std::string s = line_chart({Series{"", {0, 1, 2}, {0, 0.5, 1}, false, {}}}, o);
  EXPECT_NE(s.find("<svg class=\"plot\" data-plot=\"line\" width=\"640\" height=\"300\""),
            std::string::npos);
  EXPECT_NE(s.find("d=\"M48.0,274.0 L336.0,144.0 L624.0,14.0 \""), std::string::npos) << s;
  EXPECT_EQ(all(s, "<circle class=\"mark\" cx=\"([0-9.]+)\"").size(), 3u);  // a marker per point
  EXPECT_EQ(s.find("class=\"legend\""), std::string::npos);
}

TEST(Svg, LineChartGapsLegendAndLongSeries) {
  ChartOptions o;
  o.name = "gaps";
  o.title = "T <x>";
  Series a{"train", {1, 2, 3, 4}, {1, std::nan(""), 3, 4}, false, {}};
  Series b{"eval", {}, {}, true, {}};
  for (int i = 0; i < 100; ++i) b.x.push_back(i), b.y.push_back(1.0);  // flat and long
  const std::string s = line_chart({a, b}, o);
  EXPECT_EQ(all(s, "<path class=\"mark\" d=\"([^\"]+)\"").at(0).find('M', 1) != std::string::npos,
            true)
      << "the NaN starts a new sub-path";
  // 3 markers for the short series, only the last point for the long one.
  EXPECT_EQ(all(s, "<circle class=\"mark\" cx=\"([0-9.]+)\"").size(), 4u);
  EXPECT_NE(s.find("stroke-dasharray=\"5 3\""), std::string::npos);
  EXPECT_NE(s.find(">T &lt;x&gt;</text>"), std::string::npos);
  EXPECT_EQ(all(s, "class=\"legend\"[^>]*><title>([a-z]+)</title>"),
            (std::vector<std::string>{"train", "eval"}));
  Series bad{"bad", {1, 2}, {1}, false, {}};
  EXPECT_THROW(line_chart({bad}, o), cai::Error);
}

TEST(Svg, GroupedBarsOnePerSeriesAndCategory) {
  ChartOptions o;
  o.name = "bars";
  o.y_percent = true;
  o.y_min = 0.0;
  o.y_max = 1.0;
  const std::string s = grouped_bar_chart(
      {"privacy", "empathy"}, {{"round 0", {0.5, 0.25}}, {"round 1", {1.0, std::nan("")}}}, o);
  EXPECT_EQ(all(s, "<rect class=\"mark\" x=\"([0-9.]+)\"").size(), 3u);  // the NaN draws no bar
  EXPECT_NE(s.find(">100%</text>"), std::string::npos);                  // percentage ticks
  EXPECT_NE(s.find("<title>privacy / round 1: 100.0%</title>"), std::string::npos);
  EXPECT_THROW(grouped_bar_chart({"a"}, {{"s", {1.0, 2.0}}}, o), cai::Error);
}

TEST(Svg, SignedBarsGrowFromZero) {
  ChartOptions o;
  o.name = "tax";
  const std::string s = bar_chart({{"up", 10.0, "#c0392b", "regression", "10.0% regression"},
                                   {"down", -5.0, "#1e8449", "improvement", "5.0% improvement"}},
                                  o);
  // Both bars meet at the zero line: the positive one ends there, the negative one starts there.
  const auto ys = all(s, "<rect class=\"mark [a-z]+\" x=\"[0-9.]+\" y=\"([0-9.]+)\"");
  const auto hs = all(s,
                      "<rect class=\"mark [a-z]+\" x=\"[0-9.]+\" y=\"[0-9.]+\" width=\"[0-9.]+\" "
                      "height=\"([0-9.]+)\"");
  ASSERT_EQ(ys.size(), 2u);
  EXPECT_NEAR(std::stod(ys[0]) + std::stod(hs[0]), std::stod(ys[1]), 0.11);
  EXPECT_NEAR(std::stod(hs[0]), 2 * std::stod(hs[1]), 0.2);  // 10 vs 5
  EXPECT_NE(s.find(">10.0% regression</text>"), std::string::npos);
}

TEST(Svg, HistogramCountsAndClamps) {
  ChartOptions o;
  o.name = "hist";
  // 10 bins of 0.05 over [0.5, 1]; 0.3 clamps into the first bin, 1.0 into the last.
  const std::string s = histogram({0.57, 0.58, 0.62, 0.74, 0.88, 0.97, 1.0, 0.3}, 0.5, 1.0, 10, o);
  EXPECT_EQ(all(s, "data-count=\"([0-9]+)\""),
            (std::vector<std::string>{"1", "2", "1", "1", "1", "2"}));
  EXPECT_NE(s.find(">0.75</text>"), std::string::npos);  // a tick at each bin edge
  EXPECT_THROW(histogram({}, 1.0, 0.5, 10, o), cai::Error);
  o.name = "";
  EXPECT_THROW(histogram({0.6}, 0.5, 1.0, 10, o), cai::Error);
}

TEST(Svg, ReliabilityDiagramBarsUpToTheAccuracyAndTheDiagonal) {
  ChartOptions o;
  o.name = "rel";
  // Five bins of [0.5, 1]: two empty, the others at accuracy 1, 0.5, 0.25.
  const std::vector<ReliabilityBar> bins = {{0.5, 0.6, 2, 0.55, 1.0},
                                            {0.6, 0.7, 0, 0.0, 0.0},
                                            {0.7, 0.8, 4, 0.75, 0.5},
                                            {0.8, 0.9, 0, 0.0, 0.0},
                                            {0.9, 1.0, 8, 0.95, 0.25}};
  const std::string s = reliability_diagram(bins, o);
  EXPECT_EQ(all(s, "data-count=\"([0-9]+)\""), (std::vector<std::string>{"2", "4", "8"}));
  const auto hs = all(s,
                      "<rect class=\"mark\" x=\"[0-9.]+\" y=\"[0-9.]+\" width=\"[0-9.]+\" "
                      "height=\"([0-9.]+)\"");
  ASSERT_EQ(hs.size(), 3u);
  EXPECT_NEAR(std::stod(hs[0]), 2 * std::stod(hs[1]), 0.2);  // accuracy 1 vs 0.5
  EXPECT_NEAR(std::stod(hs[1]), 2 * std::stod(hs[2]), 0.2);  // 0.5 vs 0.25
  EXPECT_EQ(all(s, "<circle class=\"(mark)\"").size(), 3u);  // a marker per non-empty bin
  EXPECT_NE(s.find("perfect calibration"), std::string::npos);
  EXPECT_NE(s.find("stroke-dasharray"), std::string::npos);
  o.name = "";
  EXPECT_THROW(reliability_diagram(bins, o), cai::Error);
}

}  // namespace
