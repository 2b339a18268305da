// The reference model's per-token log-probabilities of SFT targets, computed once and cached
// beside the dataset (see include/cai/train/token_constraint.h for the file format).
//
// Shape legend: B = examples in a batch, T = longest, C = hidden size, N = targets.
#include <torch/torch.h>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include <numeric>

#include "batch.h"
#include "cai/io/error.h"
#include "cai/io/progress.h"
#include "cai/io/sha256.h"
#include "cai/model/llama.h"
#include "cai/model/loader.h"
#include "cai/train/token_constraint.h"
#include "ref_cache.h"

namespace cai::train {
namespace fs = std::filesystem;

namespace {

constexpr detail::CacheTag kTag = {"cai-token-ref-logps", 1};
constexpr std::int64_t kTokenBudget = 8192;  // padded tokens per forward pass

// Every token and target flag the reference reads.
std::string examples_hash(const std::vector<SftExample>& examples) {
  std::string s;
  for (const auto& ex : examples) {
    s += fmt::format("{}:", ex.seq.tokens.size());
    for (std::size_t i = 0; i < ex.seq.tokens.size(); ++i)
      s += fmt::format("{}{},", ex.seq.target[i] ? "*" : "", ex.seq.tokens[i]);
    s += "|";
  }
  return sha256_hex(s);
}

}  // namespace

fs::path token_ref_cache_path(const fs::path& dataset, const std::string& key) {
  CAI_CHECK(key.size() >= 16, "token_ref_cache_path: key '{}' is shorter than 16 characters", key);
  return dataset.parent_path() /
         (dataset.filename().string() + ".tokref-" + key.substr(0, 16) + ".json");
}

std::vector<SftExample> chosen_sequences(const std::vector<PreferenceExample>& pairs) {
  std::vector<SftExample> out;
  out.reserve(pairs.size());
  for (const auto& p : pairs) {
    detail::Row r = detail::prompt_response_row(p.prompt, p.chosen);  // the DPO row's targets
    SftExample ex;
    ex.line = p.line;
    ex.seq.tokens = std::move(r.tokens);
    ex.seq.target = std::move(r.target);
    out.push_back(std::move(ex));
  }
  return out;
}

TokenRefLogps compute_token_ref_logps(const std::vector<SftExample>& examples,
                                      LoadedModel& reference) {
  CAI_CHECK(reference.model, "reference log-probabilities: no reference model");
  LlamaModel& model = *reference.model;
  torch::NoGradGuard no_grad;
  detail::EvalModeGuard eval_mode(model);
  std::vector<detail::Row> rows;
  std::vector<std::int64_t> lengths, all(examples.size());
  for (const auto& ex : examples) {
    rows.push_back({ex.seq.tokens, ex.seq.target});
    lengths.push_back(static_cast<std::int64_t>(ex.seq.tokens.size()));
  }
  std::iota(all.begin(), all.end(), 0);
  TokenRefLogps out;
  out.tokens.resize(examples.size());
  Progress bar("reference token log-probs", examples.size(), "examples");
  for (const auto& ids : detail::eval_batches(all, lengths, kTokenBudget)) {
    std::vector<const detail::Row*> batch_rows;
    for (auto i : ids) batch_rows.push_back(&rows[static_cast<std::size_t>(i)]);
    const detail::Batch batch = detail::make_batch(batch_rows);
    const auto hidden = model.forward_hidden(batch.tokens);  // [B,T,C]
    detail::LogprobOptions lo;
    lo.correct = false;
    const auto lp =
        detail::target_logprobs(model, hidden, batch, lo).tokens.to(torch::kFloat64).contiguous();
    const double* v = lp.data_ptr<double>();  // [N], row by row
    std::int64_t at = 0;
    for (auto i : ids) {
      const auto n = examples[static_cast<std::size_t>(i)].seq.num_targets();
      out.tokens[static_cast<std::size_t>(i)].assign(v + at, v + at + n);
      at += n;
    }
    CAI_CHECK(at == lp.numel(), "reference log-probabilities: {} targets but {} values", at,
              lp.numel());
    bar.add(ids.size());
  }
  bar.finish();
  return out;
}

TokenRefLogps load_or_compute_token_ref_logps(const fs::path& cache_file,
                                              const std::vector<SftExample>& examples,
                                              const std::function<LoadedModel&()>& reference) {
  const std::string hash = examples_hash(examples);
  TokenRefLogps r;
  if (detail::read_ref_cache(cache_file, kTag, hash, [&](const nlohmann::json& j) {
        r.tokens = j.at("tokens").get<std::vector<std::vector<double>>>();
        if (r.tokens.size() != examples.size()) return false;
        for (std::size_t i = 0; i < examples.size(); ++i)
          if (static_cast<std::int64_t>(r.tokens[i].size()) != examples[i].seq.num_targets())
            return false;
        return true;
      }))
    return r;
  r = compute_token_ref_logps(examples, reference());
  detail::write_ref_cache(cache_file, kTag, hash, examples.size(), {{"tokens", r.tokens}});
  return r;
}

}  // namespace cai::train
