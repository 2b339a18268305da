// The loop's rounds (see include/cai/loop/loop.h): each round's stages as a table
// (stage_table.h), the quality sequence and the early-stop rule, summary.json.
#include "cai/loop/loop.h"
#include "cai/io/log.h"

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <optional>

#include "cai/constitution/constitution.h"
#include "cai/eval/probe_file.h"
#include "cai/io/error.h"
#include "cai/io/file.h"
#include "cai/io/json.h"
#include "cai/io/progress.h"
#include "cai/loop/manifest.h"
#include "cai/loop/winrate.h"
#include "cai/model/llama.h"
#include "cai/pipeline/common.h"
#include "internal.h"
#include "stage_table.h"

namespace cai::loop {

std::optional<std::size_t> early_stop_round(const std::vector<double>& q, double factor) {
  for (std::size_t k = 1; k < q.size(); ++k)
    if (q[k] < factor * q[k - 1]) return k;
  return std::nullopt;
}

std::size_t best_round(const std::vector<double>& q) {
  std::size_t best = 0;
  for (std::size_t k = 1; k < q.size(); ++k)
    if (q[k] > q[best]) best = k;
  return best;
}

namespace {

using namespace detail;

// A run file of type T; a bad one names the stage that rewrites it.
template <typename T>
T read_run_file(const fs::path& p) {
  try {
    return read_json_as<T>(p);
  } catch (const Error& e) {
    throw_error("{}; delete {} to redo its stage", e.what(), p.string());
  }
}

// Thrown to unwind when the stop_after hook is reached.
struct StopAfter {};

class Runner {
 public:
  Runner(const LoopOptions& o, LoopConfig c)
      : opts_(o),
        c_(std::move(c)),
        backends_(c_, make_backend, o.threads),
        first_counted_(self_judged_first_round(c_.quality.judge, c_.base_model)) {}

  LoopResult run() {
    // Files a killed run was writing when it died (never renamed into place, never read).
    remove_stale_temporaries(c_.out);
    write_manifest(c_);
    constitution_ = load_constitution(c_.constitution);
    if (c_.rounds > 0) train_prompts_ = pipeline::read_prompts(c_.prompts.train);
    std::vector<double> quality;
    std::vector<std::string> models;
    std::string stopped = "rounds", reason = fmt::format("all {} rounds ran", c_.rounds);
    try {
      std::string model = c_.base_model;  // "" with only an api: the base backend
      for (std::int64_t k = 0; k <= c_.rounds; ++k) {
        RoundDir rd(c_.out, k);
        model = run_round(rd, model);
        const double q = round_quality(rd);
        quality.push_back(q);
        models.push_back(model.empty() ? backends_.base().describe() : model);
        write_round_json(rd, model, q);
        result_.rounds.push_back({k, q, models.back()});
        if (winrate() && k == 1 && first_counted_ == 2)
          say(fmt::format(
              "round 1's win rate over round 0 ({:.4f}) is the base model judging against its own "
              "responses: reported, not used to stop or to rank (that starts at round 2)",
              q));
        if (auto s = stop_round(quality); s && *s == quality.size() - 1) {
          stopped = "early-stop";
          reason = winrate()
                       ? fmt::format("round {} win rate over round {} {:.4f} < {} x 0.5", k, k - 1,
                                     q, c_.quality.factor)
                       : fmt::format("round {} quality {:.4f} < {} x round {} quality {:.4f}", k, q,
                                     c_.quality.factor, k - 1, quality[quality.size() - 2]);
          break;
        }
      }
    } catch (const StopAfter&) {
      result_.stopped = "stop_after";
      result_.reason = "stopped after " + opts_.stop_after;
      return result_;
    }
    const std::size_t best =
        winrate() ? winrate_best_round(quality, first_counted_) : best_round(quality);
    result_.best_round = static_cast<std::int64_t>(best);
    result_.stopped = stopped;
    result_.reason = reason;
    const SummaryFile summary = summarise(quality, models, best, stopped, reason);
    result_.summary = summary.to_json();
    write_json(fs::path(c_.out) / "summary.json", result_.summary);
    if (c_.probe.enabled) {
      const std::size_t probed = c_.probe.model == ProbeModel::last ? models.size() - 1 : best;
      if (probed == 0) {
        say("probe skipped: the probed round is the base model's");
      } else {
        const fs::path dir = fs::path(c_.out) / "probe";
        probe(models[probed], dir);
        // With deepening, the same probe of the round's model before it: what deepening did.
        const nlohmann::json deepened =
            RoundDir(c_.out, static_cast<std::int64_t>(probed)).note("deepen");
        if (deepened.contains("from"))
          probe(deepened["from"].get<std::string>(), dir / "before-deepen");
      }
    }
    result_.table = summary_table(summary, c_.out);
    return result_;
  }

 private:
  bool winrate() const { return c_.quality.metric == QualityMetric::winrate; }

  // `aligned` probed into dir/probe.json, unless that file already probed it.
  void probe(const std::string& aligned, const fs::path& dir) {
    const fs::path done = dir / "probe.json";
    if (fs::exists(done) && read_run_file<eval::ProbeFile>(done).aligned == aligned) {
      say("probe of " + aligned + " complete, skipped");
      return;
    }
    say("probe of " + aligned + " ...");
    backends_.release_current();
    run_probe(c_, aligned, dir, opts_.progress);
  }

  std::optional<std::size_t> stop_round(const std::vector<double>& quality) const {
    return winrate() ? winrate_stop_round(quality, c_.quality.factor, first_counted_)
                     : early_stop_round(quality, c_.quality.factor);
  }

  void say(const std::string& msg) const {
    if (opts_.progress) log_info("loop", "{}", msg);
  }

  std::string label(const RoundDir& rd, const std::string& stage) const {
    return rd.round() == 0 ? fmt::format("round 0: {}", stage)
                           : fmt::format("round {}/{}: {}", rd.round(), c_.rounds, stage);
  }

  // A labelling stage's line and its note in stages.json: with sampled responses, how many
  // pairs of equal texts were left unjudged (on-policy samples of a converged policy repeat).
  // A resumed stage counts what it did itself.
  nlohmann::json labels_note(const RoundDir& rd, const std::string& name,
                             const pipeline::LabelRunCounts& n) const {
    const bool sampled = (name == "phase2" ? c_.label.samples : c_.rl.rm.samples) > 0;
    say(fmt::format(
        "{}: {} labelled pairs written{}", label(rd, name), n.written,
        sampled ? fmt::format(", {} pairs of equal texts skipped unjudged", n.equal_skipped) : ""));
    nlohmann::json note = {{"pairs", n.written}};
    if (sampled) note["equal_texts_skipped"] = n.equal_skipped;
    return note;
  }

  // Tells how each stage went; honours stop_after.
  StageTable::Report reporter(const RoundDir& rd) {
    return [this, &rd](const Stage& s, StageEvent how, double seconds) {
      const std::string id = fmt::format("round-{}/{}", rd.round(), s.name);
      switch (how) {
        case StageEvent::start:
          return say(label(rd, s.name) + " ...");
        case StageEvent::ran:
          result_.ran.push_back(id);
          say(fmt::format("{} done in {:.1f} s", label(rd, s.name), seconds));
          break;
        case StageEvent::complete:
        case StageEvent::not_needed:
          result_.skipped.push_back(id);
          say(label(rd, s.name) +
              (how == StageEvent::complete ? " complete, skipped" : " not needed, skipped"));
          break;
      }
      if (opts_.stop_after == id) throw StopAfter{};
    };
  }

  // Round K's stages from `model` (round 0: the evaluation alone): Phase 1, Phase 2, the
  // datasets, SFT, DPO, the reward model and RL, deepening, then eval.json and quality.json.
  // Returns the round's model.
  std::string run_round(RoundDir& rd, const std::string& model) {
    StageTable table;
    std::string current = model;    // the round's model so far (training stages' `then` move it)
    std::vector<fs::path> trained;  // every training stage's model: what evaluation reads
    std::vector<pipeline::PromptRecord> prompts;
    if (rd.round() > 0) {
      prompts = round_prompts(train_prompts_, c_, rd.round());
      add_data_stages(table, rd, model, prompts);
      if (c_.sft.enabled) {
        // sft.init base: the data is the policy's, the weights start over. No SFT data keeps
        // the round's policy either way (not the base model).
        const std::string from = c_.sft.init == SftInit::base ? c_.base_model : model;
        add_training(table, rd, "sft", rd / "sft_data.jsonl", c_.sft.lora, current, trained, from);
      }
      if (c_.dpo.enabled)
        add_training(table, rd, "dpo", rd / "dpo_data.jsonl", c_.dpo.lora, current, trained);
      if (c_.rl.enabled) add_rl(table, rd, prompts, current, trained);
      if (c_.deepen.enabled) add_deepen(table, rd, current, trained);
    }
    add_evaluation(table, rd, current, trained);
    table.run(rd, reporter(rd));
    return current;
  }

  // Phase 1, Phase 2 (when something reads its labels) and the datasets made from them.
  void add_data_stages(StageTable& table, RoundDir& rd, const std::string& model,
                       const std::vector<pipeline::PromptRecord>& prompts) {
    const bool progress = opts_.progress;
    const fs::path phase1 = rd / "critique_revise.jsonl", labels = rd / "labels.jsonl";
    table.add({"phase1", {}, {phase1}, [&, progress] {
                 run_phase1(c_, backends_.policy(model), constitution_, prompts, rd, progress);
                 return nlohmann::json{{"prompts", prompts.size()}};
               }});
    if (c_.dpo.enabled || c_.rl.enabled || (c_.sft.enabled && c_.sft.only_preferred_revisions))
      table.add({"phase2", {phase1}, {labels}, [&, progress] {
                   Backend& policy = backends_.policy(model);
                   return labels_note(rd, "phase2",
                                      run_phase2(c_, policy, backends_.label_judge(model),
                                                 constitution_, prompts, rd, progress));
                 }});
    if (c_.sft.enabled) {
      std::vector<fs::path> in = {phase1};
      if (c_.sft.only_preferred_revisions) in.push_back(labels);
      table.add({"sft_data", in, {rd / "sft_data.jsonl"}, [&] {
                   return nlohmann::json{{"examples", write_sft_data(c_, rd)}};
                 }});
    }
    if (c_.dpo.enabled || c_.rl.enabled)  // the labelled pairs: DPO's data and the reward model's
      table.add({"dpo_data", {labels}, {rd / "dpo_data.jsonl"}, [&] {
                   return nlohmann::json{{"pairs", write_dpo_data(rd)}};
                 }});
  }

  // The model the next training stage starts from, as the table is built (before any stage
  // runs): the last training stage's output, or the round's model. A stage that starts from a
  // model this round remakes is made again after it. Training stages are results of the round:
  // the next round, the probe and the report read their models.
  static fs::path starting_model(const std::string& round_model,
                                 const std::vector<fs::path>& trained) {
    return trained.empty() ? fs::path(round_model) : trained.back();
  }

  // SFT, DPO or deepening from `current` (or `from`) on `data`: its model (merged with LoRA)
  // becomes the round's; an empty dataset (nothing to learn from) keeps the model.
  void add_training(StageTable& table, RoundDir& rd, const std::string& name, const fs::path& data,
                    const train::LoraOptions& lora, std::string& current,
                    std::vector<fs::path>& trained, std::optional<std::string> from = {}) {
    const fs::path out = stage_model(rd, name, lora);
    const fs::path start = from ? fs::path(*from) : starting_model(current, trained);
    trained.push_back(out);
    table.add({name,
               {data, start},
               {out},
               [this, &rd, &current, name, data, from] {
                 const std::string start = from ? *from : current;
                 if (fs::file_size(data) == 0) {
                   say(label(rd, name) + ": no examples; the model is kept");
                   return nlohmann::json{{"skipped", "no examples"}};
                 }
                 backends_.release_current();  // the trainer loads its own copy
                 CAI_CHECK(!start.empty(), "round {}: training needs a local base model",
                           rd.round());
                 if (name == "sft")
                   train_sft(c_, start, rd, opts_.progress, opts_.launch_training);
                 else if (name == "dpo")
                   train_dpo(c_, start, rd, opts_.progress, opts_.launch_training);
                 else
                   train_deepen(c_, start, rd, opts_.progress, opts_.launch_training);
                 return nlohmann::json{{"from", start}};  // the weights the stage started from
               },
               [&current, out] {
                 if (fs::exists(out)) current = out.string();
               },
               /*result=*/true,
               /*work=*/{rd / name}});
  }

  // The reward model on the round's pairs (Phase 2's, or the policy's own samples judged by
  // label.judge), then RL of the round's model against it; no pairs, no RL.
  void add_rl(StageTable& table, RoundDir& rd, const std::vector<pipeline::PromptRecord>& prompts,
              std::string& current, std::vector<fs::path>& trained) {
    if (c_.rl.reward == RlReward::judge) return add_judge_rl(table, rd, prompts, current, trained);
    if (c_.rl.rm.samples > 0) {
      table.add({"rm_labels", {}, {rd / "rm_labels.jsonl"}, [&] {
                   Backend& policy = backends_.policy(current);
                   return labels_note(rd, "rm_labels",
                                      run_rm_labels(c_, policy, backends_.label_judge(current),
                                                    constitution_, prompts, rd, opts_.progress));
                 }});
      table.add({"rm_data", {rd / "rm_labels.jsonl"}, {rd / "rm_data.jsonl"}, [&rd] {
                   return nlohmann::json{
                       {"pairs", write_pair_data(rd / "rm_labels.jsonl", rd / "rm_data.jsonl")}};
                 }});
    }
    const fs::path pairs = rm_data(c_, rd), rm = rd / "rm" / "final", rl = rd / "rl" / "final";
    const fs::path start = starting_model(current, trained);
    table.add({"rm",
               {pairs, start},
               {rm},
               [this, &rd, &current, pairs] {
                 if (fs::file_size(pairs) == 0) {
                   say(label(rd, "rm") + ": no labelled pairs for a reward model; no RL");
                   return nlohmann::json{{"skipped", "no pairs"}};
                 }
                 backends_.release_current();
                 CAI_CHECK(!current.empty(), "round {}: training needs a local base model",
                           rd.round());
                 train_rm(c_, current, rd, opts_.progress, opts_.launch_training);
                 return nlohmann::json();
               },
               {},
               /*result=*/false,
               /*work=*/{rd / "rm"}});
    add_rl_prompts(table, rd, prompts);
    trained.push_back(rl);
    table.add({"rl",
               {rd / "rl_prompts.jsonl", rm, start},
               {rl},
               [this, &rd, &current, rm] {
                 if (!fs::exists(rm)) {
                   say(label(rd, "rl") + ": no reward model; the model is kept");
                   return nlohmann::json{{"skipped", "no reward model"}};
                 }
                 const RmGate gate = rm_gate(c_, rd);
                 // The gate's figures go into the stage note either way, so a run that did
                 // RL shows how well its reward model ranked held-out pairs.
                 nlohmann::json note;
                 if (gate.measured)
                   note = {{"rm_accuracy", gate.accuracy},
                           {"rm_pairs", gate.pairs},
                           {"rm_ci95", {gate.ci95.lo, gate.ci95.hi}}};
                 if (!gate.pass) {
                   say(fmt::format("{}: the reward model is no better than chance ({}; "
                                   "rl.rm.min_accuracy {}): no RL, the model is kept",
                                   label(rd, "rl"), gate.describe(), c_.rl.rm.min_accuracy));
                   note["skipped"] = "reward model at chance";
                   return note;
                 }
                 if (gate.measured) say(label(rd, "rm") + ": " + gate.describe());
                 backends_.release_current();
                 train_rl(c_, current, rm.string(), rd, opts_.progress, opts_.launch_training);
                 return note;
               },
               [&current, rl] {
                 if (fs::exists(rl)) current = rl.string();
               },
               /*result=*/true,
               /*work=*/{rd / "rl"}});
  }

  // rl_prompts.jsonl: the prompts RL samples from, whichever its reward.
  static void add_rl_prompts(StageTable& table, RoundDir& rd,
                             const std::vector<pipeline::PromptRecord>& prompts) {
    table.add({"rl_prompts", {}, {rd / "rl_prompts.jsonl"}, [&rd, &prompts] {
                 return nlohmann::json{{"prompts", write_rl_prompts(prompts, rd)}};
               }});
  }

  // RL of the round's model against the constitution judge (rl.reward judge): no reward model.
  // The judge stays fixed while the policy trains: with rl.judge policy it is a copy of the
  // weights RL starts from, loaded beside the trainer's.
  void add_judge_rl(StageTable& table, RoundDir& rd,
                    const std::vector<pipeline::PromptRecord>& prompts, std::string& current,
                    std::vector<fs::path>& trained) {
    const fs::path rl = rd / "rl" / "final";
    const fs::path start = starting_model(current, trained);
    add_rl_prompts(table, rd, prompts);
    trained.push_back(rl);
    table.add({"rl",
               {rd / "rl_prompts.jsonl", start},
               {rl},
               [this, &rd, &current] {
                 backends_.release_current();
                 CAI_CHECK(!current.empty(), "round {}: training needs a local base model",
                           rd.round());
                 const BackendOptions b = rl_judge_backend(c_, current);
                 RlJudge judge;
                 if (!opts_.launch_training) judge = {&backends_.rl_judge(b), &constitution_};
                 const std::string who = b.http.given() ? b.http.model : b.model;
                 train_rl(c_, current, "", rd, opts_.progress, opts_.launch_training, judge);
                 backends_.release_rl_judge();
                 return nlohmann::json{{"reward", "judge"}, {"judge", who}};
               },
               [&current, rl] {
                 if (fs::exists(rl)) current = rl.string();
               },
               /*result=*/true,
               /*work=*/{rd / "rl"}});
  }

  // Deepening of the round's model so far: its data (recovery rows, with the round's SFT data),
  // then the constrained SFT whose model becomes the round's.
  void add_deepen(StageTable& table, RoundDir& rd, std::string& current,
                  std::vector<fs::path>& trained) {
    const fs::path data = rd / "deepen_data.jsonl";
    std::vector<fs::path> in;
    if (c_.deepen.from == RecoverySource::phase1) in.push_back(rd / "critique_revise.jsonl");
    if (c_.deepen.sft_data) in.push_back(rd / "sft_data.jsonl");
    table.add({"deepen_data", in, {data}, [&] {
                 return nlohmann::json{{"examples", write_deepen_data(c_, rd)}};
               }});
    add_training(table, rd, "deepen", data, c_.deepen.lora, current, trained);
  }

  // eval.json and quality.json (with quality.metric winrate, after the round's responses,
  // which are kept: round K+1 is compared with them, and a resumed loop does not regenerate
  // them).
  void add_evaluation(StageTable& table, RoundDir& rd, const std::string& current,
                      const std::vector<fs::path>& trained) {
    table.add({"eval",
               trained,
               {rd / "eval.json"},
               [&] {
                 write_json(
                     rd / "eval.json",
                     evaluate_round(c_, backends_.policy(current), opts_.progress).to_json());
                 return nlohmann::json();
               },
               {},
               true});
    if (!winrate()) {
      table.add({"quality",
                 trained,
                 {rd / "quality.json"},
                 [&] {
                   Backend& policy = backends_.policy(current);
                   const auto q = measure_quality(c_, policy, backends_.base(), rd.round());
                   write_json(rd / "quality.json", q.to_json());
                   return nlohmann::json();
                 },
                 {},
                 true});
      return;
    }
    const fs::path responses = rd / "quality_responses.jsonl";
    table.add({"quality_responses",
               trained,
               {responses},
               [&, responses] {
                 Backend& policy = backends_.policy(current);
                 const auto prompts = quality_prompts(c_);
                 write_quality_responses(responses, policy.describe(), prompts,
                                         sample_quality_responses(c_, policy, prompts));
                 return nlohmann::json();
               },
               {},
               true});
    // Round K-1's responses were made (or found complete) by its own table.
    table.add(
        {"quality",
         {responses},
         {rd / "quality.json"},
         [&, responses] {
           const fs::path previous =
               fs::path(c_.out) / fmt::format("round-{}", rd.round() - 1) / responses.filename();
           const auto q = measure_win_rate(c_, backends_.judge(), rd.round(), responses, previous);
           write_json(rd / "quality.json", q.to_json());
           return nlohmann::json();
         },
         {},
         true});
  }

  double round_quality(const RoundDir& rd) {
    const double q = read_run_file<QualityFile>(rd / "quality.json").quality;
    say(fmt::format("{}: quality ({}) {:.4f}", label(rd, "done"), opt::name_of(c_.quality.metric),
                    q));
    return q;
  }

  void write_round_json(const RoundDir& rd, const std::string& model, double q) {
    RoundFile r;
    r.round = rd.round();
    r.model = model.empty() ? backends_.base().describe() : model;
    r.quality = q;
    r.seconds = rd.seconds();
    r.done = true;
    r.notes = rd.notes();
    const fs::path p = rd / "round.json";
    const nlohmann::json j = r.to_json();
    // A rerun leaves a finished round untouched.
    if (fs::exists(p) && read_run_file<RoundFile>(p).to_json() == j) return;
    write_json(p, j);
  }

  SummaryFile summarise(const std::vector<double>& quality, const std::vector<std::string>& models,
                        std::size_t best, const std::string& stopped, const std::string& reason) {
    // Beside the quality signal, the world's oracle (eval.json's compliance, when there is a
    // world): whether the two rank the rounds alike.
    const std::vector<double> score =
        winrate() ? winrate_strengths(quality, first_counted_) : quality;
    auto eval_of = [&](std::size_t k) {
      return read_run_file<eval::EvalFile>(fs::path(c_.out) / fmt::format("round-{}", k) /
                                           "eval.json");
    };
    SummaryFile s;
    std::vector<double> oracle;
    for (std::size_t k = 0; k < quality.size(); ++k) {
      SummaryRound r;
      r.round = static_cast<std::int64_t>(k);
      r.quality = quality[k];
      r.model = models[k];
      if (winrate()) {
        r.win_rate = read_run_file<QualityFile>(fs::path(c_.out) / fmt::format("round-{}", k) /
                                                "quality.json")
                         .win_rate;
        r.strength = score[k];
      }
      if (const auto e = eval_of(k); e.compliance) {
        oracle.push_back(e.compliance->overall.rate());
        r.oracle = oracle.back();
      }
      s.rounds.push_back(std::move(r));
    }
    const eval::EvalFile before = eval_of(0), after = eval_of(best);
    s.name = c_.name;
    s.metric = opt::name_of(c_.quality.metric);
    s.best_round = static_cast<std::int64_t>(best);
    s.best_model = models[best];
    s.stopped = stopped;
    s.reason = reason;
    s.counted_from = winrate() ? static_cast<std::int64_t>(first_counted_) : 1;
    s.ranking = rank_rounds(score, oracle, best, static_cast<std::size_t>(s.counted_from) - 1);
    s.tax = tax_summary(before, after);
    s.before = summary_eval(before);
    s.after = summary_eval(after);
    return s;
  }

  const LoopOptions& opts_;
  LoopConfig c_;
  Backends backends_;
  // The first round whose win rate stops the loop or ranks it (winrate.h): 2 when the base
  // model judges round 1 against its own responses.
  const std::size_t first_counted_;
  Constitution constitution_;
  std::vector<pipeline::PromptRecord> train_prompts_;
  LoopResult result_;
};

}  // namespace

LoopResult run_loop(const LoopOptions& opts) {
  LoopConfig c = opts.config;
  c.resolve();
  c.validate();
  if (!opts.progress) Progress::set_enabled(false);
  // One intra-op thread count for the whole run, the one the local backends set: reductions
  // split over threads, so a stage trained with another count (a resumed process that has not
  // made a backend yet) would differ from an uninterrupted run in the last bits.
  set_torch_threads(opts.threads);
  Runner r(opts, std::move(c));
  return r.run();
}

void run_training_stage(const LoopConfig& config, const TrainingStage& st, bool progress,
                        int threads) {
  LoopConfig c = config;
  c.resolve();
  c.validate();
  if (!progress) Progress::set_enabled(false);
  const detail::RoundDir rd(c.out, st.round);
  detail::run_stage_trainer(c, st, rd, progress, threads);
}

}  // namespace cai::loop
