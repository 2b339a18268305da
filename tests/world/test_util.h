// Shared fixtures for the world tests: one world with the default options generated once per
// process.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <string>

#include "cai/world/world.h"

namespace cai::world::testutil {

inline std::filesystem::path tmpdir(const std::string& name) {
  std::filesystem::path d = std::filesystem::path(CAI_TEST_TMPDIR) / "world" / name;
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

// Default options, seed 1: the tests check the world that the demo uses. ctest runs every
// test in its own process, possibly in parallel, so the directory is per process and removed
// at exit.
inline const std::filesystem::path& default_world() {
  struct Dir {
    std::filesystem::path path;
    Dir() : path(tmpdir("default-seed-1-pid" + std::to_string(::getpid()))) {
      WorldOptions o;
      o.seed = 1;
      generate_world(o, path);
    }
    ~Dir() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  };
  static const Dir dir;
  return dir.path;
}

}  // namespace cai::world::testutil
