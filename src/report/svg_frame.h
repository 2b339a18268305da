// The frame every report plot shares: the SVG element, a plot area with linear axes, tick
// labels, grid lines, axis titles and a legend column. Used by svg.cpp only.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "cai/report/svg.h"

namespace cai::report::detail {

// One linear axis: the data range [lo, hi] it shows and its tick values.
struct Axis {
  double lo = 0.0, hi = 1.0;
  std::vector<double> ticks;
  double step = 1.0;  // distance between ticks (for their number format)
};

// An axis over the data range [lo, hi], widened to whole ticks unless `exact`; integer axes
// tick only at integers.
Axis make_axis(double lo, double hi, bool integer, bool exact);

struct LegendEntry {
  std::string name, color;
  bool dashed = false;
  bool box = false;  // a filled box (bars) rather than a line (series)
};

// The layout of one plot in pixels: the whole SVG is width x height; the plot area spans
// [left, right] x [top, bottom] (y grows downwards, so data y = hi maps to `top`).
struct Frame {
  int width = 0, height = 0;
  double left = 0, top = 0, right = 0, bottom = 0;
  Axis x, y;
  double px(double v) const;
  double py(double v) const;
};

// Width of the legend column: the swatch plus the longest (cut) name, about 6.2 px a character.
double legend_width(const std::vector<LegendEntry>& legend);

// `text` cut to at most `max_bytes` bytes plus "…", never inside a UTF-8 character.
std::string shorten(const std::string& text, std::size_t max_bytes);

// Frame for `opts`, leaving room for a legend of `legend` entries (none when empty) and
// `x_label_room` extra pixels under the axis (rotated category labels).
Frame make_frame(const ChartOptions& opts, const std::vector<LegendEntry>& legend,
                 double x_label_room = 0);

// <svg class="plot" data-plot=...> with its <title>, the plot title and the legend.
std::string open_svg(const ChartOptions& opts, const Frame& f,
                     const std::vector<LegendEntry>& legend);

// Horizontal grid lines with y tick labels, the y axis title, and the axis lines.
std::string y_axis(const ChartOptions& opts, const Frame& f);

// Numeric x ticks with labels under the axis and the x axis title.
std::string x_axis(const ChartOptions& opts, const Frame& f);

// The x axis title alone (category axes draw their own labels).
std::string x_title(const ChartOptions& opts, const Frame& f, double extra_room);

// A tick value printed at a precision fitting `step` (as a percentage when `percent`).
std::string tick_label(double v, double step, bool percent);

// Pixel coordinates in SVG attributes: one decimal is plenty.
std::string px(double v);

}  // namespace cai::report::detail
