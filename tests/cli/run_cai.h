// Runs the `cai` binary under test with arguments, for end-to-end tests of the command line.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace cai::testing_util {

struct CmdResult {
  int code;         // exit status (-1 when killed by a signal)
  std::string out;  // stdout and stderr together
};

inline CmdResult run_cai(const std::string& args) {
  const std::string cmd = std::string(CAI_BINARY) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  std::array<char, 4096> buf{};
  while (std::size_t n = fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  const int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

}  // namespace cai::testing_util
