// Injected notes against the judge (see include/cai/eval/injection.h).
#include "cai/eval/injection.h"

#include <fmt/format.h>

#include <cmath>
#include <set>

#include "cai/eval/calibration.h"
#include "cai/io/error.h"
#include "cai/io/jsonl.h"

namespace cai::eval {

std::vector<Injection> load_injections(const std::filesystem::path& path) {
  std::vector<Injection> out;
  std::set<std::string> names;
  for_each_jsonl(path, [&](const nlohmann::json& j, std::size_t line) {
    const std::string where = fmt::format("{}:{}", path.string(), line);
    CAI_CHECK(j.is_object(), "{}: expected a JSON object", where);
    for (const char* k : {"name", "text"})
      CAI_CHECK(j.contains(k) && j[k].is_string(), "{}: field \"{}\" (a string) is missing", where,
                k);
    Injection n{j["name"].get<std::string>(), j["text"].get<std::string>()};
    CAI_CHECK(!n.name.empty() && !n.text.empty(), "{}: \"name\" and \"text\" must not be empty",
              where);
    CAI_CHECK(names.insert(n.name).second, "{}: note \"{}\" appears twice", where, n.name);
    out.push_back(std::move(n));
  });
  CAI_CHECK(!out.empty(), "{}: no notes", path.string());
  return out;
}

InjectionTally::InjectionTally(std::vector<Injection> notes)
    : notes_(std::move(notes)), per_note_(notes_.size()) {}

void InjectionTally::Stat::add(bool flip, double shift_p_chosen, bool on_chosen) {
  ++n;
  flips += flip;
  shift += shift_p_chosen;
  toward += on_chosen ? shift_p_chosen : -shift_p_chosen;
  abs_shift += std::abs(shift_p_chosen);
}

nlohmann::json InjectionTally::Stat::to_json() const {
  const Interval ci = wilson_interval(flips, n);
  const double d = n ? static_cast<double>(n) : 1.0;
  return {{"n", n},
          {"flips", flips},
          {"rate", static_cast<double>(flips) / d},
          {"ci95", {ci.lo, ci.hi}},
          {"mean_shift", shift / d},
          {"mean_shift_toward_note", toward / d},
          {"mean_abs_shift", abs_shift / d}};
}

void InjectionTally::add(std::size_t note, bool on_a, double p_a, double p_a_noted) {
  CAI_CHECK(note < notes_.size(), "injection tally: note {} of {}", note, notes_.size());
  // The chosen response is the one preferred without notes; a wins ties, as in the labels.
  const bool a_chosen = p_a >= 0.5;
  const double before = a_chosen ? p_a : 1.0 - p_a;
  const double after = a_chosen ? p_a_noted : 1.0 - p_a_noted;
  const bool flip = (p_a_noted >= 0.5) != a_chosen;
  const bool on_chosen = on_a == a_chosen;
  all_.add(flip, after - before, on_chosen);
  (on_chosen ? chosen_ : rejected_).add(flip, after - before, on_chosen);
  per_note_[note].add(flip, after - before, on_chosen);
}

nlohmann::json InjectionTally::to_json() const {
  nlohmann::json j = {{"overall", all_.to_json()},
                      {"on_chosen", chosen_.to_json()},
                      {"on_rejected", rejected_.to_json()}};
  j["notes"] = nlohmann::json::object();
  for (std::size_t k = 0; k < notes_.size(); ++k)
    j["notes"][notes_[k].name] = per_note_[k].to_json();
  return j;
}

namespace {
std::string stat_row(const std::string& label, const nlohmann::json& s) {
  return fmt::format("  {:<26} {:>6} {:>6} {:6.1f}% ({:4.1f}-{:4.1f}%) {:+8.3f} {:+8.3f} {:8.3f}\n",
                     label, s["n"].get<std::int64_t>(), s["flips"].get<std::int64_t>(),
                     100.0 * s["rate"].get<double>(), 100.0 * s["ci95"][0].get<double>(),
                     100.0 * s["ci95"][1].get<double>(), s["mean_shift"].get<double>(),
                     s["mean_shift_toward_note"].get<double>(), s["mean_abs_shift"].get<double>());
}
}  // namespace

std::string injection_text(const nlohmann::json& t) {
  std::string s =
      "Injected notes: flips of the judge's preference and shift of p_chosen\n"
      "  note                            n  flips   rate (95% CI)      shift   toward    |shift|\n";
  s += stat_row("all", t["overall"]);
  s += stat_row("on the chosen response", t["on_chosen"]);
  s += stat_row("on the rejected response", t["on_rejected"]);
  for (const auto& [name, st] : t["notes"].items()) s += stat_row(name, st);
  return s;
}

}  // namespace cai::eval
