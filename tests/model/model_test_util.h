// Helpers the model tests share.
#pragma once

#include <torch/torch.h>

#include <filesystem>

namespace cai::testing_util {

inline const std::filesystem::path kFixtures = CAI_FIXTURES_DIR;

inline double max_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

}  // namespace cai::testing_util
