// `cai bench dist`: all-reduce time and bandwidth over the job's ranks (run it with --nproc N,
// or under torchrun / Slurm), for float32 tensors of the given sizes: what the gradient
// synchronisation of data-parallel training costs per step.
//
// algbw = bytes / time; busbw = algbw * 2 (W - 1) / W, the bytes each rank's link carries in a
// ring all-reduce (the convention of NCCL's own tests), comparable across world sizes.
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "cai/dist/dist.h"
#include "cai/io/error.h"
#include "cai/model/llama.h"
#include "command.h"
#include "dist_flags.h"

namespace cai::cli {
namespace cmd_bench_dist {

struct BenchDistFlags {
  std::vector<double> sizes_mb = {1, 4, 16, 64, 100};
  int iters = 10;  // timed all-reduces per size, after one warm-up
  int threads = 0;
  DistFlags dist;
};

void run(BenchDistFlags& f) {
  start_dist(f.dist, f.threads);
  set_torch_threads(f.threads);
  CAI_CHECK(f.iters >= 1, "--iters must be >= 1, got {}", f.iters);
  dist::ProcessGroup& pg = dist::world();
  CAI_CHECK(pg.size() > 1, "bench dist: needs several ranks (--nproc N, or torchrun / Slurm)");
  const double W = pg.size();
  if (pg.rank() == 0)
    std::printf(
        "all-reduce, %d ranks (Gloo over TCP), float32, median of %d\n%10s %12s %12s %12s\n",
        pg.size(), f.iters, "MB", "ms", "algbw GB/s", "busbw GB/s");
  for (double mb : f.sizes_mb) {
    CAI_CHECK(mb > 0, "--sizes-mb: sizes must be > 0, got {}", mb);
    const auto n = static_cast<std::int64_t>(mb * 1e6 / 4);
    auto t = torch::ones({n});
    pg.all_reduce_sum(t);  // warm-up: connections, buffers
    std::vector<double> ms;
    for (int i = 0; i < f.iters; ++i) {
      pg.barrier();
      const auto t0 = std::chrono::steady_clock::now();
      pg.all_reduce_sum(t);
      ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    const double med = ms[ms.size() / 2], bytes = static_cast<double>(n) * 4;
    const double algbw = bytes / (med / 1e3) / 1e9;
    if (pg.rank() == 0)
      std::printf("%10.1f %12.2f %12.3f %12.3f\n", bytes / 1e6, med, algbw,
                  algbw * 2 * (W - 1) / W);
  }
  std::fflush(stdout);
}

const Registrar reg(94, [](CLI::App& root) {
  CLI::App* bench = group(root, "bench", "Benchmarks");
  auto f = std::make_shared<BenchDistFlags>();
  CLI::App* c = bench->add_subcommand(
      "dist", "All-reduce time and bandwidth between data-parallel ranks (use --nproc 2)");
  c->add_option("--sizes-mb", f->sizes_mb, "Tensor sizes in MB (10^6 bytes)")
      ->delimiter(',')
      ->capture_default_str();
  c->add_option("--iters", f->iters, "Timed all-reduces per size")->capture_default_str();
  c->add_option("--threads", f->threads, "Intra-op threads (0 = the rank's share of the cores)")
      ->capture_default_str();
  add_dist_flags(c, f->dist);
  c->callback([f] { run(*f); });
});

}  // namespace cmd_bench_dist
}  // namespace cai::cli
