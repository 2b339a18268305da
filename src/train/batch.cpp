// Micro-batch assembly and target log-probabilities (see batch.h).
#include "batch.h"

#include <torch/torch.h>

#include <algorithm>

#include "cai/io/error.h"
#include "cai/model/llama.h"

namespace cai::train::detail {

Row prompt_response_row(const std::vector<std::int32_t>& prompt,
                        const std::vector<std::int32_t>& response) {
  Row r;
  r.tokens = prompt;
  r.tokens.insert(r.tokens.end(), response.begin(), response.end());
  r.target.assign(prompt.size(), 0);
  r.target.resize(r.tokens.size(), 1);
  if (!r.target.empty()) r.target[0] = 0;  // nothing predicts position 0
  return r;
}

Batch make_batch(const std::vector<const Row*>& rows) {
  CAI_CHECK(!rows.empty(), "make_batch: no rows");
  std::int64_t T = 0;
  for (const Row* r : rows)
    T = std::max<std::int64_t>(T, static_cast<std::int64_t>(r->tokens.size()));
  CAI_CHECK(T >= 1, "make_batch: all rows are empty");
  const auto B = static_cast<std::int64_t>(rows.size());
  Batch b;
  b.tokens = torch::zeros({B, T}, torch::kInt64);
  auto* tok = b.tokens.data_ptr<std::int64_t>();
  std::vector<std::int64_t> src, labels, row_of;
  for (std::int64_t i = 0; i < B; ++i) {
    const Row& r = *rows[static_cast<std::size_t>(i)];
    const auto len = static_cast<std::int64_t>(r.tokens.size());
    b.lengths.push_back(len);
    b.real_tokens += len;
    for (std::int64_t t = 0; t < len; ++t) {
      tok[i * T + t] = r.tokens[static_cast<std::size_t>(t)];
      if (t > 0 && r.target[static_cast<std::size_t>(t)]) {
        src.push_back(i * T + t - 1);
        labels.push_back(r.tokens[static_cast<std::size_t>(t)]);
        row_of.push_back(i);
      }
    }
  }
  auto to_tensor = [](const std::vector<std::int64_t>& v) {
    return torch::tensor(v, torch::kInt64);
  };
  b.src = to_tensor(src);
  b.labels = to_tensor(labels);
  b.row_of = to_tensor(row_of);
  return b;
}

TargetLogprobs target_logprobs(LlamaModel& model, const torch::Tensor& hidden, const Batch& batch,
                               const LogprobOptions& opts) {
  const std::int64_t B = hidden.size(0), T = hidden.size(1), C = hidden.size(2);
  const std::int64_t N = batch.src.numel();
  TargetLogprobs out;
  out.sums = torch::zeros({B}, hidden.options());
  out.tokens = torch::zeros({0}, hidden.options());
  if (opts.entropy) out.entropy = torch::zeros({0}, hidden.options());
  if (N == 0) return out;
  // The batch is assembled on the CPU; its indices join the hidden states' device.
  const auto dev = hidden.device();
  const auto src = batch.src.to(dev), all_labels = batch.labels.to(dev);
  // Only the positions that predict a target go through the LM head: [N,C] -> [N,V].
  const auto h = hidden.reshape({B * T, C}).index_select(0, src);  // [N,C]
  const bool grad = torch::GradMode::is_enabled();
  const std::int64_t chunk = grad ? N : std::max<std::int64_t>(1, opts.head_chunk);
  std::vector<torch::Tensor> parts, entropies;
  for (std::int64_t s = 0; s < N; s += chunk) {
    const std::int64_t n = std::min(chunk, N - s);
    const auto labels = all_labels.narrow(0, s, n);
    auto logits = model.logits(h.narrow(0, s, n));  // [n,V]
    if (opts.temperature != 1.0) logits = logits / opts.temperature;
    const auto logp = torch::log_softmax(logits, -1);                 // [n,V]
    parts.push_back(logp.gather(1, labels.unsqueeze(1)).squeeze(1));  // [n]
    {
      torch::NoGradGuard no_grad;
      // A label whose logit equals the row's maximum is the argmax (a tie counts as a hit):
      // amax is a plain reduction, about half the cost of argmax's index-tracking pass.
      if (opts.correct)
        out.correct += logits.gather(1, labels.unsqueeze(1))
                           .squeeze(1)
                           .ge(logits.amax(-1))
                           .sum()
                           .item<double>();
      if (opts.entropy) entropies.push_back(-(logp.exp() * logp).sum(-1));  // [n]
    }
  }
  const auto picked = parts.size() == 1 ? parts[0] : torch::cat(parts);  // [N]
  out.tokens = picked;
  if (opts.entropy) out.entropy = entropies.size() == 1 ? entropies[0] : torch::cat(entropies);
  out.sums = out.sums.index_add(0, batch.row_of.to(dev), picked);
  return out;
}

Metrics mean_pair_metrics(const std::vector<std::int64_t>& examples,
                          const std::vector<std::int64_t>& lengths2, std::int64_t token_budget,
                          const std::function<Metrics(const std::vector<std::int64_t>&)>& forward) {
  Metrics sum;
  for (const auto& batch : eval_batches(examples, lengths2, token_budget))
    for (const auto& [k, v] : forward(batch)) sum[k] += v;
  for (auto& [k, v] : sum) v /= static_cast<double>(examples.size());
  return sum;
}

std::vector<std::vector<std::int64_t>> eval_batches(const std::vector<std::int64_t>& examples,
                                                    const std::vector<std::int64_t>& lengths,
                                                    std::int64_t token_budget) {
  std::vector<std::int64_t> order = examples;
  std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) {
    return lengths[static_cast<std::size_t>(a)] > lengths[static_cast<std::size_t>(b)];
  });
  std::vector<std::vector<std::int64_t>> out;
  std::size_t i = 0;
  while (i < order.size()) {
    // Longest first: the first row fixes the padded width.
    const std::int64_t T = lengths[static_cast<std::size_t>(order[i])];
    std::size_t j = i + 1;
    while (j < order.size() && static_cast<std::int64_t>(j - i + 1) * T <= token_budget) ++j;
    out.emplace_back(order.begin() + static_cast<std::ptrdiff_t>(i),
                     order.begin() + static_cast<std::ptrdiff_t>(j));
    i = j;
  }
  return out;
}

}  // namespace cai::train::detail
