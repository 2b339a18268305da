// The run summary (manifest, summary.json, per-round quality and timings) and the training
// curves of every round's SFT and DPO stages.
#include "sections.h"

#include <fmt/format.h>

#include <cmath>

#include "cai/report/html.h"
#include "cai/report/svg.h"

namespace cai::report {

std::string note(const std::string& text) {
  return "<p class=\"na\">" + escape_html(text) + "</p>\n";
}

std::string missing(const std::vector<std::string>& files) {
  if (files.empty()) return "";
  std::string list;
  for (std::size_t i = 0; i < files.size(); ++i) list += (i ? ", " : "") + files[i];
  return note("Not available (missing): " + list + ".");
}

std::string plots_row(const std::string& plots) {
  return plots.empty() ? "" : "<div class=\"plots\">\n" + plots + "</div>\n";
}

namespace {

std::string row(const std::string& key, const std::string& value_html) {
  return "<tr><th>" + escape_html(key) + "</th><td>" + value_html + "</td></tr>\n";
}

// "sft 12.0 s, dpo 3.5 s" from round.json's seconds per stage.
std::string stage_seconds(const loop::RoundFile& info) {
  std::string out;
  for (const auto& [stage, s] : info.seconds)
    out += fmt::format("{}{} {:.1f} s", out.empty() ? "" : ", ", stage, s);
  return out;
}

std::string manifest_html(const loop::ManifestFile& m) {
  auto or_unknown = [](const std::string& s) { return s.empty() ? std::string("?") : s; };
  std::string h = "<table class=\"kv\">\n";
  h += row("name", escape_html(or_unknown(m.name)));
  h += row("cai version", escape_html(or_unknown(m.cai_version)));
  h += row("created", escape_html(or_unknown(m.created)));
  if (!m.resumed.empty()) {
    std::string r;
    for (const auto& t : m.resumed) r += (r.empty() ? "" : ", ") + t;
    h += row("resumed", escape_html(r));
  }
  h += row("seed", fmt::format("{}", m.seed));
  h += "</table>\n";
  if (!m.inputs.empty()) {
    h += fmt::format(
        "<details><summary>Inputs and their SHA-256 ({})</summary>\n<table>\n"
        "<tr><th>role</th><th>path</th><th>sha256</th></tr>\n",
        m.inputs.size());
    for (const auto& in : m.inputs)
      h += "<tr><td>" + escape_html(in.role) + "</td><td>" + escape_html(in.path) +
           "</td><td class=\"hash\">" + escape_html(in.sha256) + "</td></tr>\n";
    h += "</table>\n</details>\n";
  }
  if (!m.config.empty())
    h += "<details><summary>Configuration</summary>\n<pre class=\"text\">" +
         escape_html(m.config.dump(2)) + "</pre>\n</details>\n";
  return h;
}

std::string summary_html(const RunData& run) {
  const loop::SummaryFile& s = *run.summary;
  std::string h = "<table class=\"kv\">\n";
  h += row("best round", fmt::format("{}", s.best_round));
  h += row("best model", escape_html(s.best_model.empty() ? "n/a" : s.best_model));
  if (!s.metric.empty()) h += row("quality metric", escape_html(s.metric));
  if (s.ranking.oracle_best_round)
    // Whether the world's oracle ranks the rounds as the quality signal does.
    h += row("oracle's best round",
             fmt::format("{} ({} the quality signal)", *s.ranking.oracle_best_round,
                         s.ranking.agree.value_or(false) ? "agrees with" : "differs from"));
  if (s.counted_from == 2)
    h += row("win rates counted from",
             "round 2 (round 1's is the base model judging its own responses)");
  h += row("stopped", escape_html(s.stopped.empty() ? "n/a" : s.stopped));
  h += row("reason", escape_html(s.reason));
  return h + "</table>\n";
}

}  // namespace

Section summary_section(const RunData& run) {
  Section sec{"summary", "Run summary", ""};
  std::string& h = sec.html;
  std::vector<std::string> absent;
  if (run.manifest)
    h += manifest_html(*run.manifest);
  else
    absent.push_back("manifest.json");
  if (run.summary)
    h += summary_html(run);
  else
    absent.push_back("summary.json (the run has not finished)");
  h += missing(absent);

  // Per round: quality (with its interval for a win rate), the oracle's compliance beside it
  // when there is a world, completion and time per stage.
  std::string metric;
  Series q{"quality", {}, {}, false, {}};
  Series oracle{"oracle compliance", {}, {}, true, {}};
  h += "<table>\n<tr><th>round</th><th>quality</th><th>95% interval</th><th>oracle "
       "compliance</th><th>done</th><th>seconds per stage</th><th>model</th></tr>\n";
  for (const auto& r : run.rounds) {
    const double v = r.quality ? r.quality->quality : std::nan("");
    if (r.quality && metric.empty()) metric = r.quality->metric;
    if (std::isfinite(v)) q.x.push_back(r.round), q.y.push_back(v);
    const double o =
        r.eval && r.eval->compliance ? r.eval->compliance->overall.rate() : std::nan("");
    if (std::isfinite(o)) oracle.x.push_back(r.round), oracle.y.push_back(o);
    std::string ci = "";
    if (r.quality && r.quality->win_rate)
      ci = number(r.quality->win_rate->ci_lo, 3) + " - " + number(r.quality->win_rate->ci_hi, 3);
    const bool done = r.info && r.info->done;
    const bool best = r.round == run.best_round();
    h += fmt::format(
        "<tr{}><td>{}{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
        "<td>{}</td></tr>\n",
        best ? " class=\"best\"" : "", escape_html(r.label()), best ? " (best)" : "",
        std::isfinite(v) ? number(v, 4) : "n/a", ci, std::isfinite(o) ? number(o, 4) : "",
        r.round == 0 ? (r.eval ? "evaluated" : "no") : (done ? "yes" : "no"),
        r.info ? escape_html(stage_seconds(*r.info)) : "",
        r.info ? escape_html(r.info->model) : "");
  }
  h += "</table>\n";
  if (run.rounds.empty()) h += note("No round-K directory yet.");
  if (!q.x.empty()) {
    ChartOptions o;
    o.name = "quality";
    o.title = "Quality per round" + (metric.empty() ? "" : " (" + metric + ")") +
              (oracle.x.empty() ? "" : " and the oracle's compliance");
    o.x_label = "round";
    o.integer_x = true;
    std::vector<Series> series = {q};
    if (!oracle.x.empty()) series.push_back(oracle);
    h += line_chart(series, o);
  }
  return sec;
}

namespace {

// A metric of one round's metrics lines as a train series and (when logged) an eval series.
std::vector<Series> metric_series(const RoundData& r, const JsonLines& lines, const char* key) {
  // One colour per round; the eval split dashed.
  const std::string colour = palette(static_cast<std::size_t>(r.round > 0 ? r.round - 1 : 0));
  Series train{fmt::format("round {} train", r.round), {}, {}, false, colour};
  Series eval{fmt::format("round {} eval", r.round), {}, {}, true, colour};
  for (const auto& j : lines) {
    const double v = num_at(j, {key});
    if (!j.contains(key)) continue;
    Series& s = str_at(j, "split", "train") == "eval" ? eval : train;
    s.x.push_back(num_at(j, {"step"}));
    s.y.push_back(v);  // NaN (a logged null) leaves a gap
  }
  std::vector<Series> out;
  if (!train.x.empty()) out.push_back(std::move(train));
  if (!eval.x.empty()) out.push_back(std::move(eval));
  return out;
}

std::string stage_plots(const RunData& run, const char* stage, std::vector<std::string>& absent) {
  struct Metric {
    const char* key;
    const char* plot;
    const char* title;
    bool rate;
  };
  const std::string s(stage);
  std::vector<Metric> metrics = {{"loss", "sft-loss", "SFT loss", false}};
  if (s == "dpo")
    metrics = {{"loss", "dpo-loss", "DPO loss", false},
               {"rewards/margins", "dpo-margins", "DPO rewards/margins", false},
               {"rewards/accuracies", "dpo-accuracies", "DPO rewards/accuracies", true}};
  if (s == "rm")
    metrics = {{"loss", "rm-loss", "Reward model loss", false},
               {"accuracy", "rm-accuracy", "Reward model accuracy", true}};
  // RL logs per rollout: the reward model's score, the KL to the reference, entropy, length.
  if (s == "rl")
    metrics = {{"score", "rl-score", "RL reward-model score", false},
               {"kl", "rl-kl", "RL KL to the reference", false},
               {"entropy", "rl-entropy", "RL entropy", false},
               {"response_length", "rl-length", "RL response length", false}};
  // Deepening's constrained objective logs the plain cross-entropy beside its loss.
  if (s == "deepen")
    metrics = {{"loss", "deepen-loss", "Deepening loss (token-wise constrained)", false},
               {"nll", "deepen-nll", "Deepening cross-entropy", false}};
  // Stages a round runs only when configured.
  const bool optional = s == "rm" || s == "rl" || s == "deepen";
  std::string h;
  for (const auto& m : metrics) {
    std::vector<Series> series;
    for (const auto& r : run.rounds) {
      if (r.round == 0) continue;
      const auto& lines = s == "dpo"      ? r.dpo_metrics
                          : s == "rm"     ? r.rm_metrics
                          : s == "rl"     ? r.rl_metrics
                          : s == "deepen" ? r.deepen_metrics
                                          : r.sft_metrics;
      if (!lines) {
        if (!optional && m.key == std::string("loss"))
          absent.push_back(fmt::format("round-{}/{}/metrics.jsonl", r.round, s));
        continue;
      }
      for (auto& x : metric_series(r, *lines, m.key)) series.push_back(std::move(x));
    }
    if (series.empty()) continue;  // not logged by this objective (or no round trained yet)
    ChartOptions o;
    o.name = m.plot;
    o.title = std::string(m.title) + " (solid: train, dashed: eval)";
    o.width = 520;
    o.x_label = "step";
    o.integer_x = true;
    o.y_percent = m.rate;
    if (m.rate) o.y_min = 0.0, o.y_max = 1.0;
    h += line_chart(series, o);
  }
  return h;
}

}  // namespace

Section training_section(const RunData& run) {
  Section sec{"training", "Training", ""};
  std::vector<std::string> absent;
  std::string plots = stage_plots(run, "sft", absent) + stage_plots(run, "dpo", absent) +
                      stage_plots(run, "rm", absent) + stage_plots(run, "rl", absent) +
                      stage_plots(run, "deepen", absent);
  sec.html = plots_row(plots) + missing(absent);
  if (plots.empty()) sec.html += note("No training metrics are available yet.");
  return sec;
}

}  // namespace cai::report
