// Examples: a few Phase 1 records of round 1 with their critique trail (initial response, then
// per critique round the principle, the critique and the revision), and a few evaluation
// prompts answered by the base model (round 0) and the best round, with the oracle's verdicts.
#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "cai/report/html.h"
#include "sections.h"

namespace cai::report {
namespace {

std::string text_block(const std::string& label, const std::string& text,
                       const char* css = "text") {
  return "<p class=\"lbl\">" + escape_html(label) + "</p>\n<pre class=\"" + css + "\">" +
         escape_html(text) + "</pre>\n";
}

// The oracle's verdict in words: which applicable principles fail and why, plus the flags.
std::string verdict_html(const Json& v) {
  if (!v.is_object()) return "<p class=\"verdict\">no verdict</p>\n";
  std::vector<std::string> failed;
  if (v.contains("principles") && v["principles"].is_object())
    for (const auto& [name, p] : v["principles"].items())
      if (p.is_object() && p.contains("applicable") && p["applicable"] == true &&
          p.contains("pass") && p["pass"] == false) {
        const std::string reason = str_at(p, "reason");
        failed.push_back(escape_html(name) +
                         (reason.empty() ? "" : " (" + escape_html(reason) + ")"));
      }
  std::string h = "<p class=\"verdict\">Oracle: ";
  const bool pass = v.contains("pass") && v["pass"] == true;
  if (pass || failed.empty()) {
    h += "<span class=\"pass\">follows every applicable principle</span>";
  } else {
    h += "<span class=\"fail\">violates ";
    for (std::size_t i = 0; i < failed.size(); ++i) h += (i ? "; " : "") + failed[i];
    h += "</span>";
  }
  if (v.contains("on_topic") && v["on_topic"] == false) h += "; off topic";
  if (v.contains("states_right_fact") && v["states_right_fact"] == false)
    h += "; wrong or missing fact";
  if (v.contains("over_refusal") && v["over_refusal"] == true)
    h += "; over-refuses a benign prompt";
  return h + "</p>\n";
}

// eval.json responses by prompt id.
std::map<std::string, const Json*> responses_by_id(const RoundData* r) {
  std::map<std::string, const Json*> out;
  if (!r || !r->eval || !r->eval->contains("responses") || !(*r->eval)["responses"].is_array())
    return out;
  for (const auto& s : (*r->eval)["responses"]) {
    const std::string id = str_at(s, "id");
    if (!id.empty()) out.emplace(id, &s);
  }
  return out;
}

bool passes(const Json& sample) {
  return sample.contains("verdict") && sample["verdict"].is_object() &&
         sample["verdict"].contains("pass") && sample["verdict"]["pass"] == true;
}

std::string eval_response(const std::string& who, const Json& sample) {
  return text_block(who, str_at(sample, "response")) +
         verdict_html(sample.contains("verdict") ? sample["verdict"] : Json());
}

std::string trail_html(const RunData& run, const RoundData& r, std::int64_t count) {
  const RoundData* base = run.round(0);
  const RoundData* best = run.round(run.best_round());
  const auto before = responses_by_id(base), after = responses_by_id(best);
  // Records with a revision teach the most; those also answered in an evaluation come first.
  std::vector<std::pair<int, const Json*>> ranked;
  for (const auto& rec : *r.critique_revise) {
    bool revised = false;
    if (rec.contains("rounds") && rec["rounds"].is_array())
      for (const auto& x : rec["rounds"]) revised = revised || !str_at(x, "revision").empty();
    const std::string id = str_at(rec, "id");
    const bool evaluated = !id.empty() && (before.count(id) || after.count(id));
    ranked.emplace_back((revised ? 0 : 2) + (evaluated ? 0 : 1), &rec);
  }
  std::stable_sort(ranked.begin(), ranked.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string h =
      fmt::format("<h3>Critique trail (round-{}/critique_revise.jsonl)</h3>\n", r.round);
  for (std::size_t i = 0; i < ranked.size() && static_cast<std::int64_t>(i) < count; ++i) {
    const Json& rec = *ranked[i].second;
    const std::string id = str_at(rec, "id");
    h += "<div class=\"ex\">\n<h4>" +
         escape_html(id.empty() ? fmt::format("example {}", i + 1) : id) + "</h4>\n";
    h += text_block("Prompt", str_at(rec, "prompt"), "text prompt");
    h += text_block("Initial response", str_at(rec, "init_response"));
    if (rec.contains("rounds") && rec["rounds"].is_array()) {
      h += "<ol class=\"trail\">\n";
      for (const auto& x : rec["rounds"]) {
        h += "<li><p>Principle: <b>" + escape_html(str_at(x, "principle", "?")) + "</b></p>\n";
        h += text_block("Critique", str_at(x, "critique"));
        const std::string rev = str_at(x, "revision");
        h += rev.empty() ? "<p class=\"na\">Not revised: the critique found nothing to fix.</p>\n"
                         : text_block("Revision", rev);
        h += "</li>\n";
      }
      h += "</ol>\n";
    }
    if (!id.empty() && before.count(id))
      h += eval_response(base->label() + ", evaluated", *before.at(id));
    if (!id.empty() && after.count(id) && best != base)
      h += eval_response(best->label() + " (best), evaluated", *after.at(id));
    h += "</div>\n";
  }
  return h;
}

std::string before_after_html(const RunData& run, std::int64_t count) {
  const RoundData* base = run.round(0);
  const RoundData* best = run.round(run.best_round());
  const auto before = responses_by_id(base), after = responses_by_id(best);
  if (before.empty() || after.empty() || base == best) return "";
  // Fixed prompts first (violating before, compliant after), then regressions, then the rest.
  std::vector<std::pair<int, std::string>> ranked;
  for (const auto& [id, b] : before) {
    auto it = after.find(id);
    if (it == after.end()) continue;
    const bool pb = passes(*b), pa = passes(*it->second);
    ranked.emplace_back(!pb && pa ? 0 : pb && !pa ? 1 : 2, id);
  }
  std::stable_sort(ranked.begin(), ranked.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string h = fmt::format("<h3>Before and after: {} vs {} (best) on evaluation prompts</h3>\n",
                              base->label(), best->label());
  for (std::size_t i = 0; i < ranked.size() && static_cast<std::int64_t>(i) < count; ++i) {
    const std::string& id = ranked[i].second;
    const Json& b = *before.at(id);
    h += "<div class=\"ex\">\n<h4>" + escape_html(id) + " (" + escape_html(str_at(b, "kind")) +
         ")</h4>\n";
    h += text_block("Prompt", str_at(b, "prompt"), "text prompt");
    h += "<div class=\"pair\"><div>" + eval_response("Before: " + base->label(), b) +
         "</div><div>" + eval_response("After: " + best->label() + " (best)", *after.at(id)) +
         "</div></div>\n</div>\n";
  }
  return h;
}

}  // namespace

Section examples_section(const RunData& run, std::int64_t count) {
  Section sec{"examples", "Examples", ""};
  std::vector<std::string> absent;
  const RoundData* first = run.round(1);
  if (first && first->critique_revise)
    sec.html += trail_html(run, *first, count);
  else
    absent.push_back("round-1/critique_revise.jsonl");
  const std::string ba = before_after_html(run, count);
  sec.html += ba + missing(absent);
  if (ba.empty())
    sec.html +=
        note(run.best_round() == 0
                 ? "No before/after responses: the best round is the base model (round 0)."
                 : "No before/after responses: they need round-0/eval.json and the best round's "
                   "eval.json with responses to the same prompts.");
  return sec;
}

}  // namespace cai::report
