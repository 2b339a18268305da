// Inline SVG plots for the HTML report: a line chart with several series, a grouped bar chart,
// a signed bar chart (one colour per bar), a histogram and a reliability diagram, each with
// axes, ticks and a legend.
// The SVG is static (no script needed to see it) and carries no external reference. Every plot
// is <svg class="plot" data-plot="NAME">, and every drawn data element (line, bar, marker) has
// class "mark", so a test or a reader's script can find the plots and check they drew something.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace cai::report {

struct ChartOptions {
  std::string name;                    // data-plot attribute: a stable id (required)
  std::string title;                   // drawn above the plot ("" = none)
  std::string x_label, y_label;        // axis titles ("" = none)
  int width = 640, height = 300;       // pixels of the whole SVG, legend included
  std::optional<double> y_min, y_max;  // fixed y range (e.g. 0..1 for rates); default: the data's
  bool y_percent = false;              // y values are rates in [0, 1]: ticks print as percentages
  bool integer_x = false;              // x ticks only at integers (rounds, steps)
  void validate() const;               // throws cai::Error naming the field
};

// One line of a line chart: points (x[i], y[i]); a NaN y leaves a gap.
struct Series {
  std::string name;
  std::vector<double> x, y;
  bool dashed = false;  // e.g. eval split against the solid train split
  std::string color;    // "" = the palette's colour for the series' position
};

// Series share the axes; each gets its colour (default: the palette in order) and a legend entry.
// Every point gets a marker when a series has few points (<= 40), and its last point always does.
std::string line_chart(const std::vector<Series>& series, const ChartOptions& opts);

// One bar series of a grouped bar chart: a value per category (NaN = no bar).
struct BarSeries {
  std::string name;
  std::vector<double> values;
};

// Categories along x; in each category one bar per series, side by side, in legend colours.
std::string grouped_bar_chart(const std::vector<std::string>& categories,
                              const std::vector<BarSeries>& series, const ChartOptions& opts);

// One bar of a signed bar chart.
struct Bar {
  std::string label;   // under the bar
  double value = 0.0;  // bars grow up from zero when positive, down when negative
  std::string color;   // fill colour ("" = the palette's first)
  std::string css;     // class added to the bar ("regression", "improvement", ...)
  std::string text;    // printed beside the bar end ("2.1% regression")
};

// Bars from a zero line, each in its own colour.
std::string bar_chart(const std::vector<Bar>& bars, const ChartOptions& opts);

// Counts of `values` in `bins` equal bins over [lo, hi]; values outside are clamped into the
// end bins. Each bar carries data-count with its count.
std::string histogram(const std::vector<double>& values, double lo, double hi, int bins,
                      const ChartOptions& opts);

// One confidence bin of a reliability diagram (eval/calibration.h's bins, as the report reads
// them from JSON).
struct ReliabilityBar {
  double lo = 0.0, hi = 1.0;  // the bin's confidence range
  long long count = 0;
  double confidence = 0.0;  // mean confidence of its predictions
  double accuracy = 0.0;    // share of them that were right
};

// A reliability diagram: per non-empty bin a bar over its confidence range up to its accuracy
// (data-count with its count) and a marker at (mean confidence, accuracy); the diagonal of
// perfect calibration dashed. x runs over [first bin's lo, 1], y over [0, 1] as percentages.
std::string reliability_diagram(const std::vector<ReliabilityBar>& bins, const ChartOptions& opts);

// Tick positions covering [lo, hi] at a step of 1, 2 or 5 x 10^k, about `target` of them.
std::vector<double> nice_ticks(double lo, double hi, int target = 5);

// The i-th colour of the series palette (cycles).
const char* palette(std::size_t i);

}  // namespace cai::report
