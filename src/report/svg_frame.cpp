// Axes, ticks, legend and the SVG element shared by every report plot.
#include "svg_frame.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "cai/io/error.h"
#include "cai/report/html.h"

namespace cai::report {

void ChartOptions::validate() const {
  CAI_CHECK(!name.empty(), "chart: name (the data-plot id) is required");
  CAI_CHECK(width >= 200 && height >= 120,
            "chart {}: width/height must be at least 200 x 120, got {} x {}", name, width, height);
  CAI_CHECK(!y_min || !y_max || *y_min < *y_max, "chart {}: y_min must be below y_max", name);
}

std::vector<double> nice_ticks(double lo, double hi, int target) {
  if (!(hi > lo)) hi = lo + 1.0;
  target = std::max(target, 2);
  const double raw = (hi - lo) / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double norm = raw / mag;
  const double step = (norm < 1.5 ? 1.0 : norm < 3.0 ? 2.0 : norm < 7.0 ? 5.0 : 10.0) * mag;
  std::vector<double> out;
  for (double k = std::ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k += 1.0) {
    const double v = k * step;
    out.push_back(std::abs(v) < step * 1e-9 ? 0.0 : v);  // no "-0"
  }
  return out;
}

const char* palette(std::size_t i) {
  // Colour-blind-safe (Okabe-Ito order, black last).
  static const char* const colours[] = {"#0072B2", "#E69F00", "#009E73", "#CC79A7",
                                        "#56B4E9", "#D55E00", "#F0E442", "#000000"};
  return colours[i % (sizeof colours / sizeof colours[0])];
}

namespace detail {
namespace {

constexpr double kLegendRow = 16, kTitleRoom = 26;
constexpr std::size_t kLegendChars = 22;  // longer legend names are cut (the tooltip keeps them)

}  // namespace

double legend_width(const std::vector<LegendEntry>& legend) {
  if (legend.empty()) return 0.0;
  std::size_t longest = 0;
  for (const auto& e : legend) longest = std::max(longest, std::min(e.name.size(), kLegendChars));
  return 40.0 + 6.2 * static_cast<double>(longest);
}

std::string shorten(const std::string& text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  std::size_t cut = max_bytes > 0 ? max_bytes - 1 : 0;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80)
    --cut;  // not inside a UTF-8 character
  return text.substr(0, cut) + "…";
}

std::string px(double v) { return fmt::format("{:.1f}", v); }

Axis make_axis(double lo, double hi, bool integer, bool exact) {
  Axis a;
  if (integer && !exact && hi - lo <= 10.0) {
    // Few integer positions (rounds): a tick at each, half a step of room at both ends.
    lo = std::floor(lo);
    hi = std::ceil(hi);
    for (double v = lo; v <= hi; v += 1.0) a.ticks.push_back(v);
    a.step = 1.0;
    a.lo = lo - 0.5;
    a.hi = hi + 0.5;
    return a;
  }
  if (!(hi > lo)) {  // a single value: centre it
    const double pad = lo == 0.0 ? 1.0 : std::abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  a.ticks = nice_ticks(lo, hi, 5);
  a.step = a.ticks.size() > 1 ? a.ticks[1] - a.ticks[0] : hi - lo;
  if (exact) {
    a.lo = lo;
    a.hi = hi;
    return a;
  }
  // Widen to whole steps so the end ticks sit on the frame.
  a.lo = std::floor(lo / a.step + 1e-9) * a.step;
  a.hi = std::ceil(hi / a.step - 1e-9) * a.step;
  a.ticks.clear();
  for (double k = std::round(a.lo / a.step); k * a.step <= a.hi + a.step * 1e-9; k += 1.0)
    a.ticks.push_back(std::abs(k) < 0.5 ? 0.0 : k * a.step);
  return a;
}

double Frame::px(double v) const { return left + (v - x.lo) / (x.hi - x.lo) * (right - left); }
double Frame::py(double v) const { return bottom - (v - y.lo) / (y.hi - y.lo) * (bottom - top); }

Frame make_frame(const ChartOptions& opts, const std::vector<LegendEntry>& legend,
                 double x_label_room) {
  Frame f;
  f.width = opts.width;
  const double legend_w = legend_width(legend);
  const double top = (opts.title.empty() ? 10.0 : kTitleRoom) + 4.0;
  // The legend column may need more height than asked for.
  const double legend_h = top + kLegendRow * static_cast<double>(legend.size()) + 10.0;
  f.height = std::max(opts.height, static_cast<int>(std::ceil(legend_h)));
  f.left = opts.y_label.empty() ? 48.0 : 64.0;
  f.top = top;
  f.right = opts.width - legend_w - 16.0;
  f.bottom = f.height - (opts.x_label.empty() ? 26.0 : 42.0) - x_label_room;
  return f;
}

std::string open_svg(const ChartOptions& opts, const Frame& f,
                     const std::vector<LegendEntry>& legend) {
  std::string s = fmt::format(
      "<svg class=\"plot\" data-plot=\"{}\" width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\" "
      "role=\"img\""
      " aria-label=\"{}\">\n<title>{}</title>\n",
      escape_html(opts.name), f.width, f.height, f.width, f.height,
      escape_html(opts.title.empty() ? opts.name : opts.title),
      escape_html(opts.title.empty() ? opts.name : opts.title));
  if (!opts.title.empty()) {
    // A title wider than the plot would be clipped: cut it (at about 7 px a character).
    const auto fits = static_cast<std::size_t>(std::max(10.0, (f.width - f.left - 8.0) / 7.0));
    const std::string shown = shorten(opts.title, fits);
    s += fmt::format("<text class=\"ptitle\" x=\"{}\" y=\"18\">{}</text>\n", px(f.left),
                     escape_html(shown));
  }
  const double lx = f.right + 22.0;
  double ly = f.top + 8.0;
  for (const auto& e : legend) {
    // Long names are cut in the legend; the <title> keeps the whole name for hover.
    const std::string shown = shorten(e.name, kLegendChars);
    if (e.box)
      s += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"14\" height=\"10\" fill=\"{}\"/>", px(lx),
                       px(ly - 5), e.color);
    else
      s += fmt::format(
          "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"2\"{}/>",
          px(lx), px(ly), px(lx + 16), px(ly), e.color,
          e.dashed ? " stroke-dasharray=\"4 3\"" : "");
    s += fmt::format("<text class=\"legend\" x=\"{}\" y=\"{}\"><title>{}</title>{}</text>\n",
                     px(lx + 22), px(ly + 4), escape_html(e.name), escape_html(shown));
    ly += kLegendRow;
  }
  return s;
}

std::string tick_label(double v, double step, bool percent) {
  if (percent) {
    v *= 100.0;
    step *= 100.0;
  }
  const int decimals =
      step >= 1.0 ? 0 : std::min(6, static_cast<int>(std::ceil(-std::log10(step) - 1e-9)));
  std::string s = fmt::format("{:.{}f}", v, decimals);
  if (s == "-0") s = "0";
  return percent ? s + "%" : s;
}

std::string y_axis(const ChartOptions& opts, const Frame& f) {
  std::string s;
  for (double t : f.y.ticks) {
    if (t < f.y.lo - 1e-9 || t > f.y.hi + 1e-9) continue;
    const double y = f.py(t);
    s += fmt::format(
        "<line class=\"grid\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>"
        "<text class=\"tick\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n",
        px(f.left), px(y), px(f.right), px(y), px(f.left - 6), px(y + 4),
        tick_label(t, f.y.step, opts.y_percent));
  }
  s += fmt::format(
      "<line class=\"axis\" x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\"/>"
      "<line class=\"axis\" x1=\"{0}\" y1=\"{2}\" x2=\"{3}\" y2=\"{2}\"/>\n",
      px(f.left), px(f.top), px(f.bottom), px(f.right));
  if (!opts.y_label.empty()) {
    const double cy = 0.5 * (f.top + f.bottom);
    s += fmt::format(
        "<text class=\"alabel\" x=\"14\" y=\"{0}\" transform=\"rotate(-90 14 {0})\""
        " text-anchor=\"middle\">{1}</text>\n",
        px(cy), escape_html(opts.y_label));
  }
  return s;
}

std::string x_title(const ChartOptions& opts, const Frame& f, double extra_room) {
  if (opts.x_label.empty()) return "";
  return fmt::format("<text class=\"alabel\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
                     px(0.5 * (f.left + f.right)), px(f.bottom + 36 + extra_room),
                     escape_html(opts.x_label));
}

std::string x_axis(const ChartOptions& opts, const Frame& f) {
  std::string s;
  for (double t : f.x.ticks) {
    if (t < f.x.lo - 1e-9 || t > f.x.hi + 1e-9) continue;
    const double x = f.px(t);
    s += fmt::format(
        "<line class=\"axis\" x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\"/>"
        "<text class=\"tick\" x=\"{0}\" y=\"{3}\" text-anchor=\"middle\">{4}</text>\n",
        px(x), px(f.bottom), px(f.bottom + 4), px(f.bottom + 16), tick_label(t, f.x.step, false));
  }
  return s + x_title(opts, f, 0);
}

}  // namespace detail
}  // namespace cai::report
