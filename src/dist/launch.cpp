// The local launcher (see include/cai/dist/launch.h): fork/exec of the running binary, one
// child per rank, signals forwarded, the job's status the first failure's.
#include "cai/dist/launch.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "cai/io/error.h"
#include "cai/io/log.h"

namespace cai::dist {
namespace {

// The children, for the signal handler (async-signal-safe: plain reads and kill()).
constexpr int kMaxRanks = 256;
pid_t g_children[kMaxRanks];
std::atomic<int> g_count{0};

void forward_signal(int sig) {
  const int n = g_count.load();
  for (int i = 0; i < n; ++i)
    if (g_children[i] > 0) ::kill(g_children[i], sig);
}

int status_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

std::string describe(int status) {
  if (WIFEXITED(status)) return fmt::format("exited with status {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return fmt::format("was killed by signal {}", WTERMSIG(status));
  return "stopped";
}

}  // namespace

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  CAI_CHECK(fd >= 0, "--nproc: cannot open a socket to find a free port");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof(a);
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0;
  ::close(fd);
  CAI_CHECK(ok, "--nproc: cannot find a free port on 127.0.0.1");
  return ntohs(a.sin_port);
}

int launch_local(int nproc, const std::vector<std::string>& argv, double grace_s) {
  CAI_CHECK(nproc >= 1 && nproc <= kMaxRanks, "--nproc must be in 1..{}, got {}", kMaxRanks, nproc);
  CAI_CHECK(!argv.empty(), "launch_local: no arguments");
  char self[4096];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  CAI_CHECK(n > 0, "--nproc: cannot find the running program (/proc/self/exe)");
  self[n] = '\0';
  const int port = free_port();

  struct sigaction sa {};
  sa.sa_handler = forward_signal;
  sigemptyset(&sa.sa_mask);
  struct sigaction old_int {
  }, old_term{};
  ::sigaction(SIGINT, &sa, &old_int);
  ::sigaction(SIGTERM, &sa, &old_term);

  std::fflush(stdout);
  std::fflush(stderr);
  for (int r = 0; r < nproc; ++r) {
    const pid_t pid = ::fork();
    CAI_CHECK(pid >= 0, "--nproc: fork failed for rank {}", r);
    if (pid == 0) {
      // The child: the job's variables, then this program again.
      const std::string rs = std::to_string(r), ws = std::to_string(nproc),
                        ps = std::to_string(port);
      ::setenv("RANK", rs.c_str(), 1);
      ::setenv("LOCAL_RANK", rs.c_str(), 1);
      ::setenv("WORLD_SIZE", ws.c_str(), 1);
      ::setenv("LOCAL_WORLD_SIZE", ws.c_str(), 1);
      ::setenv("MASTER_ADDR", "127.0.0.1", 1);
      ::setenv("MASTER_PORT", ps.c_str(), 1);
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execv(self, args.data());
      std::fprintf(stderr, "cai: --nproc: cannot execute %s\n", self);
      ::_exit(127);
    }
    g_children[r] = pid;
    g_count.store(r + 1);
  }

  // Wait for all; the first failure stops the rest.
  int result = 0, alive = nproc;
  bool stopping = false;
  auto t_stop = std::chrono::steady_clock::now();
  bool killed = false;
  while (alive > 0) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid == 0 || (pid < 0 && errno == EINTR)) {
      if (stopping && !killed &&
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t_stop).count() >
              grace_s) {
        forward_signal(SIGKILL);
        killed = true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    if (pid < 0) break;  // no children left
    int rank = -1;
    for (int r = 0; r < nproc; ++r)
      if (g_children[r] == pid) {
        rank = r;
        g_children[r] = -1;
      }
    if (rank < 0) continue;
    --alive;
    if (status_code(status) != 0 && !stopping) {
      log_warning("--nproc: rank {} {}; stopping the other ranks", rank, describe(status));
      result = status_code(status);
      stopping = true;
      t_stop = std::chrono::steady_clock::now();
      forward_signal(SIGTERM);
    }
  }
  g_count.store(0);
  ::sigaction(SIGINT, &old_int, nullptr);
  ::sigaction(SIGTERM, &old_term, nullptr);
  return result;
}

}  // namespace cai::dist
