// Token-wise constrained fine-tuning (Qi et al. 2024, "Safety Alignment Should Be Made More
// Than Just a Few Tokens Deep", section 4.2, eq. 3): SFT whose every target token is held
// near a reference (aligned) model, most strongly at the first tokens of a response,
//
//   min_theta  E_(x,y) [ - sum_t (2 / beta_t) log sigmoid(beta_t (log pi_theta(y_t | x, y_<t)
//                                                               - log pi_ref(y_t | x, y_<t))) ].
//
// Its gradient is the cross-entropy gradient weighted per token by 2 sigmoid(-beta_t d_t),
// d_t = log pi_theta - log pi_ref: a token the model already predicts better than the
// reference stops pulling, the sooner the larger beta_t (as beta_t -> 0 the objective becomes
// plain SFT up to a constant). The paper's beta_t, also its code's defaults: beta_1 = 0.5,
// beta_t = 2 for 2 <= t <= 5, beta_t = 0.1 after (beta 0.1 times a bias of 5 on the first
// token and 20 on the rest of the first five). t counts the tokens of a response: the target
// positions of an example, restarting at each run of targets (each assistant turn), and
// counting a start the response continues (a recovery row's violating start, given in its
// prompt): the return after such a start is a late token, held only by beta. This is
// the objective's exact value; the paper's code minimises a surrogate with the same gradient
// (the detached weight times log pi_theta, the weight clamped at 1e-3 from below).
//
// The reference's per-token log-probabilities are computed once and cached beside the dataset
// (as DPO's reference log-probabilities are), so the reference model is not held in memory.
//
// Shape legend: N = target tokens of a micro-batch (row by row, in order).
#pragma once

#include <torch/types.h>

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "cai/train/data.h"
#include "cai/train/token_constraint_options.h"

namespace cai {
struct LoadedModel;
}

namespace cai::train {

// beta_(from+1) .. beta_(from+n): n response tokens after the first `from` (a start the
// response continues, given in its prompt; data.h).
std::vector<double> token_betas(std::int64_t n, const TokenConstraintOptions& opts,
                                std::int64_t from = 0);

// Each target's beta for an example: its position counts from 1 in its run of targets, the
// first run after the `continued` given tokens of its turn (TokenizedSequence::continued).
// target: the example's target flags (TokenizedSequence::target) -> one beta per target.
std::vector<double> target_betas(const std::vector<std::uint8_t>& target,
                                 const TokenConstraintOptions& opts, std::int64_t continued = 0);

// The per-token loss (2 / beta) softplus(-beta (logp - ref_logp)) = -(2 / beta) log
// sigmoid(beta (logp - ref_logp)). [N] each -> [N]; differentiable in logp.
torch::Tensor token_constrained_loss(const torch::Tensor& logp, const torch::Tensor& ref_logp,
                                     const torch::Tensor& beta);

// The reference's log p of every target token of every example, in example order (targets in
// order).
struct TokenRefLogps {
  std::vector<std::vector<double>> tokens;
};

// Cache file (JSON, written atomically) beside the dataset, <dataset>.tokref-<16 hex>.json
// with the key of ref_cache_key (objectives.h): {"format": "cai-token-ref-logps", "version":
// 1, "examples_sha256": hash of the examples' tokens and targets, "count": n, "tokens":
// [[numbers] x n]}. A file made for other examples, or corrupt, is recomputed, never trusted.
std::filesystem::path token_ref_cache_path(const std::filesystem::path& dataset,
                                           const std::string& key);
TokenRefLogps compute_token_ref_logps(const std::vector<SftExample>& examples,
                                      LoadedModel& reference);
// The cached values when the file holds them for these examples, else computed (the reference
// model loaded only then, and freed before returning) and cached.
TokenRefLogps load_or_compute_token_ref_logps(const std::filesystem::path& cache_file,
                                              const std::vector<SftExample>& examples,
                                              const std::function<LoadedModel&()>& reference);

// What the SFT objective needs to constrain its tokens (make_sft_objective, objectives.h).
struct SftConstraint {
  TokenConstraintOptions opts;
  TokenRefLogps train_ref, eval_ref;  // one entry per training / held-out example
};

// The chosen responses of preference pairs as SFT sequences: prompt + chosen, the chosen
// tokens the targets (what DPO's constrained RPO term reads, in pair order).
std::vector<SftExample> chosen_sequences(const std::vector<PreferenceExample>& pairs);

// What the DPO objective needs to constrain its RPO term (DpoOptions::token_constraint): the
// reference's log p of each chosen token, one entry per training / held-out pair.
struct DpoConstraint {
  TokenRefLogps train_chosen, eval_chosen;
};

}  // namespace cai::train
