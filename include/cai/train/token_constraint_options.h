// The settings of the token-wise constrained objective (token_constraint.h, Qi et al. 2024),
// apart from the objective so that configs (the loop's) can hold them without libtorch.
#pragma once

#include <cstdint>

#include "cai/io/options.h"

namespace cai::train {

// The paper's defaults (and its code's): beta_1 = 0.5, beta_t = 2 for 2 <= t <= 5, 0.1 after.
struct TokenConstraintOptions {
  double beta = 0.1;
  double first_token_bias = 5.0;
  double bias = 20.0;
  std::int64_t bias_length = 5;

  static void fields(opt::Fields<TokenConstraintOptions>& f) {
    using O = TokenConstraintOptions;
    f("beta", &O::beta, "beta_t after the first bias_length tokens", opt::above(0));
    f("first_token_bias", &O::first_token_bias, "beta_1 = beta * first_token_bias", opt::above(0));
    f("bias", &O::bias, "beta_t = beta * bias for 2 <= t <= bias_length", opt::above(0));
    f("bias_length", &O::bias_length, "tokens with a biased beta (0: beta everywhere)",
      opt::min(0));
  }
  void validate() const { opt::validate(*this, "token constraint"); }
  nlohmann::json to_json() const { return opt::to_json(*this); }
};

}  // namespace cai::train
