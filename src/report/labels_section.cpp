// Phase 2 as the report shows it: how confident the judge's labels are (the histogram of
// p_chosen over every round's labels.jsonl) and how often its two orders disagree (position
// bias: a pair whose (A)/(B) and (B)/(A) judgements prefer different responses).
#include <fmt/format.h>

#include <cmath>

#include "cai/report/html.h"
#include "cai/report/svg.h"
#include "sections.h"

namespace cai::report {

Section labels_section(const RunData& run) {
  Section sec{"labels", "Label confidence and position bias", ""};
  std::vector<std::string> absent;
  std::vector<double> all;
  std::vector<Bar> bias;
  bool below_half = false;
  std::string table =
      "<table>\n<tr><th>round</th><th>pairs</th><th>mean p_chosen</th>"
      "<th>position flips</th><th>mean order disagreement</th></tr>\n";
  for (const auto& r : run.rounds) {
    if (r.round == 0) continue;  // the base round only evaluates
    if (!r.labels) {
      absent.push_back(fmt::format("round-{}/labels.jsonl", r.round));
      continue;
    }
    double sum = 0, disagreement = 0;
    CountedRate flips;  // shown with its 95% interval, as every rate here
    for (const auto& l : *r.labels) {
      all.push_back(l.p_chosen);
      below_half = below_half || l.p_chosen < 0.5;
      sum += l.p_chosen;
      flips.add(l.position_flip);
      disagreement += l.position_disagreement;
    }
    const std::int64_t n = flips.total;
    table += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                         escape_html(r.label()), n, n ? number(sum / n, 3) : "n/a",
                         escape_html(rate_cell(&flips)), n ? number(disagreement / n, 3) : "n/a");
    if (n)
      bias.push_back(
          {fmt::format("round {}", r.round), flips.rate(), "", "", percent(flips.rate())});
  }
  table += "</table>\n";
  std::string& h = sec.html;
  if (all.empty()) {
    h = note("No labels are available.");
  } else {
    ChartOptions o;
    o.name = "label-confidence";
    o.title = fmt::format("p_chosen of {} labelled pairs, all rounds", all.size());
    o.x_label = "p_chosen (the judge's probability for the chosen response)";
    o.y_label = "pairs";
    // Labels choose the preferred response, so p_chosen >= 0.5; older files may not.
    o.width = 600;
    std::string plots = histogram(all, below_half ? 0.0 : 0.5, 1.0, 10, o);
    ChartOptions b;
    b.name = "position-bias";
    b.title = "Position-bias rate per round";
    b.y_percent = true;
    b.y_min = 0.0;
    b.y_max = 1.0;
    b.width = 420;
    b.height = 240;
    h += plots_row(plots + bar_chart(bias, b));
    h += "<p>Position bias: the share of pairs whose two orders ((A)/(B) and (B)/(A)) prefer "
         "different "
         "responses; the label averages both orders.</p>\n" +
         table;
  }
  h += missing(absent);
  return sec;
}

}  // namespace cai::report
