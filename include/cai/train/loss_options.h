// The preference losses' options (losses.h implements them, objectives.h trains with them),
// apart from libtorch so that configs hold them without it.
#pragma once

#include <array>
#include <string>

#include "cai/io/options.h"
#include "cai/train/token_constraint_options.h"

namespace cai::train {

// ---- Reward model: Bradley-Terry with soft labels -------------------------------------------
// d = r_chosen - r_rejected, m = margin;
//   loss_b = -[p log sigmoid(d - m) + (1 - p) log sigmoid(-d - m)]
// (Bradley & Terry 1952; Ouyang et al. 2022 eq. 1; the margin as in Llama 2, Touvron et al.
// 2023 eq. 2: the preferred side must win by m, so with p = 1 it is TRL's RewardTrainer loss),
// plus centering_coef * (r_chosen + r_rejected)^2 (Eisenstein et al. 2023, TRL's
// center_rewards_coefficient). Inputs [B]; returns per-pair losses [B].
struct RmLossOptions {
  double margin = 0.0;
  double centering_coef = 0.0;
  static void fields(opt::Fields<RmLossOptions>& f) {
    f("margin", &RmLossOptions::margin, "fixed margin the chosen reward must win by", opt::min(0));
    f("center_rewards", &RmLossOptions::centering_coef,
      "reward-centering coefficient (TRL suggests ~0.01)", opt::min(0));
  }
  void validate() const { opt::validate(*this, "rm loss"); }
};

// ---- DPO (Rafailov et al. 2023) and variants ------------------------------------------------
// h = (pi_c - ref_c) - (pi_r - ref_r), the difference of implicit rewards / beta, with p the
// per-example soft label after label smoothing eps: p' = p (1 - eps) + (1 - p) eps.
//   sigmoid:  -[p' log sigmoid(beta h) + (1 - p') log sigmoid(-beta h)]    (DPO eq. 7; with
//             eps > 0 the conservative cDPO of Mitchell 2023)
//   robust:   [(1 - eps) l(p) - eps l(1 - p)] / (1 - 2 eps), l(p) the soft sigmoid loss with
//             label p (Chowdhury et al. 2024, rDPO eq. 8), eps < 0.5
//   ipo:      (h - (p - 1/2) / beta)^2  (Azar et al. 2023 eq. 17; p = 1 gives 1/(2 beta))
//   hinge:    p relu(1 - beta h) + (1 - p) relu(1 + beta h)  (SLiC, Zhao et al. 2023)
// label_smoothing applies to sigmoid and robust only (validate() refuses it elsewhere).
// Returned rewards are beta (pi - ref) for chosen and rejected, detached.
enum class DpoLossType { sigmoid, robust, ipo, hinge };
constexpr std::array<opt::EnumName<DpoLossType>, 4> enum_names(DpoLossType) {
  return {{{DpoLossType::sigmoid, "sigmoid"},
           {DpoLossType::robust, "robust"},
           {DpoLossType::ipo, "ipo"},
           {DpoLossType::hinge, "hinge"}}};
}
inline const char* to_string(DpoLossType t) { return opt::name_of(t).data(); }

struct DpoLossOptions {
  DpoLossType type = DpoLossType::sigmoid;
  double beta = 0.1;
  double label_smoothing = 0.0;
  static void fields(opt::Fields<DpoLossOptions>& f) {
    f("loss", &DpoLossOptions::type, "the preference loss");
    f("beta", &DpoLossOptions::beta, "DPO's beta: the strength of the KL to the reference",
      opt::above(0));
    f("label_smoothing", &DpoLossOptions::label_smoothing,
      "label noise eps (sigmoid and robust losses)", opt::range(0, 0.5, "[)"));
  }
  void rules(opt::Rules& r) const {
    r.require(label_smoothing == 0 || type == DpoLossType::sigmoid || type == DpoLossType::robust,
              "label_smoothing",
              fmt::format("applies to the sigmoid and robust losses, not {}", to_string(type)));
  }
  void validate() const { opt::validate(*this, "dpo loss"); }
};

// DPO's objective: its loss and the RPO term. The RPO term is the chosen response's mean token
// NLL, or with token_constraint the mean of the token-wise constrained objective of Qi et al.
// 2024 (token_constraint.h) towards DPO's reference: a chosen token stops pulling once the
// policy predicts it better than the reference, on a response's first tokens almost at once.
// As every beta_t -> 0 that term is the NLL again, up to a constant.
struct DpoOptions {
  DpoLossOptions loss;
  double rpo_alpha = 0.0;
  bool token_constraint = false;
  TokenConstraintOptions constraint;
  static void fields(opt::Fields<DpoOptions>& f) {
    using O = DpoOptions;
    f.flat(&O::loss);
    // Pang et al. 2024 "Iterative Reasoning Preference Optimization"; TRL's rpo_alpha.
    f("rpo_alpha", &O::rpo_alpha,
      "weight of the chosen response's mean token NLL added to the loss", opt::min(0));
    f("token_constraint", &O::token_constraint,
      "the RPO term is the token-wise constrained objective towards the reference (Qi et al. "
      "2024): each chosen token's -(2/beta_t) log sigmoid(beta_t log(p/p_ref)), beta_t largest "
      "on a response's first tokens");
    f("constraint", &O::constraint, "the constraint's beta_t");
  }
  void rules(opt::Rules& r) const {
    r.require(!token_constraint || rpo_alpha > 0, "token_constraint",
              "constrains the RPO term: it needs rpo_alpha > 0");
  }
  void validate() const { opt::validate(*this, "dpo"); }
};

}  // namespace cai::train
