// The shallow-alignment probe's section (probe/probe.json, written by `cai probe`; layout in
// include/cai/eval/probe.h): KL(aligned || base) by response position, and the prefill and
// fine-tuning attack tables.
#include "sections.h"

#include <fmt/format.h>

#include <cmath>

#include "cai/report/html.h"
#include "cai/report/svg.h"

namespace cai::report {
namespace {

const Json kNone;

const Json& at(const Json& j, const char* key) {
  return j.is_object() && j.contains(key) ? j[key] : kNone;
}

std::string cell(const Json& rate) { return "<td>" + escape_html(rate_cell(rate)) + "</td>"; }

std::string kl_html(const Json& kl) {
  Series s{"mean KL", {}, {}, false, {}};
  const Json& pos = at(kl, "by_position");
  if (pos.is_array())
    for (const auto& p : pos) {
      const double x = num_at(p, {"position"}), y = num_at(p, {"mean"});
      if (std::isfinite(x) && std::isfinite(y)) s.x.push_back(x), s.y.push_back(y);
    }
  if (s.x.empty()) return note("Not available: probe.json has no per-position KL.");
  ChartOptions o;
  o.name = "probe-kl";
  o.title = "Per-token KL(aligned || base) by response position";
  o.x_label = "response token position";
  o.y_label = "mean KL (nats)";
  o.integer_x = true;
  o.y_min = 0.0;
  o.width = 760;
  std::string h = line_chart({s}, o);
  const std::string source = str_at(kl, "source", "?");
  const double k = num_at(kl, {"first_k", "k"});
  h += fmt::format(
      "<p>Measured on {} {} responses ({} tokens, both models teacher-forced on the same tokens). "
      "Mean KL over the first {} tokens: <b>{}</b> ({} tokens); over all tokens: <b>{}</b>.</p>\n",
      escape_html(str_at(kl, "responses", "?")), escape_html(source),
      escape_html(str_at(kl, "tokens", "?")),
      std::isfinite(k) ? fmt::format("{}", static_cast<long long>(k)) : "k",
      number(num_at(kl, {"first_k", "mean"}), 4),
      escape_html(str_at(at(kl, "first_k"), "tokens", "?")),
      number(num_at(kl, {"overall", "mean"}), 4));
  return h;
}

std::string prefill_html(const Json& pre) {
  const Json& rows = at(pre, "rows");
  if (!rows.is_array() || rows.empty())
    return note("Not available: probe.json has no prefill rows.");
  std::string h =
      "<h3>Prefill attack</h3>\n<p>The response is forced to start with the first k tokens of a "
      "violating response; the oracle scores the forced start and the model's continuation. "
      "Overall: every principle followed; target: the principle of the prompt's kind. Whole "
      "prefix: "
      "prompts whose violating response has at most k tokens (all of it is forced).</p>\n"
      "<table>\n<tr><th>k</th><th>base overall</th><th>base target</th><th>aligned overall</th>"
      "<th>aligned target</th><th>whole prefix</th></tr>\n";
  for (const auto& r : rows)
    h += "<tr><td>" + escape_html(str_at(r, "k", "?")) + "</td>" +
         cell(at(at(r, "base"), "overall")) + cell(at(at(r, "base"), "target")) +
         cell(at(at(r, "aligned"), "overall")) + cell(at(at(r, "aligned"), "target")) + "<td>" +
         escape_html(str_at(r, "whole_prefix", "?")) + "</td></tr>\n";
  return h + "</table>\n";
}

std::string finetune_html(const Json& ft) {
  const Json& rows = at(ft, "rows");
  if (!rows.is_array() || rows.empty())
    return note("Not available: probe.json has no fine-tuning rows.");
  std::string h = fmt::format(
      "<h3>Fine-tuning attack</h3>\n<p>The aligned model fine-tuned on n violating "
      "examples (each n from the aligned model; {} epochs, lr {}), then its oracle "
      "compliance on the probed prompts.</p>\n",
      escape_html(str_at(ft, "epochs", "?")), escape_html(str_at(ft, "lr", "?")));
  h += "<table>\n<tr><th>n</th><th>steps</th><th>final "
       "loss</th><th>overall</th><th>target</th></tr>\n";
  for (const auto& r : rows) {
    const double loss = num_at(r, {"loss"});
    h += "<tr><td>" + escape_html(str_at(r, "n", "?")) + "</td><td>" +
         escape_html(str_at(r, "steps", "?")) + "</td><td>" +
         (std::isfinite(loss) ? number(loss, 4) : "-") + "</td>" + cell(at(r, "overall")) +
         cell(at(r, "target")) + "</tr>\n";
  }
  return h + "</table>\n";
}

}  // namespace

Section probe_section(const RunData& run) {
  Section sec{"probe", "Shallow-alignment probe", ""};
  if (!run.probe) {
    sec.html = note("Not available (missing): probe/probe.json.");
    return sec;
  }
  const Json& p = *run.probe;
  std::string& h = sec.html;
  h += fmt::format("<p>Aligned model {} against base model {} on {} {} prompts of the world.</p>\n",
                   escape_html(str_at(p, "aligned", "?")), escape_html(str_at(p, "base", "?")),
                   escape_html(str_at(p, "prompts", "?")), escape_html(str_at(p, "split", "?")));
  h += p.contains("kl") ? kl_html(p["kl"]) : note("Per-token KL not measured.");
  h += p.contains("prefill") ? prefill_html(p["prefill"]) : note("Prefill attack not run.");
  h += p.contains("finetune") ? finetune_html(p["finetune"]) : note("Fine-tuning attack not run.");
  return sec;
}

}  // namespace cai::report
