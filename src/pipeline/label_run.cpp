// `cai label` as a resumable run: items (Phase 1 pairs, or prompts whose k sampled responses
// make the pairs) are processed in chunks; each kept pair is one line tagged with its item
// index and pair number, so a rerun continues after the last line written.
#include <algorithm>

#include "cai/io/error.h"
#include "cai/io/progress.h"
#include "cai/pipeline/label.h"
#include "cai/world/transcript.h"

namespace cai::pipeline {
namespace {

// k responses per prompt from the policy, then the pairs to judge (all i < j).
std::vector<std::vector<PairInput>> sample_pairs(Backend& policy,
                                                 const std::vector<PromptRecord>& prompts,
                                                 std::size_t first, const LabelOptions& o) {
  const auto k = static_cast<std::size_t>(o.samples);
  std::vector<TextRequest> reqs;
  for (std::size_t i = 0; i < prompts.size(); ++i)
    for (std::size_t s = 0; s < k; ++s) {
      TextRequest r;
      if (o.format == PromptFormat::transcript) {
        r.prompt = world::conversation_prompt(prompts[i].prompt);
      } else {
        r.chat = true;
        r.messages = {{"user", prompts[i].prompt}};
      }
      r.params = o.sample;
      if (o.format == PromptFormat::transcript &&
          std::find(r.params.stop.begin(), r.params.stop.end(), "\n\n") == r.params.stop.end())
        r.params.stop.push_back("\n\n");
      r.params.seed = o.seed;
      r.stream = stream_id(first + i, s, Stage::sample);
      reqs.push_back(std::move(r));
    }
  auto res = policy.generate(reqs);
  std::vector<std::vector<PairInput>> out(prompts.size());
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    std::vector<std::string> resp(k);
    for (std::size_t s = 0; s < k; ++s) {
      const auto& t = res[i * k + s].text;
      resp[s] = o.format == PromptFormat::transcript ? world::first_turn(t) : t;
    }
    for (std::size_t a = 0; a < k; ++a)
      for (std::size_t b = a + 1; b < k; ++b) {
        PairInput p;
        p.key = stream_id(first + i, a * k + b, Stage::sample);
        p.id = prompts[i].id;
        p.prompt = prompts[i].prompt;
        p.a = resp[a];
        p.b = resp[b];
        p.where = prompts[i].where;
        out[i].push_back(std::move(p));
      }
  }
  return out;
}

// Best vs worst of k responses: each response's score is its mean probability of winning
// its pairs; the pair of the highest and the lowest scored is kept (judged already).
PairLabel best_worst(const std::vector<PairLabel>& labels, std::size_t k) {
  std::vector<double> score(k, 0.0);
  std::size_t n = 0;
  for (std::size_t a = 0; a < k; ++a)
    for (std::size_t b = a + 1; b < k; ++b, ++n) {
      score[a] += labels[n].p_a;
      score[b] += 1.0 - labels[n].p_a;
    }
  const auto best =
      static_cast<std::size_t>(std::max_element(score.begin(), score.end()) - score.begin());
  auto worst =
      static_cast<std::size_t>(std::min_element(score.begin(), score.end()) - score.begin());
  if (worst == best) worst = best == 0 ? 1 : 0;
  const auto lo = std::min(best, worst), hi = std::max(best, worst);
  n = 0;
  for (std::size_t a = 0; a < k; ++a)
    for (std::size_t b = a + 1; b < k; ++b, ++n)
      if (a == lo && b == hi) return labels[n];
  return labels.front();
}

}  // namespace

std::size_t run_label(Backend& judge, Backend* policy, const Constitution& c,
                      const std::vector<PairInput>& pairs, const std::vector<PromptRecord>& prompts,
                      const std::filesystem::path& output, const LabelOptions& opts,
                      bool progress) {
  opts.validate();
  const bool sampled = opts.samples > 0;
  CAI_CHECK(!sampled || policy, "label: sampling responses needs a policy backend");
  const std::size_t items = sampled ? prompts.size() : pairs.size();
  const std::string judge_name = judge.describe();
  nlohmann::json settings = opts.settings();
  settings["judge"] = judge_name;
  if (sampled) settings["policy"] = policy->describe();
  settings["constitution_hash"] = c.hash();
  settings["items"] = items;
  ResumableOutput out(output, settings);
  // Resume after the last line: its item is finished once its last pair was written.
  std::size_t next = 0, skip_pairs = 0;
  if (!out.last().is_null()) {
    const auto& l = out.last();
    CAI_CHECK(l.contains("index") && l.contains("pair") && l.contains("pairs"),
              "{}: the last line has no index / pair / pairs fields", output.string());
    next = l["index"].get<std::size_t>();
    skip_pairs = l["pair"].get<std::size_t>() + 1;
    if (skip_pairs >= l["pairs"].get<std::size_t>()) ++next, skip_pairs = 0;
  }
  std::unique_ptr<Progress> bar;
  if (progress) {
    bar = std::make_unique<Progress>("label", items, sampled ? "prompts" : "pairs");
    bar->set(next);
  }
  // The judge's numbers depend (in the last bits) on which requests share its batches, so a
  // resumed run judges the whole chunk the interruption fell in, as an uninterrupted run did,
  // and writes only its lines not written yet: the file ends byte for byte the same.
  const auto chunk = static_cast<std::size_t>(opts.chunk);
  std::size_t written = 0;
  for (std::size_t b = next - next % chunk; next < items && b < items; b += chunk) {
    const auto e = std::min(items, b + chunk);
    std::vector<std::vector<PairInput>> groups;
    if (sampled) {
      std::vector<PromptRecord> chunk(prompts.begin() + static_cast<std::ptrdiff_t>(b),
                                      prompts.begin() + static_cast<std::ptrdiff_t>(e));
      groups = sample_pairs(*policy, chunk, b, opts);
    } else {
      for (std::size_t i = b; i < e; ++i) groups.push_back({pairs[i]});
    }
    std::vector<PairInput> flat;
    for (const auto& g : groups) flat.insert(flat.end(), g.begin(), g.end());
    const auto labels = judge_pairs(judge, c, flat, opts);
    std::size_t at = 0;
    for (std::size_t g = 0; g < groups.size(); ++g) {
      std::vector<PairLabel> mine(
          labels.begin() + static_cast<std::ptrdiff_t>(at),
          labels.begin() + static_cast<std::ptrdiff_t>(at + groups[g].size()));
      at += groups[g].size();
      if (sampled && opts.selection == PairSelection::best_worst)
        mine = {best_worst(mine, static_cast<std::size_t>(opts.samples))};
      const std::size_t index = b + g;
      for (std::size_t k = 0; k < mine.size(); ++k) {
        if (index < next || (index == next && k < skip_pairs))
          continue;  // written before the interruption
        if (std::abs(mine[k].p_a - 0.5) < opts.min_confidence) continue;
        nlohmann::json j = to_json(mine[k], judge_name, opts);
        j["index"] = index;
        j["pair"] = k;
        j["pairs"] = mine.size();
        j["source"] = sampled ? "samples" : "phase1";
        out.write(j);
        ++written;
      }
    }
    if (bar) bar->add(e - std::max(b, next));
  }
  if (bar) bar->finish();
  return written;
}

}  // namespace cai::pipeline
