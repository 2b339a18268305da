// `cai serve` as a subprocess for the tests that run the program: started with --port 0, its
// port read from the ready line ("listening on http://HOST:PORT"), killed when the test ends.
// Also the shell and JSONL helpers those tests share.
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

extern char** environ;

namespace cai::testing_util {

// Runs `cmd` through the shell; returns its exit code and (optionally) stdout + stderr.
inline int sh(const std::string& cmd, std::string* out = nullptr) {
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  std::string o;
  std::array<char, 4096> buf{};
  while (std::size_t n = fread(buf.data(), 1, buf.size(), p)) o.append(buf.data(), n);
  const int st = pclose(p);
  if (out) *out = o;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

// The JSON objects of a JSONL file, one per line that starts with '{'.
inline std::vector<nlohmann::json> read_jsonl(const std::filesystem::path& p) {
  std::vector<nlohmann::json> out;
  std::ifstream f(p);
  for (std::string l; std::getline(f, l);)
    if (!l.empty() && l[0] == '{') out.push_back(nlohmann::json::parse(l));
  return out;
}

// A constitution of two principles with short questions, for the tests that judge with the
// fixture model (its context is short).
inline void write_short_constitution(const std::filesystem::path& path) {
  std::ofstream c(path);
  c << "name: short\nprinciples:\n"
       "  - name: kind\n    critique: Is it unkind?\n    revision: Make it kind.\n"
       "    comparison: Which is kinder?\n"
       "  - name: brief\n    critique: Is it long?\n    revision: Make it brief.\n"
       "    comparison: Which is briefer?\n";
}

class ServeProcess {
 public:
  // `args`: what follows `cai serve` (the model first); --port 0 is added.
  explicit ServeProcess(std::vector<std::string> args) {
    args.insert(args.begin(), {CAI_BINARY, "serve"});
    args.insert(args.end(), {"--port", "0"});
    int fds[2];
    EXPECT_EQ(pipe(fds), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    EXPECT_EQ(posix_spawn(&pid_, CAI_BINARY, &fa, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    out_ = fdopen(fds[0], "r");
    // Blocks until the ready line, or until the program exits (port stays 0).
    char line[512];
    while (fgets(line, sizeof line, out_)) {
      const std::string s = line;
      if (s.find("listening on http://") == std::string::npos) continue;
      port = std::stoi(s.substr(s.rfind(':') + 1));
      break;
    }
  }
  ~ServeProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (out_) fclose(out_);
  }
  ServeProcess(const ServeProcess&) = delete;
  ServeProcess& operator=(const ServeProcess&) = delete;

  // Sends `sig` and returns the exit code (-1 when killed by a signal).
  int signal_and_wait(int sig) {
    kill(pid_, sig);
    int st = 0;
    waitpid(pid_, &st, 0);
    pid_ = -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port) + "/v1"; }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(std::chrono::seconds(120));
    return c;
  }

  int port = 0;

 private:
  pid_t pid_ = -1;
  FILE* out_ = nullptr;
};

}  // namespace cai::testing_util
