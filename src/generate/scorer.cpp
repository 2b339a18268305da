#include "cai/generate/scorer.h"

#include <torch/torch.h>

#include <algorithm>
#include <numeric>

#include "cai/io/error.h"
#include "cai/model/llama.h"

namespace cai {

void ScoreOptions::validate() const {
  CAI_CHECK(max_batch_tokens >= 1, "score: max_batch_tokens must be >= 1, got {}",
            max_batch_tokens);
  CAI_CHECK(max_head_rows >= 1, "score: max_head_rows must be >= 1, got {}", max_head_rows);
}

namespace {

// A scored position: row r, position t of the batch predicts token `target`.
struct Pos {
  std::int64_t row, t;
  std::int32_t target;
};

void check_ids(const std::vector<std::int32_t>& ids, std::int64_t V, const char* what) {
  for (auto id : ids)
    CAI_CHECK(id >= 0 && id < V, "score: {} token id {} outside the vocabulary of {}", what, id, V);
}

// Runs `seqs` through the model in length-sorted, token-budgeted batches and calls
// visit(i, hidden [T_i, C] of sequence i) for each sequence.
template <typename Visit>
void for_each_hidden(LlamaModel& model, const std::vector<std::vector<std::int32_t>>& seqs,
                     const ScoreOptions& opts, Visit visit) {
  std::vector<std::size_t> order(seqs.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](auto a, auto b) { return seqs[a].size() > seqs[b].size(); });
  std::size_t i = 0;
  while (i < order.size()) {
    // Longest first, so the first row fixes the padded width T.
    const auto T = static_cast<std::int64_t>(seqs[order[i]].size());
    std::size_t j = i + 1;
    while (j < order.size() && static_cast<std::int64_t>(j - i + 1) * T <= opts.max_batch_tokens)
      ++j;
    const auto B = static_cast<std::int64_t>(j - i);
    auto tokens = torch::zeros({B, T}, torch::kLong);
    auto* p = tokens.data_ptr<std::int64_t>();
    for (std::int64_t r = 0; r < B; ++r) {
      const auto& s = seqs[order[i + r]];
      std::copy(s.begin(), s.end(), p + r * T);
    }
    // Right padding needs no mask: a real position never attends to a later pad.
    torch::Tensor h = model.forward_hidden(tokens);  // [B,T,C]
    for (std::int64_t r = 0; r < B; ++r) visit(order[i + r], h[r]);
    i = j;
  }
}

}  // namespace

std::vector<ScoreResult> score(LlamaModel& model, const std::vector<ScoreRequest>& requests,
                               const ScoreOptions& opts) {
  opts.validate();
  torch::NoGradGuard no_grad;
  const auto V = model.config().vocab_size;
  const auto max_len = model.config().max_position_embeddings;
  std::vector<std::vector<std::int32_t>> seqs(requests.size());
  for (std::size_t i = 0; i < requests.size(); ++i) {
    const auto& q = requests[i];
    CAI_CHECK(!q.prefix.empty(), "score: request {} has an empty prefix", i);
    check_ids(q.prefix, V, "prefix");
    check_ids(q.continuation, V, "continuation");
    // The last continuation token is only predicted, never fed.
    seqs[i] = q.prefix;
    if (!q.continuation.empty())
      seqs[i].insert(seqs[i].end(), q.continuation.begin(), q.continuation.end() - 1);
    CAI_CHECK(static_cast<std::int64_t>(seqs[i].size()) <= max_len,
              "score: request {} needs {} positions, the model has {}", i, seqs[i].size(), max_len);
  }
  std::vector<ScoreResult> out(requests.size());

  // Hidden states at the predicting positions are gathered across sequences, then sent
  // through the LM head max_head_rows at a time.
  std::vector<torch::Tensor> pending_h;
  std::vector<std::pair<std::size_t, std::int32_t>> pending_tgt;  // (request, target id)
  std::int64_t pending_rows = 0;
  auto flush = [&] {
    if (pending_rows == 0) return;
    auto h = torch::cat(pending_h, 0);                // [N,C]
    auto logits = model.logits(h).to(torch::kFloat);  // [N,V]
    std::vector<std::int64_t> tgt(pending_tgt.size());
    for (std::size_t k = 0; k < tgt.size(); ++k) tgt[k] = pending_tgt[k].second;
    auto lse = torch::logsumexp(logits, -1);  // [N]
    auto picked =
        logits.gather(1, torch::tensor(tgt, torch::kLong).to(logits.device()).unsqueeze(1))
            .squeeze(1);
    auto lp = (picked - lse).to(torch::kCPU).contiguous();
    const float* v = lp.data_ptr<float>();
    for (std::size_t k = 0; k < pending_tgt.size(); ++k) {
      auto& res = out[pending_tgt[k].first];
      res.token_logprobs.push_back(v[k]);
      res.sum += v[k];
    }
    pending_h.clear();
    pending_tgt.clear();
    pending_rows = 0;
  };
  for_each_hidden(model, seqs, opts, [&](std::size_t i, const torch::Tensor& h) {
    const auto& q = requests[i];
    const auto P = static_cast<std::int64_t>(q.prefix.size());
    const auto K = static_cast<std::int64_t>(q.continuation.size());
    // Positions P-1 .. P+K-2 predict continuation[0..K-1]; fed in pieces of max_head_rows.
    for (std::int64_t k0 = 0; k0 < K;) {
      const auto n = std::min(K - k0, opts.max_head_rows - pending_rows);
      pending_h.push_back(h.narrow(0, P - 1 + k0, n));
      for (std::int64_t k = k0; k < k0 + n; ++k) pending_tgt.emplace_back(i, q.continuation[k]);
      pending_rows += n;
      k0 += n;
      if (pending_rows >= opts.max_head_rows) flush();
    }
  });
  flush();
  return out;
}

ScoreResult score_tokens(LlamaModel& model, const std::vector<std::int32_t>& tokens,
                         const ScoreOptions& opts) {
  CAI_CHECK(!tokens.empty(), "score: empty text");
  ScoreRequest q;
  q.prefix.assign(tokens.begin(), tokens.begin() + 1);
  q.continuation.assign(tokens.begin() + 1, tokens.end());
  return score(model, {q}, opts).front();
}

std::vector<std::vector<float>> next_token_logprobs(
    LlamaModel& model, const std::vector<std::vector<std::int32_t>>& prefixes,
    const std::vector<std::int32_t>& candidates, const ScoreOptions& opts) {
  opts.validate();
  torch::NoGradGuard no_grad;
  const auto V = model.config().vocab_size;
  check_ids(candidates, V, "candidate");
  for (std::size_t i = 0; i < prefixes.size(); ++i) {
    CAI_CHECK(!prefixes[i].empty(), "score: prefix {} is empty", i);
    check_ids(prefixes[i], V, "prefix");
  }
  std::vector<std::vector<float>> out(prefixes.size());
  std::vector<std::int64_t> cand(candidates.begin(), candidates.end());
  auto cand_idx = torch::tensor(cand, torch::kLong).to(model.device());
  for_each_hidden(model, prefixes, opts, [&](std::size_t i, const torch::Tensor& h) {
    // h is padded to the batch width: read the prefix's own last position.
    const auto last = static_cast<std::int64_t>(prefixes[i].size()) - 1;
    auto logits = model.logits(h[last].unsqueeze(0)).to(torch::kFloat);  // [1,V]
    auto lp = (logits.index_select(1, cand_idx) - torch::logsumexp(logits, -1, true))
                  .squeeze(0)
                  .to(torch::kCPU)
                  .contiguous();
    const float* v = lp.data_ptr<float>();
    out[i].assign(v, v + lp.numel());
  });
  return out;
}

}  // namespace cai
