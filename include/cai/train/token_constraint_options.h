// The settings of the token-wise constrained objective (token_constraint.h, Qi et al. 2024),
// apart from the objective so that configs (the loop's) can hold them without libtorch.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>

namespace cai::train {

// The paper's defaults (and its code's): beta_1 = 0.5, beta_t = 2 for 2 <= t <= 5, 0.1 after.
struct TokenConstraintOptions {
  double beta = 0.1;              // beta_t after the first bias_length tokens
  double first_token_bias = 5.0;  // beta_1 = beta * first_token_bias
  double bias = 20.0;             // beta_t = beta * bias for 2 <= t <= bias_length
  std::int64_t bias_length = 5;   // tokens with a biased beta (0: beta everywhere)
  void validate() const;          // throws cai::Error naming the field
  nlohmann::json to_json() const;
};

}  // namespace cai::train
