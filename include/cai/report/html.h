// Small HTML helpers shared by the report's pieces: every piece of text that reaches the page
// (prompts, responses, file names, principle names) goes through escape_html, so a prompt
// holding "<script>" shows as text and never runs.
#pragma once

#include <string>
#include <string_view>

namespace cai::report {

// Escapes & < > " ' for use in element content and in double- or single-quoted attributes.
std::string escape_html(std::string_view text);

// "87.5%" for 0.875; "n/a" for NaN.
std::string percent(double rate, int decimals = 1);

// A number with `decimals` digits after the point; "n/a" for NaN.
std::string number(double value, int decimals = 3);

}  // namespace cai::report
