// Alignment tax (see include/cai/eval/tax.h).
#include "cai/eval/tax.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include <cmath>

#include "cai/io/error.h"
#include "cai/io/file.h"
#include "cai/io/json.h"

namespace cai::eval {

const char* TaxRow::direction() const {
  if (tax_pct > 0) return "regression";
  if (tax_pct < 0) return "improvement";
  return "no change";
}

namespace {

const BenchScore* find(const Scores& s, const std::string& name) {
  for (const auto& [n, v] : s)
    if (n == name) return &v;
  return nullptr;
}

}  // namespace

TaxReport compute_tax(const Scores& base, const Scores& aligned, std::string title) {
  CAI_CHECK(!base.empty(), "alignment tax: no benchmarks in the base scores");
  for (const auto& [name, _] : aligned)
    if (!find(base, name)) throw_error("alignment tax: benchmark {} has no base score", name);
  TaxReport r;
  r.title = std::move(title);
  double sum = 0.0;
  for (const auto& [name, b] : base) {
    const BenchScore* a = find(aligned, name);
    if (!a) throw_error("alignment tax: benchmark {} has no aligned score", name);
    CAI_CHECK(b.value != 0.0, "alignment tax: benchmark {} has a base score of 0 (tax undefined)",
              name);
    CAI_CHECK(std::isfinite(b.value) && std::isfinite(a->value),
              "alignment tax: benchmark {} has a non-finite score", name);
    TaxRow row;
    row.benchmark = name;
    row.base = b;
    row.aligned = *a;
    row.tax_pct = (b.value - a->value) / b.value * 100.0;
    row.diff = a->value - b.value;
    if (b.stderr_ && a->stderr_) {
      row.diff_stderr = std::sqrt(*b.stderr_ * *b.stderr_ + *a->stderr_ * *a->stderr_);
      row.significant =
          *row.diff_stderr > 0 ? std::abs(row.diff) > 1.96 * *row.diff_stderr : row.diff != 0.0;
    }
    sum += row.tax_pct;
    r.rows.push_back(std::move(row));
  }
  r.average_tax_pct = sum / static_cast<double>(r.rows.size());
  return r;
}

std::string TaxReport::to_text() const {
  std::size_t w = std::string("Average tax").size();
  for (const auto& row : rows) w = std::max(w, row.benchmark.size());
  std::string out;
  out += fmt::format("Alignment tax{}{}\n", title.empty() ? "" : ": ", title);
  out += fmt::format("{:<{}}  {:>9}  {:>9}  {:>6} {:<11}  {:>18}  {}\n", "benchmark", w, "base",
                     "aligned", "tax", "", "difference", "significant");
  for (const auto& row : rows) {
    std::string diff = row.diff_stderr ? fmt::format("{:+.3g} ± {:.2g}", row.diff, *row.diff_stderr)
                                       : fmt::format("{:+.3g}", row.diff);
    std::string sig = row.significant ? (*row.significant ? "yes" : "no") : "n/a";
    out += fmt::format("{:<{}}  {:>9.4g}  {:>9.4g}  {:>5.1f}% {:<11}  {:>18}  {}\n", row.benchmark,
                       w, row.base.value, row.aligned.value, std::abs(row.tax_pct), row.direction(),
                       diff, sig);
  }
  out +=
      fmt::format("{:<{}}  {:>9}  {:>9}  {:>5.1f}%\n", "Average tax", w, "", "", average_tax_pct);
  return out;
}

nlohmann::json TaxReport::to_json() const {
  nlohmann::json rows_j = nlohmann::json::array();
  for (const auto& row : rows) {
    nlohmann::json j = {{"benchmark", row.benchmark},   {"base", row.base.value},
                        {"aligned", row.aligned.value}, {"tax_pct", row.tax_pct},
                        {"direction", row.direction()}, {"diff", row.diff}};
    if (row.diff_stderr) j["diff_stderr"] = *row.diff_stderr;
    if (row.significant) j["significant"] = *row.significant;
    rows_j.push_back(std::move(j));
  }
  return {{"title", title}, {"rows", rows_j}, {"average_tax_pct", average_tax_pct}};
}

TaxReport TaxReport::from_json(const nlohmann::json& j, const std::string& where) {
  using json_field::number;
  TaxReport t;
  t.title = json_field::text_or(j, "title", where);
  t.average_tax_pct = number(j, "average_tax_pct", where);
  json_field::for_each(json_field::any(j, "rows", where), where + ".rows",
                       [&](const nlohmann::json& r, const std::string& at) {
                         TaxRow row;
                         row.benchmark = json_field::text(r, "benchmark", at);
                         row.base.value = number(r, "base", at);
                         row.aligned.value = number(r, "aligned", at);
                         row.tax_pct = number(r, "tax_pct", at);
                         row.diff = number(r, "diff", at);
                         if (r.contains("diff_stderr"))
                           row.diff_stderr = number(r, "diff_stderr", at);
                         if (r.contains("significant"))
                           row.significant = json_field::flag(r, "significant", at);
                         t.rows.push_back(std::move(row));
                       });
  return t;
}

namespace {

double number(const nlohmann::ordered_json& j, const std::string& where) {
  if (!j.is_number()) throw_error("{}: expected a number", where);
  return j.get<double>();
}

BenchScore score_of(const nlohmann::ordered_json& j, const std::string& where) {
  BenchScore s;
  if (j.is_number()) {
    s.value = j.get<double>();
    return s;
  }
  if (!j.is_object()) throw_error("{}: expected a number or an object", where);
  if (j.contains("primary")) {  // a `cai eval` task result
    const std::string metric = j["primary"].get<std::string>();
    if (!j.contains(metric)) throw_error("{}: primary metric {} missing", where, metric);
    s.value = number(j[metric], where + "/" + metric);
    if (j.contains(metric + "_stderr"))
      s.stderr_ = number(j[metric + "_stderr"], where + "/" + metric + "_stderr");
  } else {
    if (!j.contains("value")) throw_error("{}: missing \"value\"", where);
    s.value = number(j["value"], where + "/value");
    if (j.contains("stderr")) s.stderr_ = number(j["stderr"], where + "/stderr");
  }
  if (j.contains("n")) s.n = static_cast<long long>(number(j["n"], where + "/n"));
  return s;
}

}  // namespace

Scores read_scores(const std::filesystem::path& path) {
  const std::string src = path.string();
  const nlohmann::ordered_json j = parse_ordered_json(read_file(path), src);
  if (!j.is_object()) throw_error("{}: expected a JSON object of benchmark scores", src);
  const nlohmann::ordered_json& table =
      j.contains("results") && j["results"].is_object() ? j["results"] : j;
  Scores out;
  for (const auto& [name, v] : table.items()) {
    if (find(out, name)) throw_error("{}: benchmark {} given twice", src, name);
    out.emplace_back(name, score_of(v, src + ": " + name));
  }
  if (out.empty()) throw_error("{}: no benchmark scores", src);
  return out;
}

}  // namespace cai::eval
