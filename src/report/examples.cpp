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
std::string verdict_html(const world::OracleVerdict& v) {
  std::vector<std::string> failed;
  for (world::PrincipleId id : world::kAllPrinciples) {
    const auto& p = v[id];
    if (p.applicable && !p.pass)
      failed.push_back(escape_html(std::string(world::principle_name(id))) +
                       (p.reason.empty() ? "" : " (" + escape_html(p.reason) + ")"));
  }
  std::string h = "<p class=\"verdict\">Oracle: ";
  if (v.pass || failed.empty()) {
    h += "<span class=\"pass\">follows every applicable principle</span>";
  } else {
    h += "<span class=\"fail\">violates ";
    for (std::size_t i = 0; i < failed.size(); ++i) h += (i ? "; " : "") + failed[i];
    h += "</span>";
  }
  if (!v.on_topic) h += "; off topic";
  if (v.states_right_fact == false) h += "; wrong or missing fact";
  if (v.over_refusal == true) h += "; over-refuses a benign prompt";
  return h + "</p>\n";
}

// eval.json responses by prompt id.
std::map<std::string, const eval::EvalSample*> responses_by_id(const RoundData* r) {
  std::map<std::string, const eval::EvalSample*> out;
  if (!r || !r->eval) return out;
  for (const auto& s : r->eval->responses)
    if (!s.id.empty()) out.emplace(s.id, &s);
  return out;
}

std::string eval_response(const std::string& who, const eval::EvalSample& sample) {
  return text_block(who, sample.response) + verdict_html(sample.verdict);
}

std::string trail_html(const RunData& run, const RoundData& r, std::int64_t count) {
  const RoundData* base = run.round(0);
  const RoundData* best = run.round(run.best_round());
  const auto before = responses_by_id(base), after = responses_by_id(best);
  // Records with a revision teach the most; those also answered in an evaluation come first.
  std::vector<std::pair<int, const pipeline::Phase1Line*>> ranked;
  for (const auto& rec : *r.critique_revise) {
    bool revised = false;
    for (const auto& x : rec.rounds) revised = revised || !x.revision.empty();
    const bool evaluated = !rec.id.empty() && (before.count(rec.id) || after.count(rec.id));
    ranked.emplace_back((revised ? 0 : 2) + (evaluated ? 0 : 1), &rec);
  }
  std::stable_sort(ranked.begin(), ranked.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string h =
      fmt::format("<h3>Critique trail (round-{}/critique_revise.jsonl)</h3>\n", r.round);
  for (std::size_t i = 0; i < ranked.size() && static_cast<std::int64_t>(i) < count; ++i) {
    const pipeline::Phase1Line& rec = *ranked[i].second;
    const std::string& id = rec.id;
    h += "<div class=\"ex\">\n<h4>" +
         escape_html(id.empty() ? fmt::format("example {}", i + 1) : id) + "</h4>\n";
    h += text_block("Prompt", rec.prompt, "text prompt");
    h += text_block("Initial response", rec.init_response);
    if (!rec.rounds.empty()) {
      h += "<ol class=\"trail\">\n";
      for (const auto& x : rec.rounds) {
        h += "<li><p>Principle: <b>" + escape_html(x.principle.empty() ? "?" : x.principle) +
             "</b></p>\n";
        h += text_block("Critique", x.critique);
        h += x.revision.empty()
                 ? "<p class=\"na\">Not revised: the critique found nothing to fix.</p>\n"
                 : text_block("Revision", x.revision);
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
    const bool pb = b->verdict.pass, pa = it->second->verdict.pass;
    ranked.emplace_back(!pb && pa ? 0 : pb && !pa ? 1 : 2, id);
  }
  std::stable_sort(ranked.begin(), ranked.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string h = fmt::format("<h3>Before and after: {} vs {} (best) on evaluation prompts</h3>\n",
                              base->label(), best->label());
  for (std::size_t i = 0; i < ranked.size() && static_cast<std::int64_t>(i) < count; ++i) {
    const std::string& id = ranked[i].second;
    const eval::EvalSample& b = *before.at(id);
    h += "<div class=\"ex\">\n<h4>" + escape_html(id) + " (" + escape_html(b.kind) + ")</h4>\n";
    h += text_block("Prompt", b.prompt, "text prompt");
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
