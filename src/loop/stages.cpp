// The loop's data and training stages: Phase 1, Phase 2, the SFT and DPO datasets, training.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>

#include "cai/backend/factory.h"
#include "cai/eval/probe.h"
#include "cai/eval/probe_data.h"
#include "cai/generate/sampling.h"
#include "cai/io/error.h"
#include "cai/io/file.h"
#include "cai/io/json.h"
#include "cai/io/jsonl.h"
#include "cai/io/log.h"
#include "cai/model/loader.h"
#include "cai/pipeline/critique_revise.h"
#include "cai/pipeline/label.h"
#include "cai/pipeline/label_file.h"
#include "cai/pipeline/phase1_file.h"
#include "cai/pipeline/recovery.h"
#include "cai/train/lora.h"
#include "cai/train/rl.h"
#include "cai/train/run.h"
#include "internal.h"

namespace cai::loop::detail {

// ---- backends, round directories, seeds ------------------------------------------------------

Backend& Backends::base() {
  if (!base_) {
    BackendOptions o;
    o.local.threads = threads_;
    if (c_.api.given())
      o.http = c_.api;
    else
      o.model = c_.base_model;
    base_ = make_(o);
  }
  return *base_;
}

Backend& Backends::fixed(const std::string& path) {
  auto& b = fixed_[path];
  if (!b) {
    BackendOptions o;
    o.local.threads = threads_;
    o.model = path;
    b = make_(o);
  }
  return *b;
}

Backend& Backends::judge() { return c_.quality.judge.empty() ? base() : fixed(c_.quality.judge); }

Backend& Backends::label_judge(const std::string& model) {
  const std::string& j = c_.label.judge;
  if (j == "policy") return policy(model);
  if (j == "base") return base();
  return fixed(j);
}

Backend& Backends::policy(const std::string& model) {
  if (model.empty() || model == c_.base_model) return base();
  if (!current_ || current_path_ != model) {
    current_.reset();
    BackendOptions o;
    o.local.threads = threads_;
    o.model = model;
    current_ = make_(o);
    current_path_ = model;
  }
  return *current_;
}

Backend& Backends::rl_judge(const BackendOptions& o) {
  if (o.http.given() || (o.model == c_.base_model && !c_.api.given())) return base();
  if (auto it = fixed_.find(o.model); it != fixed_.end()) return *it->second;
  BackendOptions b = o;
  b.local.threads = threads_;
  rl_judge_ = make_(b);
  return *rl_judge_;
}

void Backends::release_rl_judge() { rl_judge_.reset(); }

void Backends::release_current() {
  current_.reset();
  current_path_.clear();
}

RoundDir::RoundDir(const fs::path& run, std::int64_t round)
    : dir_(run / fmt::format("round-{}", round)), round_(round) {
  fs::create_directories(dir_);
  const fs::path p = dir_ / "stages.json";
  log_ = {{"done", nlohmann::json::object()}};
  if (fs::exists(p)) {
    log_ = read_json(p);
    const auto& done = json_field::any(log_, "done", p.string());
    json_field::object(done, p.string() + ": done");
    for (const auto& [stage, t] : done.items())
      json_field::number(done, stage.c_str(), p.string() + ": done");
  }
}

bool RoundDir::done(const std::string& stage) const { return log_["done"].contains(stage); }

nlohmann::json RoundDir::note(const std::string& stage) const {
  return log_.contains("notes") && log_["notes"].contains(stage) ? log_["notes"][stage]
                                                                 : nlohmann::json::object();
}

std::vector<std::pair<std::string, double>> RoundDir::seconds() const {
  std::vector<std::pair<std::string, double>> out;
  for (const auto& [stage, t] : log_["done"].items()) out.emplace_back(stage, t.get<double>());
  return out;
}

nlohmann::json RoundDir::notes() const { return log_.contains("notes") ? log_["notes"] : nullptr; }

void RoundDir::unmark(const std::vector<std::string>& stages) {
  if (stages.empty()) return;
  for (const auto& s : stages) {
    log_["done"].erase(s);
    if (log_.contains("notes")) log_["notes"].erase(s);
  }
  write_json(dir_ / "stages.json", log_);
}

void RoundDir::mark(const std::string& stage, double seconds, const nlohmann::json& note) {
  log_["done"][stage] = seconds;
  if (!note.is_null())
    log_["notes"][stage] = note;
  else if (log_.contains("notes"))
    log_["notes"].erase(stage);  // a note of an earlier run of the stage no longer holds
  write_json(dir_ / "stages.json", log_);
}

std::uint64_t round_seed(const LoopConfig& c, std::int64_t round) {
  return splitmix64(c.seed ^ splitmix64(static_cast<std::uint64_t>(round)));
}

std::vector<pipeline::PromptRecord> round_prompts(const std::vector<pipeline::PromptRecord>& all,
                                                  const LoopConfig& c, std::int64_t round) {
  const auto n = static_cast<std::size_t>(c.train_prompts_per_round);
  if (n == 0 || n >= all.size()) return all;
  // A seeded Fisher-Yates shuffle of the indices; the first n, back in file order.
  std::vector<std::size_t> idx(all.size());
  for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  SamplerRng rng(round_seed(c, round), /*stream=*/0x70726f6d707473);  // "prompts"
  for (std::size_t i = idx.size() - 1; i > 0; --i)
    std::swap(idx[i], idx[static_cast<std::size_t>(rng.uniform() * static_cast<double>(i + 1))]);
  idx.resize(n);
  std::sort(idx.begin(), idx.end());
  std::vector<pipeline::PromptRecord> out;
  for (auto i : idx) out.push_back(all[i]);
  return out;
}

// ---- Phase 1 and Phase 2 ----------------------------------------------------------------------

void run_phase1(const LoopConfig& c, Backend& policy, const Constitution& constitution,
                const std::vector<pipeline::PromptRecord>& prompts, const RoundDir& rd,
                bool progress) {
  pipeline::CritiqueReviseOptions o = c.critique_revise;
  o.seed = round_seed(c, rd.round());
  pipeline::run_critique_revise(policy, constitution, prompts, rd / "critique_revise.jsonl", o,
                                progress);
}

namespace {
// Phase 2's judging settings, shared by the reward model's labels: in Phase 1's format.
pipeline::LabelOptions judge_options(const LoopConfig& c) {
  pipeline::LabelOptions o = c.label;
  o.format = c.critique_revise.format;
  return o;
}
}  // namespace

pipeline::LabelRunCounts run_phase2(const LoopConfig& c, Backend& policy, Backend& judge,
                                    const Constitution& constitution,
                                    const std::vector<pipeline::PromptRecord>& prompts,
                                    const RoundDir& rd, bool progress) {
  pipeline::LabelOptions o = judge_options(c);
  o.sample = pipeline::gen_params(c.critique_revise.max_tokens, c.label.temperature);
  o.seed = round_seed(c, rd.round());
  std::vector<pipeline::PairInput> pairs;
  std::vector<pipeline::PromptRecord> sample_prompts;
  if (o.samples == 0)
    pairs = pipeline::read_phase1_pairs(rd / "critique_revise.jsonl");
  else
    sample_prompts = prompts;
  return pipeline::run_label(judge, &policy, constitution, pairs, sample_prompts,
                             rd / "labels.jsonl", o, progress);
}

pipeline::LabelRunCounts run_rm_labels(const LoopConfig& c, Backend& policy, Backend& judge,
                                       const Constitution& constitution,
                                       const std::vector<pipeline::PromptRecord>& prompts,
                                       const RoundDir& rd, bool progress) {
  pipeline::LabelOptions o = judge_options(c);
  o.samples = c.rl.rm.samples;
  o.selection = c.rl.rm.pairs;
  o.sample = pipeline::gen_params(c.critique_revise.max_tokens, c.rl.rm.temperature);
  o.seed = splitmix64(round_seed(c, rd.round()) ^ 0x726d);  // "rm": other draws than Phase 2's
  return pipeline::run_label(judge, &policy, constitution, {}, prompts, rd / "rm_labels.jsonl", o,
                             progress);
}

// ---- datasets ---------------------------------------------------------------------------------

namespace {

// Corpus documents: the world's pretraining text split on its "<|endoftext|>" lines.
std::vector<std::string> read_documents(const fs::path& corpus) {
  const std::string text = read_file(corpus);
  const std::string sep = "\n<|endoftext|>\n";
  std::vector<std::string> docs;
  for (std::size_t at = 0; at < text.size();) {
    auto end = text.find(sep, at);
    if (end == std::string::npos) end = text.size();
    std::string d = text.substr(at, end - at);
    if (d.rfind("<|endoftext|>\n", 0) == 0) d = d.substr(14);  // a file that starts with one
    while (!d.empty() && (d.back() == '\n' || d.back() == ' ')) d.pop_back();
    if (!d.empty() && d != "<|endoftext|>") docs.push_back(std::move(d));
    at = end + sep.size();
  }
  return docs;
}

std::string dump_line(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

// Phase 2's verdict on each Phase 1 pair, by prompt: the text the judge preferred.
std::map<std::string, std::string> preferred_responses(const fs::path& labels) {
  std::map<std::string, std::string> out;
  if (fs::exists(labels))
    pipeline::for_each_label_line(labels,
                                  [&](const pipeline::LabelLine& l) { out[l.prompt] = l.chosen; });
  return out;
}

// `count` recovery rows as JSONL, from the world or from the round's Phase 1 records; `stage`
// names who wanted them in a warning.
std::string recovery_rows(const LoopConfig& c, const RoundDir& rd, std::int64_t count,
                          RecoverySource from, const char* stage) {
  if (from == RecoverySource::world) {
    eval::RecoveryOptions ro;
    ro.count = count;
    ro.seed = round_seed(c, rd.round());
    return eval::recovery_jsonl(c.world, ro);
  }
  const auto pairs = pipeline::read_phase1_pairs(rd / "critique_revise.jsonl");
  if (pipeline::revised_records(pairs).empty()) {
    // A round whose critiques found nothing to revise has no violating start to recover from.
    log_warning("round {}: no Phase 1 record was revised, so {} gets no recovery rows", rd.round(),
                stage);
    return "";
  }
  pipeline::Phase1RecoveryOptions ro;
  ro.count = count;
  ro.seed = round_seed(c, rd.round());
  return pipeline::phase1_recovery_jsonl(pairs, ro);
}

std::size_t count_lines(const std::string& jsonl) {
  return static_cast<std::size_t>(std::count(jsonl.begin(), jsonl.end(), '\n'));
}
}  // namespace

std::size_t write_sft_data(const LoopConfig& c, const RoundDir& rd) {
  std::string out;
  std::size_t n = 0;
  std::map<std::string, std::string> preferred;
  if (c.sft.only_preferred_revisions) preferred = preferred_responses(rd / "labels.jsonl");
  pipeline::for_each_phase1_line(rd / "critique_revise.jsonl", [&](const pipeline::Phase1Line& l) {
    if (l.final_response.empty()) return;  // nothing to imitate
    if (c.sft.only_preferred_revisions) {
      // A pair the judge did not label (dropped below min_confidence, or no revision) stays.
      const auto it = preferred.find(l.prompt);
      if (it != preferred.end() && it->second != l.final_response && it->second == l.init_response)
        return;
    }
    out += dump_line({{"messages", l.messages}});
    ++n;
  });
  if (c.sft.recovery_examples > 0) {
    // Recovery rows (after Phase 1's, before the corpus share is counted): seeded per round.
    const std::string rows =
        recovery_rows(c, rd, c.sft.recovery_examples, c.sft.recovery_from, "SFT");
    out += rows;
    n += count_lines(rows);
  }
  const auto docs_wanted =
      static_cast<std::size_t>(std::llround(c.sft.corpus_mix * static_cast<double>(n)));
  if (docs_wanted > 0) {
    const auto docs = read_documents(c.sft.corpus);
    CAI_CHECK(!docs.empty(), "{}: no documents (expected text separated by <|endoftext|> lines)",
              c.sft.corpus);
    // Drawn without replacement while the corpus lasts (a seeded shuffle), then again.
    SamplerRng rng(round_seed(c, rd.round()), /*stream=*/0x636f72707573);  // "corpus"
    std::vector<std::size_t> order;
    for (std::size_t k = 0; k < docs_wanted; ++k) {
      if (order.empty()) {
        order.resize(docs.size());
        for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
        for (std::size_t i = order.size() - 1; i > 0; --i)
          std::swap(order[i],
                    order[static_cast<std::size_t>(rng.uniform() * static_cast<double>(i + 1))]);
        std::reverse(order.begin(), order.end());
      }
      out += dump_line({{"text", docs[order.back()]}});
      order.pop_back();
      ++n;
    }
  }
  write_file_atomic(rd / "sft_data.jsonl", out);
  return n;
}

std::size_t write_deepen_data(const LoopConfig& c, const RoundDir& rd) {
  std::string out = recovery_rows(c, rd, c.deepen.examples, c.deepen.from, "deepen");
  if (c.deepen.sft_data) out += read_file(rd / "sft_data.jsonl");
  write_file_atomic(rd / "deepen_data.jsonl", out);
  return count_lines(out);
}

std::size_t write_dpo_data(const RoundDir& rd) {
  return write_pair_data(rd / "labels.jsonl", rd / "dpo_data.jsonl");
}

std::size_t write_pair_data(const fs::path& labels, const fs::path& to) {
  std::string out;
  std::size_t n = 0;
  if (fs::exists(labels))
    pipeline::for_each_label_line(labels, [&](const pipeline::LabelLine& l) {
      if (l.chosen.empty() || l.rejected.empty() || l.chosen == l.rejected)
        return;  // no preference to learn
      out += dump_line(l.preference());
      ++n;
    });
  write_file_atomic(to, out);
  return n;
}

fs::path rm_data(const LoopConfig& c, const RoundDir& rd) {
  return rd / (c.rl.rm.samples > 0 ? "rm_data.jsonl" : "dpo_data.jsonl");
}

std::size_t write_rl_prompts(const std::vector<pipeline::PromptRecord>& prompts,
                             const RoundDir& rd) {
  std::string out;
  // As messages, so RL renders them with the template the SFT / DPO / RM data was rendered with
  // (a bare string would be sampled from as raw text, outside the conversation).
  for (const auto& p : prompts)
    out +=
        dump_line({{"prompt", nlohmann::json::array({{{"role", "user"}, {"content", p.prompt}}})}});
  write_file_atomic(rd / "rl_prompts.jsonl", out);
  return prompts.size();
}

void run_probe(const LoopConfig& c, const std::string& aligned, const fs::path& dir,
               bool progress) {
  eval::ProbeOptions o = c.probe.probe;
  o.base_model = c.base_model;
  o.aligned_model = aligned;
  o.world = c.world;
  o.out_dir = dir;
  // Sampled as the round evaluation samples, so k = 0 reproduces eval.json's compliance.
  o.split = c.eval.world.split;
  o.sampling.temperature = c.eval.world.temperature;
  o.sampling.top_p = c.eval.world.top_p;
  o.sampling.max_tokens = c.eval.world.max_tokens;
  o.sampling.seed = c.seed;
  o.seed = c.seed;
  o.progress = progress;
  eval::run_probe(o);
}

}  // namespace cai::loop::detail
