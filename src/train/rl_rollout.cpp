// A rollout of `cai train rl` (see rl_rollout.h): sample, score, log-probabilities under the
// policy and the frozen reference, per-token KL, rewards and advantages.
//
// Shape legend: B = responses in a micro-batch, T = longest prompt + response, C = hidden
// size, N = response tokens in the micro-batch.
#include "rl_rollout.h"

#include <torch/torch.h>

#include <cmath>
#include <numeric>

#include "cai/dist/dist.h"
#include "cai/generate/engine.h"
#include "cai/io/error.h"
#include "cai/model/llama.h"

namespace cai::train::detail {

TokenStats token_stats(LlamaModel& model, const Batch& batch, double temperature, bool entropy,
                       const ValueHead* head) {
  const auto hidden = model.forward_hidden(batch.tokens);  // [B,T,C]
  LogprobOptions lo;
  lo.temperature = temperature;
  lo.entropy = entropy;
  lo.correct = false;
  const TargetLogprobs lp = target_logprobs(model, hidden, batch, lo);
  TokenStats s;
  s.logp = lp.tokens;
  s.entropy = lp.entropy;
  if (head) {
    // The state before token t is the hidden state of position t - 1: batch.src.
    const std::int64_t B = hidden.size(0), T = hidden.size(1), C = hidden.size(2);
    const auto h =
        hidden.reshape({B * T, C}).index_select(0, batch.src.to(hidden.device()));  // [N,C]
    s.values = torch::addmm(head->bias, h, head->weight.t()).squeeze(1);            // [N]
  }
  return s;
}

std::vector<std::vector<std::int64_t>> micro_batches(const std::vector<RlSample>& samples,
                                                     const std::vector<std::int64_t>& which,
                                                     std::int64_t token_budget) {
  std::vector<std::int64_t> lengths;
  for (const auto& s : samples) lengths.push_back(static_cast<std::int64_t>(s.row.tokens.size()));
  return micro_batches(lengths, which, token_budget);
}

std::vector<std::vector<std::int64_t>> micro_batches(const std::vector<std::int64_t>& lengths,
                                                     const std::vector<std::int64_t>& which,
                                                     std::int64_t token_budget) {
  std::vector<std::vector<std::int64_t>> out;
  std::vector<std::int64_t> cur;
  std::int64_t longest = 0;
  for (auto i : which) {
    const auto len = lengths[static_cast<std::size_t>(i)];
    const std::int64_t width = std::max(longest, len);
    if (!cur.empty() && static_cast<std::int64_t>(cur.size() + 1) * width > token_budget) {
      out.push_back(std::move(cur));
      cur.clear();
      longest = 0;
    }
    cur.push_back(i);
    longest = std::max(longest, len);
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

namespace {

std::vector<double> rl_to_vector(const torch::Tensor& t) {
  const auto c = t.detach().to(torch::kCPU, torch::kFloat64).contiguous();
  return {c.data_ptr<double>(), c.data_ptr<double>() + c.numel()};
}

// Sampling: K requests per prompt, each with its own random stream, so a response depends
// only on (seed, step, prompt slot, sample) and never on its batch neighbours.
// Only the requests [begin, end) of the P x K (a data-parallel rank's share).
std::vector<GenerationResult> sample_responses(Engine& engine, const std::vector<RlPrompt>& prompts,
                                               const std::vector<std::int64_t>& prompt_ids,
                                               const RlOptions& o, std::int64_t step,
                                               std::uint64_t begin, std::uint64_t end) {
  const auto P = static_cast<std::uint64_t>(prompt_ids.size());
  const auto K = static_cast<std::uint64_t>(o.samples_per_prompt);
  std::vector<GenerationRequest> reqs;
  for (std::uint64_t p = 0; p < P; ++p)
    for (std::uint64_t j = 0; j < K; ++j) {
      if (p * K + j < begin || p * K + j >= end) continue;
      const RlPrompt& pr = prompts[static_cast<std::size_t>(prompt_ids[p])];
      GenerationRequest rq;
      rq.prompt = pr.tokens;
      rq.sampling.temperature = o.temperature;
      rq.sampling.seed = o.seed;
      rq.sampling.max_new_tokens = o.max_new_tokens;
      rq.sampling.stop = pr.stop;
      rq.stream = (static_cast<std::uint64_t>(step) * P + p) * K + j;
      reqs.push_back(std::move(rq));
    }
  return engine.generate(std::move(reqs));
}

// A sample as numbers, for the exchange between ranks: prompt, n, truncated, score, then the
// response tokens and the per-token old and reference log-probabilities, KL and values.
void pack(const RlSample& s, std::vector<double>& out) {
  const auto n = static_cast<std::size_t>(s.n);
  out.insert(out.end(), {static_cast<double>(s.prompt), static_cast<double>(s.n),
                         s.truncated ? 1.0 : 0.0, s.score});
  out.insert(out.end(), s.row.tokens.end() - static_cast<std::ptrdiff_t>(n), s.row.tokens.end());
  for (const auto* v : {&s.logp_old, &s.logp_ref, &s.kl_tokens, &s.values})
    out.insert(out.end(), v->begin(), v->end());
}

std::vector<RlSample> unpack(const std::vector<double>& in, const std::vector<RlPrompt>& prompts) {
  std::vector<RlSample> out;
  std::size_t at = 0;
  auto take = [&](std::size_t n) {
    CAI_CHECK(at + n <= in.size(), "rl: a rank sent a truncated rollout");
    std::vector<double> v(in.begin() + static_cast<std::ptrdiff_t>(at),
                          in.begin() + static_cast<std::ptrdiff_t>(at + n));
    at += n;
    return v;
  };
  while (at < in.size()) {
    const auto head = take(4);
    RlSample s;
    s.prompt = static_cast<std::int64_t>(head[0]);
    s.n = static_cast<std::int64_t>(head[1]);
    s.truncated = head[2] != 0.0;
    s.score = head[3];
    const auto n = static_cast<std::size_t>(s.n);
    const auto resp = take(n);
    s.row = prompt_response_row(prompts[static_cast<std::size_t>(s.prompt)].tokens,
                                std::vector<std::int32_t>(resp.begin(), resp.end()));
    s.logp_old = take(n);
    s.logp_ref = take(n);
    s.kl_tokens = take(n);
    s.values = take(n);
    s.kl = std::accumulate(s.kl_tokens.begin(), s.kl_tokens.end(), 0.0);
    out.push_back(std::move(s));
  }
  return out;
}

// Every rank's samples, in rank order (the order one process would have them in).
std::vector<RlSample> share_samples(const std::vector<RlSample>& mine,
                                    const std::vector<RlPrompt>& prompts) {
  std::vector<double> flat;
  for (const auto& s : mine) pack(s, flat);
  std::vector<RlSample> all;
  for (const auto& t : dist::world().all_gather(torch::tensor(flat, torch::kFloat64))) {
    const auto c = t.contiguous();
    auto part = unpack({c.data_ptr<double>(), c.data_ptr<double>() + c.numel()}, prompts);
    for (auto& s : part) all.push_back(std::move(s));
  }
  return all;
}

// The scores as the advantages see them: the missing-EOS penalty, then normalisation and
// clipping (rl.h, RewardNorm).
std::vector<double> shaped_scores(const std::vector<RlSample>& samples, const RlOptions& o,
                                  RunningMoments& moments) {
  std::vector<double> s;
  for (const auto& x : samples) s.push_back(x.score - (x.truncated ? o.missing_eos_penalty : 0.0));
  switch (o.reward_norm) {
    case RewardNorm::none:
      break;
    case RewardNorm::batch:
      s = whiten(s);
      break;
    case RewardNorm::running: {
      moments.update(s);
      const double sd = moments.std();
      for (double& v : s) v = (v - moments.mean) / (sd + 1e-8);
      break;
    }
  }
  if (o.reward_clip > 0)
    for (double& v : s) v = std::clamp(v, -o.reward_clip, o.reward_clip);
  return s;
}

}  // namespace

Rollout make_rollout(Engine& engine, LlamaModel& policy, LlamaModel& reference,
                     const ValueHead* head, const std::vector<RlPrompt>& prompts,
                     const std::vector<std::int64_t>& prompt_ids, const RewardFn& reward,
                     const RlOptions& o, double kl_coef, std::int64_t step,
                     RunningMoments& moments) {
  const std::int64_t K = o.samples_per_prompt;
  const dist::ProcessGroup& pg = dist::world();
  const auto [first, last] =
      dist::shard(static_cast<std::int64_t>(prompt_ids.size()) * K, pg.rank(), pg.size());
  const std::vector<GenerationResult> results =
      sample_responses(engine, prompts, prompt_ids, o, step, static_cast<std::uint64_t>(first),
                       static_cast<std::uint64_t>(last));
  Rollout r;
  std::vector<RewardQuery> queries;
  for (std::size_t i = 0; i < results.size(); ++i) {
    const GenerationResult& g = results[i];
    const auto id = prompt_ids[(static_cast<std::size_t>(first) + i) / static_cast<std::size_t>(K)];
    const RlPrompt& pr = prompts[static_cast<std::size_t>(id)];
    CAI_CHECK(!g.tokens.empty(), "rl: step {}: an empty response to the prompt at line {}",
              step + 1, pr.line);
    RlSample s;
    s.prompt = id;
    s.row = prompt_response_row(pr.tokens, g.tokens);
    s.n = static_cast<std::int64_t>(g.tokens.size());
    s.truncated = g.finish == FinishReason::length;
    r.samples.push_back(std::move(s));
    queries.push_back({&pr, g.tokens, g.text, g.finish == FinishReason::length, step});
  }
  const std::vector<double> scores = reward(queries);
  CAI_CHECK(scores.size() == queries.size(),
            "rl: the reward function returned {} scores for {} responses", scores.size(),
            queries.size());
  for (std::size_t i = 0; i < scores.size(); ++i) {
    CAI_CHECK(std::isfinite(scores[i]),
              "rl: step {}: the reward of a response to the prompt at line {} "
              "is {}",
              step + 1, queries[i].prompt->line, scores[i]);
    r.samples[i].score = scores[i];
  }

  // Log-probabilities of the policy that sampled (the updates' old policy) and of the
  // reference, per token; the policy's entropy and values on the way.
  double entropy_sum = 0.0, tokens = 0.0;
  {
    torch::NoGradGuard no_grad;
    std::vector<std::int64_t> all(r.samples.size());
    std::iota(all.begin(), all.end(), 0);
    for (const auto& mb : micro_batches(r.samples, all, o.token_budget)) {
      std::vector<const Row*> rows;
      for (auto i : mb) rows.push_back(&r.samples[static_cast<std::size_t>(i)].row);
      const Batch batch = make_batch(rows);
      const TokenStats pol = token_stats(policy, batch, o.temperature, /*entropy=*/true, head);
      const TokenStats ref = token_stats(reference, batch, o.temperature, false, nullptr);
      const auto kl = kl_estimate(pol.logp, ref.logp, o.kl_estimator);  // [N]
      entropy_sum += pol.entropy.sum().item<double>();
      tokens += static_cast<double>(pol.logp.numel());
      const auto lp = rl_to_vector(pol.logp), rp = rl_to_vector(ref.logp), kv = rl_to_vector(kl);
      const auto vv = head ? rl_to_vector(pol.values) : std::vector<double>(lp.size(), 0.0);
      std::size_t at = 0;  // targets come row by row, each row's response in order
      for (auto i : mb) {
        RlSample& s = r.samples[static_cast<std::size_t>(i)];
        const auto a = lp.begin() + static_cast<std::ptrdiff_t>(at);
        const auto n = static_cast<std::ptrdiff_t>(s.n);
        s.logp_old.assign(a, a + n);
        s.logp_ref.assign(rp.begin() + static_cast<std::ptrdiff_t>(at),
                          rp.begin() + static_cast<std::ptrdiff_t>(at) + n);
        s.kl_tokens.assign(kv.begin() + static_cast<std::ptrdiff_t>(at),
                           kv.begin() + static_cast<std::ptrdiff_t>(at) + n);
        s.values.assign(vv.begin() + static_cast<std::ptrdiff_t>(at),
                        vv.begin() + static_cast<std::ptrdiff_t>(at) + n);
        s.kl = std::accumulate(s.kl_tokens.begin(), s.kl_tokens.end(), 0.0);
        at += static_cast<std::size_t>(n);
      }
      CAI_CHECK(at == lp.size(), "rl: {} response tokens but {} log-probabilities", at, lp.size());
    }
  }
  if (pg.size() > 1) {
    r.samples = share_samples(r.samples, prompts);
    entropy_sum = dist::all_reduce_sum(entropy_sum);
    tokens = dist::all_reduce_sum(tokens);
  }

  // Rewards and advantages. GRPO keeps the KL out of the reward: it is a term of its loss.
  const std::vector<double> shaped = shaped_scores(r.samples, o, moments);
  const bool kl_in_reward = o.algorithm != RlAlgorithm::grpo;
  std::vector<double> totals;
  for (std::size_t i = 0; i < r.samples.size(); ++i) {
    RlSample& s = r.samples[i];
    s.reward = shaped[i] - (kl_in_reward ? kl_coef * s.kl : 0.0);
    totals.push_back(s.reward);
  }
  if (o.algorithm == RlAlgorithm::grpo) {
    const std::vector<double> adv = grpo_advantages(totals, K, o.scale_rewards);
    for (std::size_t i = 0; i < r.samples.size(); ++i)
      r.samples[i].advantages.assign(static_cast<std::size_t>(r.samples[i].n), adv[i]);
  } else if (o.algorithm == RlAlgorithm::rloo) {
    // The whole response is one action: its total reward, baselined by the other samples.
    std::vector<double> adv = rloo_advantages(totals, K);
    if (o.normalize_advantages) adv = whiten(adv);
    for (std::size_t i = 0; i < r.samples.size(); ++i)
      r.samples[i].advantages.assign(static_cast<std::size_t>(r.samples[i].n), adv[i]);
  } else {
    // Each token is an action: the KL penalty is paid per token, the score at the last one.
    std::vector<double> flat;
    for (std::size_t i = 0; i < r.samples.size(); ++i) {
      RlSample& s = r.samples[i];
      std::vector<double> rew(s.kl_tokens.size());
      for (std::size_t t = 0; t < rew.size(); ++t) rew[t] = -kl_coef * s.kl_tokens[t];
      rew.back() += shaped[i];
      Gae g = gae(rew, s.values, o.gamma, o.lam);
      s.advantages = std::move(g.advantages);
      s.returns = std::move(g.returns);
      flat.insert(flat.end(), s.advantages.begin(), s.advantages.end());
    }
    if (o.whiten_advantages) {
      flat = whiten(flat);
      std::size_t at = 0;
      for (auto& s : r.samples)
        for (auto& a : s.advantages) a = flat[at++];
    }
  }

  const double S = static_cast<double>(r.samples.size());
  double score = 0, total = 0, kl = 0, truncated = 0;
  for (const auto& s : r.samples) {
    score += s.score;
    total += s.reward;
    kl += s.kl;
    truncated += s.truncated ? 1.0 : 0.0;
  }
  r.metrics["score"] = score / S;
  r.metrics["reward"] = total / S;
  r.metrics["kl"] = kl / S;
  r.metrics["entropy"] = tokens > 0 ? entropy_sum / tokens : 0.0;
  r.metrics["response_length"] = tokens / S;
  r.metrics["truncated"] = truncated / S;
  return r;
}

}  // namespace cai::train::detail
