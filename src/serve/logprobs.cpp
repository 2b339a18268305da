#include "logprobs.h"

#include <torch/torch.h>

#include <algorithm>
#include <span>

#include "cai/generate/sampling.h"
#include "cai/io/error.h"
#include "cai/model/llama.h"
#include "cai/tokenizer/token_offsets.h"
#include "cai/tokenizer/tokenizer.h"

namespace cai::serve {
namespace {

// Positions sent through the LM head at once: bounds the [R, V] logits buffer (R x 128k
// floats is 64 MB for R = 128).
constexpr std::int64_t kHeadRows = 128;

}  // namespace

PositionLogprobs score_positions(LlamaModel& model, const std::vector<std::int32_t>& tokens,
                                 std::size_t from, std::int64_t top_n) {
  CAI_CHECK(from >= 1 && from <= tokens.size(), "score_positions: from {} outside [1, {}]", from,
            tokens.size());
  PositionLogprobs out;
  const auto L = static_cast<std::int64_t>(tokens.size());
  if (static_cast<std::int64_t>(from) == L) return out;
  torch::NoGradGuard no_grad;
  // Shape legend: L = tokens, C = hidden size, R = rows through the head, V = vocabulary.
  // The last token is only predicted, never fed: positions 0..L-2 predict tokens 1..L-1.
  std::vector<std::int64_t> fed(tokens.begin(), tokens.end() - 1);
  const auto input = torch::tensor(fed, torch::kLong).unsqueeze(0);  // [1, L-1]
  const torch::Tensor h = model.forward_hidden(input)[0];            // [L-1, C]
  for (auto p0 = static_cast<std::int64_t>(from) - 1; p0 < L - 1; p0 += kHeadRows) {
    const auto R = std::min(kHeadRows, L - 1 - p0);
    const auto logits = model.logits(h.narrow(0, p0, R)).to(torch::kFloat).contiguous();  // [R, V]
    const auto V = logits.size(1);
    const float* data = logits.data_ptr<float>();
    for (std::int64_t r = 0; r < R; ++r) {
      const std::span<const float> row(data + r * V, static_cast<std::size_t>(V));
      out.logprob.push_back(token_logprob(row, tokens[static_cast<std::size_t>(p0 + r + 1)]));
      out.top.push_back(top_n > 0 ? top_logprobs(row, top_n) : TopList{});
    }
  }
  return out;
}

TokenLogprob token_entry(const Tokenizer& tok, std::int32_t id, float logprob, const TopList* top) {
  TokenLogprob t;
  t.text = tok.token_bytes(id);
  t.logprob = logprob;
  if (top)
    for (const auto& [tid, tlp] : *top) t.top.emplace_back(tok.token_bytes(tid), tlp);
  return t;
}

std::vector<TokenLogprob> rescored_entries(const Tokenizer& tok,
                                           const std::vector<std::int32_t>& prompt,
                                           const std::string& prompt_text,
                                           const std::vector<std::int32_t>& completion, bool echo,
                                           const PositionLogprobs& scores) {
  const std::size_t want = (echo ? prompt.size() - 1 : 0) + completion.size();
  CAI_CHECK(scores.logprob.size() == want && scores.top.size() == want,
            "logprobs: {} scored positions for {} tokens", scores.logprob.size(), want);
  std::vector<TokenLogprob> out;
  std::size_t k = 0;  // into scores
  if (echo) {
    const auto offs = token_text_offsets(tok, prompt, prompt_text);
    for (std::size_t i = 0; i < prompt.size(); ++i) {
      TokenLogprob t;
      if (i == 0) {
        t.text = tok.token_bytes(prompt[0]);  // nothing predicts it: no log-prob
      } else {
        t = token_entry(tok, prompt[i], scores.logprob[k], &scores.top[k]);
        ++k;
      }
      t.text_offset = offs[i];
      out.push_back(std::move(t));
    }
  }
  for (std::size_t i = 0; i < completion.size(); ++i, ++k) {
    out.push_back(token_entry(tok, completion[i], scores.logprob[k], &scores.top[k]));
    // The completion starts right after the prompt text, wherever its tokens' bytes ended.
    if (i == 0 && echo) out.back().text_offset = prompt_text.size();
  }
  return out;
}

}  // namespace cai::serve
