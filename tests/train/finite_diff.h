// Central finite differences for gradient checks in double precision.
#pragma once

#include <torch/torch.h>

#include <functional>

namespace cai::testing_util {

// (f(x + h) - f(x - h)) / 2h with x one entry of a tensor (a view such as t.view({-1})[e]);
// the entry is restored afterwards.
inline double central_difference(torch::Tensor entry, const std::function<double()>& f,
                                 double h = 1e-5) {
  const double orig = entry.item<double>();
  auto set = [&](double v) {
    torch::NoGradGuard ng;
    entry.fill_(v);
  };
  set(orig + h);
  const double up = f();
  set(orig - h);
  const double down = f();
  set(orig);
  return (up - down) / (2 * h);
}

}  // namespace cai::testing_util
