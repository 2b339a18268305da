// Per-token KL between the aligned and the base model along responses (probe.h), the
// measurement behind Qi et al. 2024, "Safety Alignment Should Be Made More Than Just a Few
// Tokens Deep", section 2: KL(pi_aligned(. | x, y_<t) || pi_base(. | x, y_<t)) per position t.
//
// Shape legend: B = sequences in a batch, T = longest sequence, C = hidden size,
// N = response positions in the batch, V = vocabulary.
#include <torch/torch.h>

#include <algorithm>
#include <numeric>

#include "cai/constitution/transcript.h"
#include "cai/eval/probe.h"
#include "cai/io/error.h"
#include "cai/model/llama.h"
#include "cai/tokenizer/tokenizer.h"

namespace cai::eval {
namespace {

constexpr std::int64_t kHeadChunk = 1024;  // rows through the LM head at a time: bounds [N,V]

// KL per response position of the sequences `idx` (one padded batch).
void batch_kl(LlamaModel& aligned, LlamaModel& base, const std::vector<ProbeSequence>& seqs,
              const std::vector<std::size_t>& idx, std::vector<std::vector<double>>& out) {
  std::int64_t T = 0;
  for (auto i : idx)
    T = std::max<std::int64_t>(
        T, static_cast<std::int64_t>(seqs[i].prompt.size() + seqs[i].response.size()));
  const auto B = static_cast<std::int64_t>(idx.size());
  auto tokens = torch::zeros({B, T}, torch::kInt64);  // right padded: no mask needed (causal)
  auto* tp = tokens.data_ptr<std::int64_t>();
  std::vector<std::int64_t>
      src;  // flattened [B*T] position whose hidden state predicts a response token
  for (std::int64_t b = 0; b < B; ++b) {
    const auto& s = seqs[idx[static_cast<std::size_t>(b)]];
    const auto P = static_cast<std::int64_t>(s.prompt.size());
    for (std::int64_t t = 0; t < P; ++t) tp[b * T + t] = s.prompt[static_cast<std::size_t>(t)];
    for (std::size_t j = 0; j < s.response.size(); ++j) {
      tp[b * T + P + static_cast<std::int64_t>(j)] = s.response[j];
      src.push_back(b * T + P + static_cast<std::int64_t>(j) - 1);
    }
  }
  const auto N = static_cast<std::int64_t>(src.size());
  if (N == 0) return;
  const auto where = torch::tensor(src, torch::kInt64);
  const auto ha = aligned.forward_hidden(tokens);  // [B,T,C]
  const auto hb = base.forward_hidden(tokens);
  const auto C = ha.size(2);
  const auto ga = ha.reshape({B * T, C}).index_select(0, where);  // [N,C]
  const auto gb = hb.reshape({B * T, hb.size(2)}).index_select(0, where);
  std::vector<double> kl(static_cast<std::size_t>(N));
  for (std::int64_t s = 0; s < N; s += kHeadChunk) {
    const std::int64_t n = std::min(kHeadChunk, N - s);
    const auto la =
        torch::log_softmax(aligned.logits(ga.narrow(0, s, n)).to(torch::kFloat64), -1);  // [n,V]
    const auto lb = torch::log_softmax(base.logits(gb.narrow(0, s, n)).to(torch::kFloat64), -1);
    const auto k = (la.exp() * (la - lb)).sum(-1).contiguous();  // [n]
    std::copy_n(k.data_ptr<double>(), n, kl.begin() + s);
  }
  std::size_t at = 0;
  for (auto i : idx) {
    out[i].assign(kl.begin() + static_cast<std::ptrdiff_t>(at),
                  kl.begin() + static_cast<std::ptrdiff_t>(at + seqs[i].response.size()));
    at += seqs[i].response.size();
  }
}

}  // namespace

std::vector<std::int32_t> prompt_tokens(const Tokenizer& tok, const std::string& prompt) {
  // As the local backend encodes a raw prompt: BOS as configured, special tokens recognised.
  return tok.encode(transcript::conversation_prompt(prompt), /*add_special=*/true,
                    /*parse_special=*/true);
}

ProbeSequence probe_sequence(const Tokenizer& tok, const std::string& prompt,
                             const std::string& response) {
  ProbeSequence s;
  s.prompt = prompt_tokens(tok, prompt);
  // The model continues "Assistant:" with a space; the reply is tokenised on its own, as
  // generation produces it after the prompt.
  s.response = tok.encode(" " + response, /*add_special=*/false, /*parse_special=*/false);
  return s;
}

std::vector<std::vector<double>> token_kl(LlamaModel& aligned, LlamaModel& base,
                                          const std::vector<ProbeSequence>& seqs,
                                          std::int64_t token_budget) {
  CAI_CHECK(token_budget > 0, "token_kl: token_budget must be positive, got {}", token_budget);
  CAI_CHECK(aligned.config().vocab_size == base.config().vocab_size,
            "probe: the aligned model has {} tokens in its vocabulary and the base model {}",
            aligned.config().vocab_size, base.config().vocab_size);
  for (std::size_t i = 0; i < seqs.size(); ++i)
    CAI_CHECK(!seqs[i].prompt.empty(), "token_kl: sequence {} has no prompt token", i);
  torch::NoGradGuard no_grad;
  std::vector<std::vector<double>> out(seqs.size());
  // Longest first, so rows of similar length share a padded batch.
  std::vector<std::size_t> order(seqs.size());
  std::iota(order.begin(), order.end(), 0);
  auto len = [&](std::size_t i) {
    return static_cast<std::int64_t>(seqs[i].prompt.size() + seqs[i].response.size());
  };
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return len(a) > len(b); });
  std::size_t i = 0;
  while (i < order.size()) {
    const std::int64_t T = len(order[i]);
    std::size_t j = i + 1;
    while (j < order.size() && static_cast<std::int64_t>(j - i + 1) * T <= token_budget) ++j;
    const std::vector<std::size_t> batch(order.begin() + static_cast<std::ptrdiff_t>(i),
                                         order.begin() + static_cast<std::ptrdiff_t>(j));
    batch_kl(aligned, base, seqs, batch, out);
    i = j;
  }
  return out;
}

KlByPosition aggregate_kl(const std::vector<std::vector<double>>& kl, std::int64_t first_k) {
  CAI_CHECK(first_k >= 1, "probe: first_k must be >= 1, got {}", first_k);
  KlByPosition r;
  r.first_k = first_k;
  std::vector<double> sum;
  double first_sum = 0.0, all_sum = 0.0;
  for (const auto& row : kl) {
    if (row.size() > sum.size()) {
      sum.resize(row.size(), 0.0);
      r.count.resize(row.size(), 0);
    }
    for (std::size_t j = 0; j < row.size(); ++j) {
      sum[j] += row[j];
      r.count[j] += 1;
      all_sum += row[j];
      r.tokens += 1;
      if (static_cast<std::int64_t>(j) < first_k) {
        first_sum += row[j];
        r.first_k_tokens += 1;
      }
    }
    r.responses += row.empty() ? 0 : 1;
  }
  for (std::size_t j = 0; j < sum.size(); ++j)
    r.mean.push_back(sum[j] / static_cast<double>(r.count[j]));
  r.first_k_mean = r.first_k_tokens ? first_sum / static_cast<double>(r.first_k_tokens) : 0.0;
  r.overall_mean = r.tokens ? all_sum / static_cast<double>(r.tokens) : 0.0;
  return r;
}

}  // namespace cai::eval
