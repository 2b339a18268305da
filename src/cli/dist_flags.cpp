// --nproc and --device (see dist_flags.h).
#include "dist_flags.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "cai/dist/dist.h"
#include "cai/dist/launch.h"
#include "cai/io/error.h"

namespace cai::cli {
namespace {
std::vector<std::string>& args() {
  static std::vector<std::string> a;
  return a;
}
}  // namespace

void set_program_args(int argc, char** argv) { args().assign(argv, argv + argc); }
const std::vector<std::string>& program_args() { return args(); }

void add_dist_flags(CLI::App* cmd, DistFlags& f, bool device) {
  cmd->add_option("--nproc", f.nproc,
                  "Data-parallel ranks to start on this machine (under torchrun or Slurm the "
                  "environment's RANK / WORLD_SIZE decide)")
      ->capture_default_str();
  if (device)
    cmd->add_option("--device", f.device, "Where tensors live: cpu or cuda:N")
        ->capture_default_str();
  cmd->add_option("--dist-timeout", f.timeout, "Seconds a rank waits for the others before failing")
      ->capture_default_str();
}

void start_dist(DistFlags& f, int& threads) {
  CAI_CHECK(f.nproc >= 1, "--nproc must be >= 1, got {}", f.nproc);
  dist::DistOptions o = dist::options_from_env();
  if (f.nproc > 1 && o.world_size == 1) {
    const int rc = dist::launch_local(f.nproc, args());
    std::fflush(stderr);
    std::exit(rc);
  }
  CAI_CHECK(f.nproc == 1 || f.nproc == o.world_size,
            "--nproc {} disagrees with the job's WORLD_SIZE {} (leave --nproc out under "
            "torchrun or Slurm)",
            f.nproc, o.world_size);
  // Plain "cuda" is each rank's own GPU: the one of its local rank.
  if (f.device == "cuda") f.device = "cuda:" + std::to_string(o.local_rank);
  o.device = f.device;
  o.timeout_s = f.timeout;
  if (o.world_size > 1) dist::init_world(o);
  if (threads == 0 && o.world_size > 1) {
    // The ranks on this machine share its cores; each taking all of them thrashes OpenMP.
    int local = 1;
    if (const char* l = std::getenv("LOCAL_WORLD_SIZE")) local = std::max(1, std::atoi(l));
    const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    threads = std::max(1, cores / local);
  }
}

}  // namespace cai::cli
