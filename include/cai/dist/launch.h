// `--nproc N`: a job of N ranks on this machine, started the way torchrun starts one.
#pragma once

#include <string>
#include <vector>

namespace cai::dist {

// Runs `nproc` copies of this program (argv as given, argv[0] ignored: the running binary is
// executed) with RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR=127.0.0.1 and
// MASTER_PORT (a free port) set, forwarding SIGINT and SIGTERM to them. When one rank fails,
// the others are stopped (SIGTERM, then SIGKILL after `grace_s`). Returns 0 when every rank
// exited 0, else the exit status of the first that failed (128 + signal when killed), after
// printing which rank it was to stderr.
int launch_local(int nproc, const std::vector<std::string>& argv, double grace_s = 10.0);

// A TCP port on 127.0.0.1 that was free a moment ago (the kernel's pick).
int free_port();

}  // namespace cai::dist
