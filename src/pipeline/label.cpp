#include "cai/pipeline/label.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "cai/constitution/transcript.h"
#include "cai/io/error.h"

namespace cai::pipeline {

PairSelection parse_pair_selection(const std::string& s) {
  if (s == "all") return PairSelection::all_pairs;
  if (s == "best-worst") return PairSelection::best_worst;
  throw_error("pairs: expected \"all\" or \"best-worst\", got \"{}\"", s);
}

void LabelOptions::validate() const {
  CAI_CHECK(ensemble >= -1, "label: ensemble must be -1 (all), 0 (one sampled) or n > 0, got {}",
            ensemble);
  CAI_CHECK(clamp_low >= 0.0 && clamp_low <= 0.5 && clamp_high >= 0.5 && clamp_high <= 1.0,
            "label: clamp must satisfy 0 <= low <= 0.5 <= high <= 1, got [{}, {}]", clamp_low,
            clamp_high);
  CAI_CHECK(min_confidence >= 0.0 && min_confidence <= 0.5,
            "label: min_confidence must be in [0, 0.5], got {}", min_confidence);
  CAI_CHECK(samples == 0 || samples >= 2,
            "label: samples must be 0 (Phase 1 pairs) or >= 2, got {}", samples);
  CAI_CHECK(chunk >= 1, "label: chunk must be >= 1, got {}", chunk);
  try {
    cot.validate();
    sample.validate();
  } catch (const Error& e) {
    throw_error("label: sampling: {}", e.what());
  }
}

nlohmann::json LabelOptions::settings() const {
  nlohmann::json j = {{"format", to_string(format)},
                      {"ensemble", ensemble},
                      {"chain_of_thought", chain_of_thought},
                      {"min_confidence", min_confidence},
                      {"samples", samples},
                      {"seed", seed}};
  if (chain_of_thought) {
    j["cot"] = to_json(cot);
    j["clamp"] = {clamp_low, clamp_high};
  }
  if (samples > 0) {
    j["selection"] = selection == PairSelection::all_pairs ? "all" : "best-worst";
    j["sample"] = to_json(sample);
  }
  return j;
}

std::vector<PairInput> read_phase1_pairs(const std::filesystem::path& path) {
  std::vector<PairInput> out;
  for_each_jsonl(path, [&](const nlohmann::json& j, std::size_t line) {
    const std::string where = fmt::format("{}:{}", path.string(), line);
    CAI_CHECK(j.is_object(), "{}: expected a JSON object", where);
    for (const char* k : {"prompt", "init_response"})
      CAI_CHECK(j.contains(k) && j[k].is_string(), "{}: field \"{}\" (a string) is missing", where,
                k);
    CAI_CHECK(j.contains("messages") && j["messages"].is_array() && !j["messages"].empty() &&
                  j["messages"].back().is_object() && j["messages"].back().contains("content") &&
                  j["messages"].back()["content"].is_string(),
              "{}: field \"messages\" must end with the final revision message", where);
    PairInput p;
    p.key = out.size();
    p.prompt = j["prompt"].get<std::string>();
    p.a = j["init_response"].get<std::string>();
    p.b = j["messages"].back()["content"].get<std::string>();
    if (j.contains("id") && j["id"].is_string()) p.id = j["id"].get<std::string>();
    p.where = where;
    out.push_back(std::move(p));
  });
  return out;
}

namespace {
const std::string kAnswer = "The answer is:";
const std::string kThink = "Let's think step by step:";

// The chat judge's user message: the conversation, both responses, the question.
std::string chat_body(const std::string& prompt, const std::string& a, const std::string& b,
                      const std::string& question) {
  return "Consider the following conversation between a human and an assistant.\n\nHuman: " +
         prompt + "\n\nHere are two possible assistant responses.\n\n(A) " + a + "\n\n(B) " + b +
         "\n\nQuestion: " + question;
}

// transcript::comparison_prompt without its final "The answer is:".
std::string transcript_body(const std::string& prompt, const std::string& a, const std::string& b,
                            const std::string& question) {
  std::string t = transcript::comparison_prompt(prompt, a, b, question);
  if (t.size() >= kAnswer.size() &&
      t.compare(t.size() - kAnswer.size(), kAnswer.size(), kAnswer) == 0)
    t.resize(t.size() - kAnswer.size());
  return t;
}
}  // namespace

std::vector<std::string> judge_options(PromptFormat format) {
  if (format == PromptFormat::transcript)
    return {std::string(transcript::kOptionA), std::string(transcript::kOptionB)};
  return {"(A)", "(B)"};  // the reply starts right after the assistant header
}

TextRequest judge_request(PromptFormat format, const std::string& prompt, const std::string& a,
                          const std::string& b, const std::string& question,
                          const std::string& reasoning) {
  TextRequest r;
  if (format == PromptFormat::transcript) {
    if (reasoning.empty())
      r.prompt = transcript::comparison_prompt(prompt, a, b, question);
    else
      r.prompt =
          transcript_body(prompt, a, b, question) + kThink + " " + reasoning + "\n\n" + kAnswer;
  } else {
    r.chat = true;
    if (reasoning.empty()) {
      r.messages = {{"user", chat_body(prompt, a, b, question) + "\n\n" + kAnswer}};
    } else {
      r.messages = {{"user", chat_body(prompt, a, b, question) + "\n\n" + kThink},
                    {"assistant", reasoning},
                    {"user", kAnswer}};
    }
  }
  return r;
}

TextRequest cot_request(PromptFormat format, const std::string& prompt, const std::string& a,
                        const std::string& b, const std::string& question) {
  TextRequest r;
  if (format == PromptFormat::transcript) {
    r.prompt = transcript_body(prompt, a, b, question) + kThink;
  } else {
    r.chat = true;
    r.messages = {{"user", chat_body(prompt, a, b, question) + "\n\n" + kThink}};
  }
  return r;
}

std::vector<std::size_t> pick_principles(const Constitution& c, std::uint64_t key,
                                         std::int64_t ensemble, std::uint64_t seed) {
  const auto n = c.principles.size();
  std::vector<std::size_t> idx;
  if (ensemble == -1 || ensemble >= static_cast<std::int64_t>(n)) {
    idx.resize(n);
    std::iota(idx.begin(), idx.end(), 0);
    return idx;
  }
  const auto want = static_cast<std::size_t>(std::max<std::int64_t>(1, ensemble));
  std::vector<std::size_t> left(n);
  std::iota(left.begin(), left.end(), 0);
  for (std::size_t k = 0; k < want; ++k) {  // weighted draws without replacement
    std::vector<double> w;
    for (auto i : left) w.push_back(c.principles[i].weight);
    const auto j = pick_weighted(w, uniform_draw(seed, stream_id(key, k, Stage::judge_principle)));
    idx.push_back(left[j]);
    left.erase(left.begin() + static_cast<std::ptrdiff_t>(j));
  }
  std::sort(idx.begin(), idx.end());
  return idx;
}

std::vector<PairLabel> judge_pairs(Backend& judge, const Constitution& c,
                                   const std::vector<PairInput>& pairs, const LabelOptions& opts) {
  opts.validate();
  CAI_CHECK(!c.principles.empty(), "label: the constitution has no principles");
  std::vector<PairLabel> out(pairs.size());
  // One job per (pair, principle, order): order 0 shows a as (A), order 1 shows b as (A).
  struct Job {
    std::size_t pair, slot;
    int order;
  };
  std::vector<Job> jobs;
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    out[i].pair = pairs[i];
    for (auto k : pick_principles(c, pairs[i].key, opts.ensemble, opts.seed)) {
      PrincipleJudgement pj;
      pj.principle = c.principles[k].name;
      pj.weight = c.principles[k].weight;
      out[i].principles.push_back(pj);
      for (int order = 0; order < 2; ++order)
        jobs.push_back({i, out[i].principles.size() - 1, order});
    }
  }
  auto question = [&](const Job& j) -> const std::string& {
    return c.principle(out[j.pair].principles[j.slot].principle).comparison_question;
  };
  auto first = [&](const Job& j) { return j.order == 0 ? pairs[j.pair].a : pairs[j.pair].b; };
  auto second = [&](const Job& j) { return j.order == 0 ? pairs[j.pair].b : pairs[j.pair].a; };
  auto judgement = [&](const Job& j) -> OrderJudgement& {
    auto& pj = out[j.pair].principles[j.slot];
    return j.order == 0 ? pj.ab : pj.ba;
  };
  if (opts.chain_of_thought) {
    std::vector<TextRequest> reqs;
    for (std::size_t n = 0; n < jobs.size(); ++n) {
      const auto& j = jobs[n];
      auto r = cot_request(opts.format, pairs[j.pair].prompt, first(j), second(j), question(j));
      r.params = opts.cot;
      if (opts.format == PromptFormat::transcript &&
          std::find(r.params.stop.begin(), r.params.stop.end(), "\n\n") == r.params.stop.end())
        r.params.stop.push_back("\n\n");
      r.params.seed = opts.seed;
      r.stream = stream_id(pairs[j.pair].key, j.slot * 2 + static_cast<std::size_t>(j.order),
                           Stage::judge_cot);
      reqs.push_back(std::move(r));
    }
    auto res = judge.generate(reqs);
    for (std::size_t n = 0; n < jobs.size(); ++n) {
      std::string t = opts.format == PromptFormat::transcript ? transcript::first_turn(res[n].text)
                                                              : res[n].text;
      const auto b = t.find_first_not_of(" \t\r\n");
      const auto e = t.find_last_not_of(" \t\r\n");
      judgement(jobs[n]).reasoning = b == std::string::npos ? "" : t.substr(b, e - b + 1);
    }
  }
  std::vector<TextRequest> reqs;
  for (const auto& j : jobs)
    reqs.push_back(judge_request(opts.format, pairs[j.pair].prompt, first(j), second(j),
                                 question(j), judgement(j).reasoning));
  const auto scores = judge.score_options(reqs, judge_options(opts.format));
  CAI_CHECK(scores.size() == jobs.size(), "label: the judge returned {} scores for {} requests",
            scores.size(), jobs.size());
  for (std::size_t n = 0; n < jobs.size(); ++n) {
    auto& oj = judgement(jobs[n]);
    oj.raw = scores[n].raw;
    double p = std::exp(scores[n].normalised.at(0));
    if (opts.chain_of_thought) p = std::clamp(p, opts.clamp_low, opts.clamp_high);
    oj.p_first = p;
  }
  for (auto& l : out) {
    double wsum = 0.0, p = 0.0, d = 0.0;
    for (auto& pj : l.principles) {
      const double pa1 = pj.ab.p_first, pa2 = 1.0 - pj.ba.p_first;
      pj.p_a = 0.5 * (pa1 + pa2);
      pj.disagreement = std::abs(pa1 - pa2);
      if ((pa1 - 0.5) * (pa2 - 0.5) < 0.0) l.order_flip = true;
      wsum += pj.weight;
      p += pj.weight * pj.p_a;
      d += pj.weight * pj.disagreement;
    }
    l.p_a = p / wsum;
    l.disagreement = d / wsum;
  }
  return out;
}

nlohmann::json to_json(const PairLabel& l, const std::string& judge, const LabelOptions& opts) {
  // a wins ties: p_a = 0.5 keeps the input order (Phase 1: the revision is b, so a tie says
  // nothing; min_confidence drops such pairs).
  const bool a_wins = l.p_a >= 0.5;
  const auto& chosen = a_wins ? l.pair.a : l.pair.b;
  const auto& rejected = a_wins ? l.pair.b : l.pair.a;
  auto msg = [](const char* role, const std::string& text) {
    return nlohmann::json{{"role", role}, {"content", text}};
  };
  auto order = [](const OrderJudgement& o) {
    nlohmann::json j = {{"raw_logprobs", o.raw}, {"p_first", o.p_first}};
    if (!o.reasoning.empty()) j["reasoning"] = o.reasoning;
    return j;
  };
  nlohmann::json ps = nlohmann::json::array();
  for (const auto& pj : l.principles) {
    // "chosen_first": the order that showed the chosen response as (A).
    const auto& cf = a_wins ? pj.ab : pj.ba;
    const auto& rf = a_wins ? pj.ba : pj.ab;
    ps.push_back({{"name", pj.principle},
                  {"weight", pj.weight},
                  {"p_chosen", a_wins ? pj.p_a : 1.0 - pj.p_a},
                  {"disagreement", pj.disagreement},
                  {"chosen_first", order(cf)},
                  {"rejected_first", order(rf)}});
  }
  nlohmann::json j;
  if (!l.pair.id.empty()) j["id"] = l.pair.id;
  j["prompt"] = {msg("user", l.pair.prompt)};
  j["chosen"] = {msg("assistant", chosen)};
  j["rejected"] = {msg("assistant", rejected)};
  j["prompt_text"] = l.pair.prompt;
  j["chosen_text"] = chosen;
  j["rejected_text"] = rejected;
  j["p_chosen"] = a_wins ? l.p_a : 1.0 - l.p_a;
  j["principles"] = std::move(ps);
  j["position_disagreement"] = l.disagreement;
  j["position_flip"] = l.order_flip;
  j["judge"] = judge;
  j["seed"] = opts.seed;
  return j;
}

}  // namespace cai::pipeline
