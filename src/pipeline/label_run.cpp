// `cai label` as a resumable run: items (Phase 1 pairs, or prompts whose k sampled responses
// make the pairs) are processed in chunks; each kept pair is one line tagged with its item
// index and pair number, so a rerun continues after the last line written.
#include <algorithm>
#include <optional>

#include "cai/constitution/transcript.h"
#include "cai/io/error.h"
#include "cai/io/progress.h"
#include "cai/pipeline/label.h"
#include "cai/pipeline/label_file.h"

namespace cai::pipeline {
namespace {

// One prompt's k sampled responses (as the judge sees them) and their pairs (all a < b).
struct Sampled {
  std::vector<std::string> texts;
  std::vector<PairInput> pairs;
};

// k responses per prompt from the policy, then the pairs to judge.
std::vector<Sampled> sample_pairs(Backend& policy, const std::vector<PromptRecord>& prompts,
                                  std::size_t first, const LabelOptions& o) {
  const auto k = static_cast<std::size_t>(o.samples);
  std::vector<TextRequest> reqs;
  for (std::size_t i = 0; i < prompts.size(); ++i)
    for (std::size_t s = 0; s < k; ++s) {
      TextRequest r;
      if (o.format == PromptFormat::transcript) {
        r.prompt = transcript::conversation_prompt(prompts[i].prompt);
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
  std::vector<Sampled> out(prompts.size());
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    auto& resp = out[i].texts;
    resp.resize(k);
    for (std::size_t s = 0; s < k; ++s) {
      const auto& t = res[i * k + s].text;
      resp[s] = o.format == PromptFormat::transcript ? transcript::first_turn(t) : t;
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
        out[i].pairs.push_back(std::move(p));
      }
  }
  return out;
}

// Best vs worst of k responses: each response's score is its mean probability of winning
// its pairs (a pair of equal texts counts as the tie it is); the highest scored is kept
// against the lowest scored response whose text differs from it (judged already). nullopt
// when all k texts are equal: there is no preference to learn.
std::optional<PairLabel> best_worst(const std::vector<PairLabel>& labels,
                                    const std::vector<std::string>& texts) {
  const std::size_t k = texts.size();
  std::vector<double> score(k, 0.0);
  std::size_t n = 0;
  for (std::size_t a = 0; a < k; ++a)
    for (std::size_t b = a + 1; b < k; ++b, ++n) {
      score[a] += labels[n].p_a;
      score[b] += 1.0 - labels[n].p_a;
    }
  const auto best =
      static_cast<std::size_t>(std::max_element(score.begin(), score.end()) - score.begin());
  std::optional<std::size_t> worst;
  for (std::size_t j = 0; j < k; ++j)
    if (j != best && texts[j] != texts[best] && (!worst || score[j] < score[*worst])) worst = j;
  if (!worst) return std::nullopt;
  const auto lo = std::min(best, *worst), hi = std::max(best, *worst);
  n = 0;
  for (std::size_t a = 0; a < k; ++a)
    for (std::size_t b = a + 1; b < k; ++b, ++n)
      if (a == lo && b == hi) return labels[n];
  return labels.front();
}

}  // namespace

LabelRunCounts run_label(Backend& judge, Backend* policy, const Constitution& c,
                         const std::vector<PairInput>& pairs,
                         const std::vector<PromptRecord>& prompts,
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
  LabelRunCounts counts;
  for (std::size_t b = next - next % chunk; next < items && b < items; b += chunk) {
    const auto e = std::min(items, b + chunk);
    std::vector<Sampled> groups;
    if (sampled) {
      std::vector<PromptRecord> chunk(prompts.begin() + static_cast<std::ptrdiff_t>(b),
                                      prompts.begin() + static_cast<std::ptrdiff_t>(e));
      groups = sample_pairs(*policy, chunk, b, opts);
    } else {
      for (std::size_t i = b; i < e; ++i) groups.push_back({{}, {pairs[i]}});
    }
    // Two equal sampled texts are no preference, and a judge shown the same text twice can
    // only answer with its position bias: such a pair is a tie (p_a = 0.5) without a request.
    std::vector<PairInput> flat;
    std::vector<std::vector<bool>> equal(groups.size());
    for (std::size_t g = 0; g < groups.size(); ++g)
      for (const auto& p : groups[g].pairs) {
        equal[g].push_back(sampled && p.a == p.b);
        if (!equal[g].back()) flat.push_back(p);
      }
    std::vector<PairLabel> judged;
    if (!flat.empty()) judged = judge_pairs(judge, c, flat, opts);
    std::size_t at = 0;
    for (std::size_t g = 0; g < groups.size(); ++g) {
      const std::size_t index = b + g;
      std::vector<PairLabel> all;   // every pair of the item, in order
      std::vector<PairLabel> mine;  // the pairs to write
      std::size_t equal_pairs = 0;
      for (std::size_t k = 0; k < groups[g].pairs.size(); ++k) {
        if (equal[g][k]) {
          PairLabel tie;
          tie.pair = groups[g].pairs[k];
          all.push_back(std::move(tie));
          ++equal_pairs;
        } else {
          all.push_back(judged[at++]);
          mine.push_back(all.back());
        }
      }
      if (sampled && opts.selection == PairSelection::best_worst) {
        mine.clear();
        if (auto bw = best_worst(all, groups[g].texts)) mine.push_back(std::move(*bw));
      }
      // Items finished before an interruption were counted by the run that wrote them.
      if (index > next || (index == next && skip_pairs == 0)) counts.equal_skipped += equal_pairs;
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
        ++counts.written;
      }
    }
    if (bar) bar->add(e - std::max(b, next));
  }
  if (bar) bar->finish();
  return counts;
}

}  // namespace cai::pipeline
