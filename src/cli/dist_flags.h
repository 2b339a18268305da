// The flags of commands that train data-parallel (cai train sft|dpo|rm|rl, cai loop):
// --nproc N starts N local ranks of the same command, as torchrun would; under torchrun or
// Slurm the environment says which rank this process is (cai/dist/dist.h). --device picks
// where tensors live.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace cai::cli {

struct DistFlags {
  int nproc = 1;               // local ranks to start (1: this process alone, or the job's)
  std::string device = "cpu";  // cpu, cuda:N, or cuda (the GPU of the rank's LOCAL_RANK)
  double timeout = 300.0;      // seconds any rank waits for the others before failing
};

// `device`: also --device (commands whose every tensor follows it).
void add_dist_flags(CLI::App* cmd, DistFlags& f, bool device = true);

// Call first in the command's callback. With --nproc N > 1 outside a job: runs N ranks of this
// same command line and exits with their status (does not return). Inside a job: joins it,
// checks --nproc against WORLD_SIZE, turns --device cuda into cuda:LOCAL_RANK, and when
// `threads` is 0 (all cores) sets it to this rank's share of the machine's cores.
void start_dist(DistFlags& f, int& threads);

// The command line as main() received it (for --nproc to run it again).
void set_program_args(int argc, char** argv);
const std::vector<std::string>& program_args();

}  // namespace cai::cli
