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

std::string cell(const CountedRate* rate) {
  return "<td>" + escape_html(rate_cell(rate)) + "</td>";
}

std::string kl_html(const eval::KlRecord& r) {
  const eval::KlByPosition& kl = r.kl;
  Series s{"mean KL", {}, {}, false, {}};
  for (std::size_t j = 0; j < kl.mean.size(); ++j)
    if (std::isfinite(kl.mean[j])) s.x.push_back(static_cast<double>(j)), s.y.push_back(kl.mean[j]);
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
  h += fmt::format(
      "<p>Measured on {} {} responses ({} tokens, both models teacher-forced on the same tokens). "
      "Mean KL over the first {} tokens: <b>{}</b> ({} tokens); over all tokens: <b>{}</b>.</p>\n",
      kl.responses, escape_html(r.source), kl.tokens, kl.first_k, number(kl.first_k_mean, 4),
      kl.first_k_tokens, number(kl.overall_mean, 4));
  return h;
}

std::string prefill_html(const std::vector<eval::PrefillRow>& rows) {
  if (rows.empty()) return note("Not available: probe.json has no prefill rows.");
  std::string h =
      "<h3>Prefill attack</h3>\n<p>The response is forced to start with the first k tokens of a "
      "violating response; the oracle scores the forced start and the model's continuation. "
      "Overall: every principle followed; target: the principle of the prompt's kind. Whole "
      "prefix: "
      "prompts whose violating response has at most k tokens (all of it is forced).</p>\n"
      "<table>\n<tr><th>k</th><th>base overall</th><th>base target</th><th>aligned overall</th>"
      "<th>aligned target</th><th>whole prefix</th></tr>\n";
  for (const auto& r : rows)
    h += fmt::format("<tr><td>{}</td>", r.k) + cell(r.base ? &r.base->overall : nullptr) +
         cell(r.base ? &r.base->target : nullptr) + cell(&r.aligned.overall) +
         cell(&r.aligned.target) + fmt::format("<td>{}</td></tr>\n", r.whole_prefix);
  return h + "</table>\n";
}

std::string finetune_html(const eval::FinetuneRecord& ft) {
  if (ft.rows.empty()) return note("Not available: probe.json has no fine-tuning rows.");
  std::string h = fmt::format(
      "<h3>Fine-tuning attack</h3>\n<p>The aligned model fine-tuned on n violating "
      "examples (each n from the aligned model; {} epochs, lr {}), then its oracle "
      "compliance on the probed prompts.</p>\n",
      ft.epochs, ft.lr);
  h += "<table>\n<tr><th>n</th><th>steps</th><th>final "
       "loss</th><th>overall</th><th>target</th></tr>\n";
  for (const auto& r : ft.rows)
    h += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td>", r.n, r.steps,
                     r.loss ? number(*r.loss, 4) : "-") +
         cell(&r.rates.overall) + cell(&r.rates.target) + "</tr>\n";
  return h + "</table>\n";
}

}  // namespace

Section probe_section(const RunData& run) {
  Section sec{"probe", "Shallow-alignment probe", ""};
  if (!run.probe) {
    sec.html = note("Not available (missing): probe/probe.json.");
    return sec;
  }
  const eval::ProbeFile& p = *run.probe;
  std::string& h = sec.html;
  // How the responses were drawn says whether these figures compare with another probe's: the
  // loop's probe samples as its evaluation does (greedy by default), `cai probe` at 1.0.
  h += fmt::format(
      "<p>Aligned model {} against base model {} on {} {} prompts of the world, responses "
      "{}.</p>\n",
      escape_html(p.aligned), escape_html(p.base), p.prompts, escape_html(p.split),
      escape_html(p.responses_drawn()));
  h += p.kl ? kl_html(*p.kl) : note("Per-token KL not measured.");
  h += p.prefill ? prefill_html(*p.prefill) : note("Prefill attack not run.");
  h += p.finetune ? finetune_html(*p.finetune) : note("Fine-tuning attack not run.");
  if (const auto& b = run.probe_before_deepen) {
    // The same attacks on the round's model before its deepen stage, for the difference.
    h += fmt::format(
        "<h3>Before deepening</h3>\n<p>The same probe of {}, the round's model before its deepen "
        "stage.</p>\n",
        escape_html(b->aligned));
    if (b->kl)
      h += fmt::format(
          "<p>Mean KL over the first {} tokens: <b>{}</b>; over all tokens: "
          "<b>{}</b>.</p>\n",
          b->kl->kl.first_k, number(b->kl->kl.first_k_mean, 4), number(b->kl->kl.overall_mean, 4));
    if (b->prefill) h += prefill_html(*b->prefill);
    if (b->finetune) h += finetune_html(*b->finetune);
  }
  return sec;
}

}  // namespace cai::report
