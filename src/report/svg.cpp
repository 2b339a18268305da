// The report's plot kinds on the shared frame (svg_frame.h): line chart, grouped bars, signed
// bars, histogram and reliability diagram. Every data element has class "mark".
#include "cai/report/svg.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "cai/io/error.h"
#include "cai/report/html.h"
#include "svg_frame.h"

namespace cai::report {
namespace {

using detail::Frame;
using detail::LegendEntry;
using detail::px;

constexpr std::size_t kMarkerPoints = 40;  // series up to this long get a marker per point

// Min and max of the finite values, with the chart's fixed bounds taking precedence.
std::pair<double, double> y_range(const std::vector<double>& values, const ChartOptions& o,
                                  bool with_zero) {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (double v : values)
    if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  if (lo > hi) lo = 0.0, hi = 1.0;  // no data: an empty unit frame
  if (with_zero) lo = std::min(lo, 0.0), hi = std::max(hi, 0.0);
  if (o.y_min) lo = *o.y_min;
  if (o.y_max) hi = *o.y_max;
  if (hi < lo) hi = lo;
  return {lo, hi};
}

// A bar from the zero line to `value`; zero-valued bars still show as a 1 px line.
std::string bar_rect(const Frame& f, double x, double w, double value, const std::string& color,
                     const std::string& css, const std::string& tip,
                     const std::string& extra = "") {
  const double zero = f.py(std::clamp(0.0, f.y.lo, f.y.hi));
  const double end = f.py(std::clamp(value, f.y.lo, f.y.hi));
  double top = std::min(zero, end), h = std::abs(zero - end);
  if (h < 1.0) {
    h = 1.0;
    top = value < 0.0 ? zero : zero - 1.0;
  }
  return fmt::format(
      "<rect class=\"mark{}{}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"{}>"
      "<title>{}</title></rect>\n",
      css.empty() ? "" : " ", escape_html(css), px(x), px(top), px(std::max(w, 1.0)), px(h), color,
      extra, escape_html(tip));
}

// Category labels centred under their slots; rotated when they would overlap.
std::string category_labels(const Frame& f, const std::vector<std::string>& labels, double slot,
                            bool rotate) {
  std::string s;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const double cx = f.left + slot * (static_cast<double>(i) + 0.5);
    const double y = f.bottom + 16;
    if (rotate)
      s += fmt::format(
          "<text class=\"tick\" x=\"{0}\" y=\"{1}\" text-anchor=\"end\" "
          "transform=\"rotate(-30 {0} {1})\">{2}</text>\n",
          px(cx), px(y), escape_html(labels[i]));
    else
      s += fmt::format("<text class=\"tick\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
                       px(cx), px(y), escape_html(labels[i]));
  }
  return s;
}

// Room under the axis for category labels, and whether they must be rotated to fit a slot.
std::pair<double, bool> label_room(const ChartOptions& o, const std::vector<std::string>& labels,
                                   double legend_w) {
  std::size_t longest = 0;
  for (const auto& l : labels) longest = std::max(longest, l.size());
  const double slot = (o.width - legend_w - 80.0) / std::max<std::size_t>(labels.size(), 1);
  const bool rotate = static_cast<double>(longest) * 6.5 > slot;
  return {rotate ? std::min(120.0, static_cast<double>(longest) * 3.5) : 0.0, rotate};
}

}  // namespace

std::string line_chart(const std::vector<Series>& series, const ChartOptions& opts) {
  opts.validate();
  std::vector<double> xs, ys;
  std::vector<LegendEntry> legend;
  for (std::size_t i = 0; i < series.size(); ++i) {
    const auto& s = series[i];
    CAI_CHECK(s.x.size() == s.y.size(), "chart {}: series {} has {} x and {} y values", opts.name,
              s.name, s.x.size(), s.y.size());
    for (std::size_t k = 0; k < s.x.size(); ++k)
      if (std::isfinite(s.x[k]) && std::isfinite(s.y[k]))
        xs.push_back(s.x[k]), ys.push_back(s.y[k]);
    legend.push_back({s.name, s.color.empty() ? palette(i) : s.color, s.dashed, false});
  }
  if (series.size() == 1 && series[0].name.empty()) legend.clear();
  Frame f = detail::make_frame(opts, legend);
  const auto [xlo, xhi] = xs.empty() ? std::pair{0.0, 1.0}
                                     : std::pair{*std::min_element(xs.begin(), xs.end()),
                                                 *std::max_element(xs.begin(), xs.end())};
  f.x = detail::make_axis(xlo, xhi, opts.integer_x, false);
  const auto [ylo, yhi] = y_range(ys, opts, false);
  f.y = detail::make_axis(ylo, yhi, false, opts.y_min && opts.y_max);
  std::string out =
      detail::open_svg(opts, f, legend) + detail::y_axis(opts, f) + detail::x_axis(opts, f);
  for (std::size_t i = 0; i < series.size(); ++i) {
    const auto& s = series[i];
    const std::string colour = s.color.empty() ? palette(i) : s.color;
    std::string d;
    bool pen_down = false;
    std::size_t points = 0, last = s.x.size();
    for (std::size_t k = 0; k < s.x.size(); ++k) {
      if (!std::isfinite(s.x[k]) || !std::isfinite(s.y[k])) {
        pen_down = false;  // a gap
        continue;
      }
      d += fmt::format("{}{},{} ", pen_down ? "L" : "M", px(f.px(s.x[k])), px(f.py(s.y[k])));
      pen_down = true;
      ++points;
      last = k;
    }
    if (points == 0) continue;
    out += fmt::format(
        "<path class=\"mark\" d=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"{}>"
        "<title>{}</title></path>\n",
        d, colour, s.dashed ? " stroke-dasharray=\"5 3\"" : "", escape_html(s.name));
    for (std::size_t k = 0; k < s.x.size(); ++k) {
      if (!std::isfinite(s.x[k]) || !std::isfinite(s.y[k])) continue;
      if (points > kMarkerPoints && k != last) continue;
      out += fmt::format(
          "<circle class=\"mark\" cx=\"{}\" cy=\"{}\" r=\"3\" fill=\"{}\"><title>{}: {} = "
          "{}</title>"
          "</circle>\n",
          px(f.px(s.x[k])), px(f.py(s.y[k])), colour, escape_html(s.name),
          detail::tick_label(s.x[k], opts.integer_x ? 1.0 : f.x.step / 10, false),
          opts.y_percent ? percent(s.y[k]) : number(s.y[k], 4));
    }
  }
  return out + "</svg>\n";
}

std::string grouped_bar_chart(const std::vector<std::string>& categories,
                              const std::vector<BarSeries>& series, const ChartOptions& opts) {
  opts.validate();
  std::vector<double> all;
  std::vector<LegendEntry> legend;
  for (std::size_t i = 0; i < series.size(); ++i) {
    CAI_CHECK(series[i].values.size() == categories.size(),
              "chart {}: series {} has {} values for {} categories", opts.name, series[i].name,
              series[i].values.size(), categories.size());
    all.insert(all.end(), series[i].values.begin(), series[i].values.end());
    legend.push_back({series[i].name, palette(i), false, true});
  }
  const auto [room, rotate] = label_room(opts, categories, detail::legend_width(legend));
  Frame f = detail::make_frame(opts, legend, room);
  const auto [lo, hi] = y_range(all, opts, true);
  f.y = detail::make_axis(lo, hi, false, opts.y_min && opts.y_max);
  std::string out = detail::open_svg(opts, f, legend) + detail::y_axis(opts, f);
  const double slot = (f.right - f.left) / std::max<std::size_t>(categories.size(), 1);
  const double bar_w = slot * 0.8 / std::max<std::size_t>(series.size(), 1);
  for (std::size_t c = 0; c < categories.size(); ++c)
    for (std::size_t i = 0; i < series.size(); ++i) {
      const double v = series[i].values[c];
      if (!std::isfinite(v)) continue;
      const double x =
          f.left + slot * (static_cast<double>(c) + 0.1) + bar_w * static_cast<double>(i);
      out += bar_rect(f, x, bar_w - 1.0, v, palette(i), "",
                      fmt::format("{} / {}: {}", categories[c], series[i].name,
                                  opts.y_percent ? percent(v) : number(v, 4)));
    }
  out += category_labels(f, categories, slot, rotate) + detail::x_title(opts, f, room);
  return out + "</svg>\n";
}

std::string bar_chart(const std::vector<Bar>& bars, const ChartOptions& opts) {
  opts.validate();
  std::vector<double> values;
  std::vector<std::string> labels;
  for (const auto& b : bars) values.push_back(b.value), labels.push_back(b.label);
  const auto [room, rotate] = label_room(opts, labels, 0.0);
  Frame f = detail::make_frame(opts, {}, room);
  auto [lo, hi] = y_range(values, opts, true);
  // Room beyond the bar ends for their text.
  const double pad = 0.15 * (hi - lo > 0 ? hi - lo : 1.0);
  if (!opts.y_max && hi > 0) hi += pad;
  if (!opts.y_min && lo < 0) lo -= pad;
  f.y = detail::make_axis(lo, hi, false, opts.y_min && opts.y_max);
  std::string out = detail::open_svg(opts, f, {}) + detail::y_axis(opts, f);
  const double slot = (f.right - f.left) / std::max<std::size_t>(bars.size(), 1);
  for (std::size_t i = 0; i < bars.size(); ++i) {
    const auto& b = bars[i];
    if (!std::isfinite(b.value)) continue;
    const double x = f.left + slot * (static_cast<double>(i) + 0.2);
    out += bar_rect(f, x, slot * 0.6, b.value, b.color.empty() ? palette(0) : b.color, b.css,
                    b.label + ": " + (b.text.empty() ? number(b.value, 4) : b.text));
    if (!b.text.empty()) {
      const double y = b.value >= 0 ? f.py(b.value) - 5 : f.py(b.value) + 13;
      out +=
          fmt::format("<text class=\"barval\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
                      px(x + slot * 0.3), px(y), escape_html(b.text));
    }
  }
  out += category_labels(f, labels, slot, rotate) + detail::x_title(opts, f, room);
  return out + "</svg>\n";
}

std::string histogram(const std::vector<double>& values, double lo, double hi, int bins,
                      const ChartOptions& opts) {
  opts.validate();
  CAI_CHECK(bins >= 1, "chart {}: bins must be >= 1, got {}", opts.name, bins);
  CAI_CHECK(hi > lo, "chart {}: histogram range must have hi > lo", opts.name);
  std::vector<long long> count(static_cast<std::size_t>(bins), 0);
  for (double v : values) {
    if (!std::isfinite(v)) continue;
    const double t = (v - lo) / (hi - lo) * bins;
    count[static_cast<std::size_t>(std::clamp(static_cast<long long>(std::floor(t)), 0LL,
                                              static_cast<long long>(bins) - 1))] += 1;
  }
  Frame f = detail::make_frame(opts, {});
  f.x = detail::make_axis(lo, hi, false, true);
  if (bins <= 10) {  // ticks at the bin edges
    f.x.ticks.clear();
    for (int b = 0; b <= bins; ++b) f.x.ticks.push_back(lo + (hi - lo) * b / bins);
    f.x.step = (hi - lo) / bins;
  }
  const long long top = std::max<long long>(1, *std::max_element(count.begin(), count.end()));
  f.y = detail::make_axis(0.0, static_cast<double>(top), true, false);
  f.y.lo = 0.0;
  std::string out =
      detail::open_svg(opts, f, {}) + detail::y_axis(opts, f) + detail::x_axis(opts, f);
  const double w = (f.right - f.left) / bins;
  for (int b = 0; b < bins; ++b) {
    const double a = lo + (hi - lo) * b / bins, z = lo + (hi - lo) * (b + 1) / bins;
    const auto c = count[static_cast<std::size_t>(b)];
    if (c == 0) continue;
    out += bar_rect(
        f, f.left + w * b + 0.5, w - 1.0, static_cast<double>(c), palette(0), "",
        fmt::format("[{}, {}{}: {}", number(a, 3), number(z, 3), b + 1 == bins ? "]" : ")", c),
        fmt::format(" data-count=\"{}\"", c));
  }
  return out + "</svg>\n";
}

std::string reliability_diagram(const std::vector<ReliabilityBar>& bins, const ChartOptions& opts) {
  opts.validate();
  const double lo = bins.empty() ? 0.5 : bins.front().lo;
  CAI_CHECK(lo >= 0.0 && lo < 1.0, "chart {}: the first bin starts at {}, outside [0, 1)",
            opts.name, lo);
  const std::vector<LegendEntry> legend = {{"accuracy per bin", palette(0), false, true},
                                           {"perfect calibration", "#888", true, false}};
  Frame f = detail::make_frame(opts, legend);
  f.x = detail::make_axis(lo, 1.0, false, true);
  f.y = detail::make_axis(0.0, 1.0, false, true);
  ChartOptions o = opts;
  o.y_percent = true;
  std::string out = detail::open_svg(o, f, legend) + detail::y_axis(o, f) + detail::x_axis(o, f);
  for (const auto& b : bins) {
    if (b.count <= 0) continue;
    const double x0 = f.px(std::clamp(b.lo, lo, 1.0)), x1 = f.px(std::clamp(b.hi, lo, 1.0));
    out += bar_rect(f, x0 + 0.5, x1 - x0 - 1.0, b.accuracy, palette(0), "",
                    fmt::format("confidence [{}, {}]: {} predictions, mean confidence {}, {} right",
                                number(b.lo, 3), number(b.hi, 3), b.count, number(b.confidence, 3),
                                percent(b.accuracy)),
                    fmt::format(" data-count=\"{}\" fill-opacity=\"0.6\"", b.count));
    out += fmt::format(
        "<circle class=\"mark\" cx=\"{}\" cy=\"{}\" r=\"3\" fill=\"{}\"><title>mean confidence "
        "{}, accuracy {}</title></circle>\n",
        px(f.px(std::clamp(b.confidence, lo, 1.0))), px(f.py(std::clamp(b.accuracy, 0.0, 1.0))),
        palette(0), number(b.confidence, 3), percent(b.accuracy));
  }
  out += fmt::format(
      "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#888\" stroke-width=\"1.5\" "
      "stroke-dasharray=\"5 3\"><title>perfect calibration</title></line>\n",
      px(f.px(lo)), px(f.py(lo)), px(f.px(1.0)), px(f.py(1.0)));
  return out + "</svg>\n";
}

}  // namespace cai::report
