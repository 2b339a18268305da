// LoRA's options (lora.h attaches and merges the adapters), apart from libtorch so that
// configs hold them without it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cai/io/options.h"

namespace cai::train {

struct LoraOptions {
  std::int64_t rank = 0;
  double alpha = 16.0;
  double dropout = 0.05;
  std::vector<std::string> target_modules = {"q_proj", "v_proj"};

  static void fields(opt::Fields<LoraOptions>& f) {
    using O = LoraOptions;
    f("rank", &O::rank, "adapter rank r: rows of A, columns of B (0: full fine-tuning)",
      opt::min(0))
        .alias("r");
    f("alpha", &O::alpha, "the update is scaled by alpha / rank", opt::above(0));
    f("dropout", &O::dropout, "dropout on the input of A, training only", opt::range(0, 1, "[)"));
    f("targets", &O::target_modules,
      "adapted projections: q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj");
  }
  void rules(opt::Rules& r) const;  // known target modules, each once, when rank > 0
  void validate() const { opt::validate(*this, "lora"); }
  bool enabled() const { return rank > 0; }
};

}  // namespace cai::train
