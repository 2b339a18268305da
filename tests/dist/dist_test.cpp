// The distributed module: the job's shape from the environment, shares of a range, and real
// collectives between processes over loopback. Multi-process cases run this test binary
// again as workers (CAI_DIST_TEST_WORKER names the scenario; the hook below runs it before
// GoogleTest's main), each worker checking its results against values worked out by hand.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <torch/torch.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "cai/dist/dist.h"
#include "cai/dist/grad_sync.h"
#include "cai/dist/launch.h"
#include "cai/io/error.h"

extern char** environ;

namespace {

using cai::dist::DistOptions;
using cai::dist::ProcessGroup;
using Clock = std::chrono::steady_clock;
using Range = std::pair<std::int64_t, std::int64_t>;

// ---- workers ------------------------------------------------------------------------------

#define WORKER_EXPECT(cond)                                                                 \
  do {                                                                                      \
    if (!(cond)) {                                                                          \
      std::fprintf(stderr, "worker rank %d: %s failed (line %d)\n", rank, #cond, __LINE__); \
      return 1;                                                                             \
    }                                                                                       \
  } while (0)

int collectives_worker() {
  DistOptions o = cai::dist::options_from_env();
  o.timeout_s = 30;
  cai::dist::init_world(o);
  ProcessGroup& pg = cai::dist::world();
  const int rank = pg.rank(), W = pg.size();
  const double tri = W * (W + 1) / 2.0;  // sum over ranks of (rank + 1)

  auto t = torch::full({5}, static_cast<float>(rank + 1));
  pg.all_reduce_sum(t);
  WORKER_EXPECT(t.eq(static_cast<float>(tri)).all().item<bool>());

  auto b = rank == 0 ? torch::arange(4, torch::kFloat64) : torch::zeros({4}, torch::kFloat64);
  pg.broadcast(b);
  WORKER_EXPECT(b.equal(torch::arange(4, torch::kFloat64)));

  // Rank r sends r + 1 values 10 r, 10 r + 1, ...
  const auto parts = pg.all_gather(torch::arange(rank + 1, torch::kFloat64) + 10.0 * rank);
  WORKER_EXPECT(static_cast<int>(parts.size()) == W);
  for (int r = 0; r < W; ++r)
    WORKER_EXPECT(
        parts[static_cast<std::size_t>(r)].equal(torch::arange(r + 1, torch::kFloat64) + 10.0 * r));

  WORKER_EXPECT(cai::dist::broadcast_string(rank == 0 ? "from rank 0" : "other") == "from rank 0");
  WORKER_EXPECT(cai::dist::all_reduce_sum(0.5 * (rank + 1)) == 0.5 * tri);
  WORKER_EXPECT(cai::dist::all_true(true) && !cai::dist::all_true(rank != 0));

  // Rank 0's names decide; a name only rank 1 holds is dropped.
  std::map<std::string, double> m = rank == 0 ? std::map<std::string, double>{{"a", 1}, {"b", 2}}
                                              : std::map<std::string, double>{{"a", 10}, {"c", 5}};
  cai::dist::all_reduce_sums(m);
  WORKER_EXPECT(m.size() == 2 && m["a"] == 1 + 10.0 * (W - 1) && m["b"] == 2);

  // Gradients in buckets of 16 bytes (several per tensor set, mixed dtypes): p1's gradient
  // rank + 1 everywhere, p2's (rank + 1) * [0..6], p3's only on the last rank, p4's nowhere.
  auto p1 = torch::zeros({3, 4}).set_requires_grad(true);
  auto p2 = torch::zeros({7}, torch::kFloat64).set_requires_grad(true);
  auto p3 = torch::zeros({2}).set_requires_grad(true);
  auto p4 = torch::zeros({2}).set_requires_grad(true);
  p1.mutable_grad() = torch::full({3, 4}, static_cast<float>(rank + 1));
  p2.mutable_grad() = torch::arange(7, torch::kFloat64) * (rank + 1);
  if (rank == W - 1) p3.mutable_grad() = torch::full({2}, 5.0f);
  cai::dist::all_reduce_grads(pg, {p1, p2, p3, p4}, 16);
  WORKER_EXPECT(p1.grad().eq(static_cast<float>(tri)).all().item<bool>());
  WORKER_EXPECT(p2.grad().equal(torch::arange(7, torch::kFloat64) * tri));
  WORKER_EXPECT(p3.grad().defined() && p3.grad().eq(5.0f).all().item<bool>());
  WORKER_EXPECT(!p4.grad().defined());

  auto w1 = torch::full({3}, static_cast<float>(rank)), w2 = torch::full({2, 2}, rank * 2.0);
  cai::dist::broadcast_params(pg, {w1, w2});
  WORKER_EXPECT(w1.eq(0.0f).all().item<bool>() && w2.eq(0.0).all().item<bool>());
  pg.barrier();
  return 0;
}

// The last rank leaves (exit 3, or hangs in a sleep) right after the rendezvous; rank 0's
// next collective must fail with a clear error within the timeout, not wait forever.
int peer_lost_worker(bool hang) {
  DistOptions o = cai::dist::options_from_env();
  o.timeout_s = 3;
  cai::dist::init_world(o);
  ProcessGroup& pg = cai::dist::world();
  const int rank = pg.rank();
  if (rank == pg.size() - 1) {
    if (hang) std::this_thread::sleep_for(std::chrono::seconds(60));
    std::_Exit(3);
  }
  const auto t0 = Clock::now();
  try {
    for (int i = 0; i < 1000; ++i) {
      auto t = torch::ones({1024});
      pg.all_reduce_sum(t);
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  } catch (const cai::Error& e) {
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    std::fprintf(stderr, "rank %d failed after %.1f s: %s\n", rank, s, e.what());
    WORKER_EXPECT(std::string(e.what()).find("rank 0 of 2") != std::string::npos);
    WORKER_EXPECT(s < 20.0);
    return 0;
  }
  std::fprintf(stderr, "rank %d: no error though a peer left\n", rank);
  return 1;
}

int run_worker(const std::string& role) {
  try {
    if (role == "collectives") return collectives_worker();
    if (role == "exit") return peer_lost_worker(false);
    if (role == "hang") return peer_lost_worker(true);
    if (role == "fail") {  // for the launcher: rank 1 fails, rank 0 would run on for a minute
      if (cai::dist::options_from_env().rank == 1) return 3;
      std::this_thread::sleep_for(std::chrono::seconds(60));
      return 0;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "worker %s: %s\n", role.c_str(), e.what());
    return 2;
  }
  return 99;
}

// Runs before GoogleTest's main when this binary is a worker.
const int worker_hook = [] {
  if (const char* role = std::getenv("CAI_DIST_TEST_WORKER")) std::exit(run_worker(role));
  return 0;
}();

// ---- the parent's side ----------------------------------------------------------------------

std::string self_exe() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

// Starts one worker as `rank` of `world` with the job's variables set (as torchrun would).
pid_t spawn_rank(const std::string& role, int rank, int world, int port) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) env.emplace_back(*e);
  env.push_back("CAI_DIST_TEST_WORKER=" + role);
  env.push_back("RANK=" + std::to_string(rank));
  env.push_back("WORLD_SIZE=" + std::to_string(world));
  env.push_back("MASTER_ADDR=127.0.0.1");
  env.push_back("MASTER_PORT=" + std::to_string(port));
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string exe = self_exe();
  char* argv[] = {exe.data(), nullptr};
  pid_t pid = 0;
  EXPECT_EQ(::posix_spawn(&pid, exe.c_str(), nullptr, nullptr, argv, envp.data()), 0);
  return pid;
}

int wait_status(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST(DistEnv, TorchrunVariables) {
  std::map<std::string, std::string> env = {{"RANK", "1"},
                                            {"WORLD_SIZE", "4"},
                                            {"LOCAL_RANK", "1"},
                                            {"MASTER_ADDR", "10.1.2.3"},
                                            {"MASTER_PORT", "29999"}};
  const auto o = cai::dist::options_from_env([&](const char* n) -> const char* {
    auto it = env.find(n);
    return it == env.end() ? nullptr : it->second.c_str();
  });
  EXPECT_EQ(o.rank, 1);
  EXPECT_EQ(o.world_size, 4);
  EXPECT_EQ(o.local_rank, 1);
  EXPECT_EQ(o.master_addr, "10.1.2.3");
  EXPECT_EQ(o.master_port, 29999);
}

TEST(DistEnv, SlurmFallbackAndSingleProcess) {
  std::map<std::string, std::string> env = {
      {"SLURM_PROCID", "5"}, {"SLURM_NTASKS", "8"}, {"SLURM_LOCALID", "1"}};
  auto get = [&](const char* n) -> const char* {
    auto it = env.find(n);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  auto o = cai::dist::options_from_env(get);
  EXPECT_EQ(o.rank, 5);
  EXPECT_EQ(o.world_size, 8);
  EXPECT_EQ(o.local_rank, 1);
  env.clear();
  o = cai::dist::options_from_env(get);
  EXPECT_EQ(o.world_size, 1);
  EXPECT_EQ(o.rank, 0);
}

TEST(DistEnv, BadValuesNameTheVariable) {
  auto from = [](std::map<std::string, std::string> env) {
    return cai::dist::options_from_env([env](const char* n) -> const char* {
      auto it = env.find(n);
      return it == env.end() ? nullptr : it->second.c_str();
    });
  };
  try {
    from({{"RANK", "x1"}, {"WORLD_SIZE", "2"}});
    FAIL() << "no error";
  } catch (const cai::Error& e) {
    EXPECT_NE(std::string(e.what()).find("RANK=x1"), std::string::npos) << e.what();
  }
  EXPECT_THROW(from({{"RANK", "2"}, {"WORLD_SIZE", "2"}}), cai::Error);  // rank outside
  EXPECT_THROW(from({{"RANK", "0"}}), cai::Error);                       // no WORLD_SIZE
  EXPECT_THROW(from({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_PORT", "70000"}}), cai::Error);
}

TEST(DistShard, ContiguousAndCovering) {
  // 7 items over 3 ranks: 3, 2, 2.
  EXPECT_EQ(cai::dist::shard(7, 0, 3), Range(0, 3));
  EXPECT_EQ(cai::dist::shard(7, 1, 3), Range(3, 5));
  EXPECT_EQ(cai::dist::shard(7, 2, 3), Range(5, 7));
  // Fewer items than ranks: the first ranks get one each.
  EXPECT_EQ(cai::dist::shard(1, 0, 2), Range(0, 1));
  EXPECT_EQ(cai::dist::shard(1, 1, 2), Range(1, 1));
}

TEST(DistSingle, AGroupOfOneReturnsItsInput) {
  ProcessGroup& pg = cai::dist::world();
  ASSERT_EQ(pg.size(), 1);
  auto t = torch::full({3}, 2.0f);
  pg.all_reduce_sum(t);
  EXPECT_TRUE(t.eq(2.0f).all().item<bool>());
  EXPECT_EQ(cai::dist::all_reduce_sum(1.5), 1.5);
  EXPECT_TRUE(cai::dist::is_main());
}

TEST(DistProcesses, CollectivesOverLoopback) {
  const int port = cai::dist::free_port();
  const pid_t a = spawn_rank("collectives", 0, 2, port), b = spawn_rank("collectives", 1, 2, port);
  EXPECT_EQ(wait_status(a), 0);
  EXPECT_EQ(wait_status(b), 0);
}

TEST(DistProcesses, ARankThatExitsFailsTheOthers) {
  const int port = cai::dist::free_port();
  const pid_t a = spawn_rank("exit", 0, 2, port), b = spawn_rank("exit", 1, 2, port);
  EXPECT_EQ(wait_status(a), 0);  // rank 0 saw a clear error in time
  EXPECT_EQ(wait_status(b), 3);
}

TEST(DistProcesses, ARankThatHangsTimesOutTheOthers) {
  const int port = cai::dist::free_port();
  const pid_t a = spawn_rank("hang", 0, 2, port), b = spawn_rank("hang", 1, 2, port);
  EXPECT_EQ(wait_status(a), 0);  // the 3 s timeout fired
  ::kill(b, SIGKILL);
  wait_status(b);
}

TEST(DistLaunch, AllRanksSucceed) {
  ::setenv("CAI_DIST_TEST_WORKER", "collectives", 1);
  const int rc = cai::dist::launch_local(2, {"test_dist"});
  ::unsetenv("CAI_DIST_TEST_WORKER");
  EXPECT_EQ(rc, 0);
}

TEST(DistLaunch, OneFailureStopsTheJob) {
  ::setenv("CAI_DIST_TEST_WORKER", "fail", 1);
  const auto t0 = Clock::now();
  const int rc = cai::dist::launch_local(2, {"test_dist"}, /*grace_s=*/2.0);
  ::unsetenv("CAI_DIST_TEST_WORKER");
  EXPECT_EQ(rc, 3);
  // Rank 0 would sleep a minute: it was stopped.
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - t0).count(), 30.0);
}

}  // namespace
