// cpu_kernels() and the memory bandwidth probe (see include/cai/model/cpu.h).
#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <vector>

#include "cai/model/cpu.h"
#include "cpu/cpu.h"

namespace cai {

const char* cpu_kernels() { return kernels::cpu::isa_name(kernels::cpu::table().isa); }

double measure_read_bandwidth(int threads) {
  // 256 MB: eight times the largest last-level caches of desktop and small server parts.
  constexpr std::size_t kBytes = std::size_t{256} << 20;
  const std::size_t n = kBytes / sizeof(std::uint64_t);
  std::vector<std::uint64_t> buf(n);
  for (std::size_t i = 0; i < n; ++i) buf[i] = i;  // touch every page before timing
  const int nt = threads > 0 ? threads : at::get_num_threads();
  double best = 0;
  volatile std::uint64_t sink = 0;
  for (int pass = 0; pass < 5; ++pass) {
    std::vector<std::uint64_t> part(static_cast<std::size_t>(nt), 0);
    const auto t0 = std::chrono::steady_clock::now();
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int t = 0; t < nt; ++t) {
      const std::size_t b = n * static_cast<std::size_t>(t) / static_cast<std::size_t>(nt),
                        e = n * static_cast<std::size_t>(t + 1) / static_cast<std::size_t>(nt);
      // Four independent sums so the loop is bound by loads, not by one addition chain.
      std::uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      std::size_t i = b;
      for (; i + 4 <= e; i += 4) {
        s0 += buf[i];
        s1 += buf[i + 1];
        s2 += buf[i + 2];
        s3 += buf[i + 3];
      }
      for (; i < e; ++i) s0 += buf[i];
      part[static_cast<std::size_t>(t)] = s0 + s1 + s2 + s3;
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (auto v : part) sink = sink + v;
    best = std::max(best, static_cast<double>(kBytes) / s / 1e9);
  }
  return best;
}

}  // namespace cai
