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
#include "cai/io/file.h"
#include "cai/io/progress.h"
#include "cai/io/sha256.h"
#include "cai/model/llama.h"
#include "cai/model/loader.h"
#include "cai/train/token_constraint.h"

namespace cai::train {
namespace fs = std::filesystem;

namespace {

constexpr const char* kFormat = "cai-token-ref-logps";
constexpr int kVersion = 1;
constexpr std::int64_t kTokenBudget = 8192;  // padded tokens per forward pass

// Every token and target flag the reference reads.
std::string examples_hash(const std::vector<SftExample>& examples) {
  Sha256 h;
  for (const auto& ex : examples) {
    std::string s = fmt::format("{}:", ex.seq.tokens.size());
    for (std::size_t i = 0; i < ex.seq.tokens.size(); ++i)
      s += fmt::format("{}{},", ex.seq.target[i] ? "*" : "", ex.seq.tokens[i]);
    h.update(s + "|");
  }
  std::string out;
  for (auto b : h.digest()) out += fmt::format("{:02x}", b);
  return out;
}

std::optional<TokenRefLogps> load_cache(const fs::path& file,
                                        const std::vector<SftExample>& examples) {
  if (!fs::exists(file)) return std::nullopt;
  try {
    const auto j = nlohmann::json::parse(read_file(file));
    if (j.value("format", "") != kFormat || j.value("version", 0) != kVersion) return std::nullopt;
    if (j.value("examples_sha256", "") != examples_hash(examples)) return std::nullopt;
    TokenRefLogps r;
    r.tokens = j.at("tokens").get<std::vector<std::vector<double>>>();
    if (r.tokens.size() != examples.size()) return std::nullopt;
    for (std::size_t i = 0; i < examples.size(); ++i)
      if (static_cast<std::int64_t>(r.tokens[i].size()) != examples[i].seq.num_targets())
        return std::nullopt;
    return r;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;  // corrupt: recomputed, never trusted
  } catch (const Error&) {
    return std::nullopt;
  }
}

}  // namespace

fs::path token_ref_cache_path(const fs::path& dataset, const std::string& key) {
  CAI_CHECK(key.size() >= 16, "token_ref_cache_path: key '{}' is shorter than 16 characters", key);
  return dataset.parent_path() /
         (dataset.filename().string() + ".tokref-" + key.substr(0, 16) + ".json");
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
  if (auto cached = load_cache(cache_file, examples)) return *cached;
  TokenRefLogps r = compute_token_ref_logps(examples, reference());
  nlohmann::json j;
  j["format"] = kFormat;
  j["version"] = kVersion;
  j["examples_sha256"] = examples_hash(examples);
  j["count"] = examples.size();
  j["tokens"] = r.tokens;
  write_file_atomic(cache_file, j.dump() + "\n");
  return r;
}

}  // namespace cai::train
