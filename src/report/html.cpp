// Escaping and number formatting for the report page.
#include "cai/report/html.h"

#include <fmt/format.h>

#include <cmath>

namespace cai::report {

std::string escape_html(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string percent(double rate, int decimals) {
  if (!std::isfinite(rate)) return "n/a";
  return fmt::format("{:.{}f}%", 100.0 * rate, decimals);
}

std::string number(double value, int decimals) {
  if (!std::isfinite(value)) return "n/a";
  return fmt::format("{:.{}f}", value, decimals);
}

}  // namespace cai::report
