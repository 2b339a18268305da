#include "cai/pipeline/critique_revise.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "cai/constitution/transcript.h"
#include "cai/io/error.h"
#include "cai/io/progress.h"
#include "cai/pipeline/few_shot.h"
#include "cai/pipeline/phase1_file.h"

namespace cai::pipeline {

GenParams CritiqueReviseOptions::stage(double t) const {
  GenParams p;
  p.max_tokens = max_tokens;
  p.temperature = t < 0 ? temperature : t;
  p.top_p = top_p;
  return p;
}

bool critique_finds_nothing(const std::string& critique) {
  if (auto v = transcript::parse_critique_verdict(critique)) return *v;
  std::string low(critique);
  std::transform(low.begin(), low.end(), low.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const char* s : {"no critique is needed", "no critique needed", "no critique is necessary",
                        "no revision is needed", "no revisions are needed", "no changes are needed",
                        "follows the principle"})
    if (low.find(s) != std::string::npos) return true;
  return false;
}

namespace {

// What each prompt carries through the rounds.
struct State {
  std::string response;  // current
  CritiqueReviseRecord rec;
};

GenParams with_stop(GenParams p, PromptFormat f) {
  // Transcript turns never hold a blank line: the turn ends there.
  if (f == PromptFormat::transcript &&
      std::find(p.stop.begin(), p.stop.end(), "\n\n") == p.stop.end())
    p.stop.push_back("\n\n");
  return p;
}

// A transcript turn ends at the first blank line; a chat reply is the whole message.
std::string cut(const std::string& text, PromptFormat f) {
  if (f == PromptFormat::transcript) return transcript::first_turn(text);
  const auto b = text.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  const auto e = text.find_last_not_of(" \t\r\n");
  return text.substr(b, e - b + 1);
}

}  // namespace

std::vector<CritiqueReviseRecord> critique_revise(Backend& backend, const Constitution& c,
                                                  const std::vector<PromptRecord>& prompts,
                                                  std::size_t first_index,
                                                  const CritiqueReviseOptions& opts) {
  opts.validate();
  CAI_CHECK(!c.principles.empty(), "critique-revise: the constitution has no principles");
  const auto n = prompts.size();
  std::vector<State> st(n);
  std::vector<double> weights;
  for (const auto& p : c.principles) weights.push_back(p.weight);
  const FewShot shots(c, opts.format, opts.few_shot);

  // Initial responses: the prompt alone (no few-shot: the examples show revised answers).
  {
    std::vector<TextRequest> reqs(n);
    for (std::size_t i = 0; i < n; ++i) {
      reqs[i] = shots.response_request(prompts[i].prompt);
      reqs[i].params = with_stop(opts.response(), opts.format);
      reqs[i].params.seed = opts.seed;
      reqs[i].stream = stream_id(first_index + i, 0, Stage::response);
    }
    auto res = backend.generate(reqs);
    for (std::size_t i = 0; i < n; ++i) {
      st[i].rec.id = prompts[i].id;
      st[i].rec.prompt = prompts[i].prompt;
      st[i].rec.init_response = cut(res[i].text, opts.format);
      st[i].response = st[i].rec.init_response;
    }
  }
  for (std::int64_t round = 0; round < opts.rounds; ++round) {
    const auto r = static_cast<std::uint64_t>(round);
    std::vector<const Principle*> pr(n);
    for (std::size_t i = 0; i < n; ++i) {
      std::size_t k = static_cast<std::size_t>(round) % c.principles.size();
      if (opts.principles == PrincipleChoice::random)
        k = pick_weighted(weights,
                          uniform_draw(opts.seed, stream_id(first_index + i, r, Stage::principle)));
      pr[i] = &c.principles[k];
    }
    // All critiques of the round in one call.
    std::vector<TextRequest> reqs(n);
    for (std::size_t i = 0; i < n; ++i) {
      reqs[i] = shots.critique_request(*pr[i], prompts[i].prompt, st[i].response);
      reqs[i].params = with_stop(opts.critique(), opts.format);
      reqs[i].params.seed = opts.seed;
      reqs[i].stream = stream_id(first_index + i, r, Stage::critique);
    }
    auto crit = backend.generate(reqs);
    std::vector<RoundRecord> rounds(n);
    std::vector<std::size_t> revise;
    std::vector<std::size_t> unsure;  // "violates" verdicts to score
    for (std::size_t i = 0; i < n; ++i) {
      rounds[i].principle = pr[i]->name;
      rounds[i].critique = cut(crit[i].text, opts.format);
      rounds[i].skipped = opts.skip_when_ok && critique_finds_nothing(rounds[i].critique);
      const auto verdict = transcript::parse_critique_verdict(rounds[i].critique);
      if (opts.skip_when_ok && opts.min_violation_p > 0.0 && verdict && !*verdict)
        unsure.push_back(i);
    }
    if (!unsure.empty()) {
      std::vector<TextRequest> score_reqs;
      for (auto i : unsure) score_reqs.push_back(reqs[i]);
      const auto scores = backend.score_options(
          score_reqs, transcript::critique_verdict_options());  // follows, violates
      for (std::size_t k = 0; k < unsure.size(); ++k) {
        auto& rr = rounds[unsure[k]];
        rr.p_violates = std::exp(scores[k].normalised[1]);
        rr.skipped = rr.p_violates < opts.min_violation_p;
      }
    }
    for (std::size_t i = 0; i < n; ++i)
      if (!rounds[i].skipped) revise.push_back(i);
    // Then all revisions.
    std::vector<TextRequest> rev_reqs(revise.size());
    for (std::size_t k = 0; k < revise.size(); ++k) {
      const auto i = revise[k];
      rev_reqs[k] =
          shots.revision_request(*pr[i], prompts[i].prompt, st[i].response, rounds[i].critique);
      rev_reqs[k].params = with_stop(opts.revision(), opts.format);
      rev_reqs[k].params.seed = opts.seed;
      rev_reqs[k].stream = stream_id(first_index + i, r, Stage::revision);
    }
    std::vector<TextResult> rev;
    if (!rev_reqs.empty()) rev = backend.generate(rev_reqs);
    for (std::size_t k = 0; k < revise.size(); ++k) {
      const auto i = revise[k];
      rounds[i].revision = cut(rev[k].text, opts.format);
      // An empty revision leaves the response as it was.
      if (!rounds[i].revision.empty()) st[i].response = rounds[i].revision;
    }
    for (std::size_t i = 0; i < n; ++i) st[i].rec.rounds.push_back(std::move(rounds[i]));
  }
  std::vector<CritiqueReviseRecord> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    st[i].rec.final_response = st[i].response;
    out[i] = std::move(st[i].rec);
  }
  return out;
}

std::size_t run_critique_revise(Backend& backend, const Constitution& c,
                                const std::vector<PromptRecord>& prompts,
                                const std::filesystem::path& output,
                                const CritiqueReviseOptions& opts, bool progress) {
  opts.validate();
  const std::string model = backend.describe();
  const std::string hash = c.hash();
  nlohmann::json settings = opts.settings();
  settings["model"] = model;
  settings["constitution_hash"] = hash;
  settings["prompts"] = prompts.size();
  ResumableOutput out(output, settings);
  CAI_CHECK(out.done() <= prompts.size(), "{}: holds {} records but there are only {} prompts",
            output.string(), out.done(), prompts.size());
  std::unique_ptr<Progress> bar;
  if (progress) {
    bar = std::make_unique<Progress>("critique-revise", prompts.size(), "prompts");
    bar->set(out.done());
  }
  // A batch's numbers depend (in the last bits) on which requests share it, so a resumed run
  // redoes the whole chunk the interruption fell in, as an uninterrupted run did, and appends
  // only its records not written yet: the file ends byte for byte the same.
  const std::size_t done = out.done(), n = static_cast<std::size_t>(opts.chunk);
  std::size_t written = 0;
  for (std::size_t b = done - done % n; done < prompts.size() && b < prompts.size(); b += n) {
    const auto e = std::min(prompts.size(), b + n);
    std::vector<PromptRecord> chunk(prompts.begin() + static_cast<std::ptrdiff_t>(b),
                                    prompts.begin() + static_cast<std::ptrdiff_t>(e));
    auto recs = critique_revise(backend, c, chunk, b, opts);
    for (std::size_t i = b < done ? done - b : 0; i < recs.size(); ++i) {
      out.write(to_json(recs[i], model, hash, opts));
      ++written;
    }
    if (bar) bar->add(e - std::max(b, done));
  }
  if (bar) bar->finish();
  return written;
}

}  // namespace cai::pipeline
