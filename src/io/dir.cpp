// Atomic directory replacement (see include/cai/io/dir.h).
#include "cai/io/dir.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

namespace cai {

namespace fs = std::filesystem;

namespace {
fs::path sibling(const fs::path& dir, const char* suffix) {
  return dir.parent_path() / (dir.filename().string() + suffix);
}
}  // namespace

void fsync_dir(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // best effort: the data files themselves were synced
  ::fsync(fd);
  ::close(fd);
}

void recover_dir(const fs::path& dir) {
  const fs::path old = sibling(dir, ".old");
  if (!fs::exists(dir) && fs::exists(old)) fs::rename(old, dir);
}

void replace_dir(const fs::path& tmp, const fs::path& dir) {
  recover_dir(dir);
  if (!fs::exists(dir)) {
    fs::rename(tmp, dir);
  } else if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, dir.c_str(), RENAME_EXCHANGE) == 0) {
    fs::remove_all(tmp);  // now the previous directory
  } else {
    // Filesystems without RENAME_EXCHANGE: move the old one aside first (recover_dir() undoes
    // a crash between the two renames).
    const fs::path old = sibling(dir, ".old");
    fs::remove_all(old);
    fs::rename(dir, old);
    fs::rename(tmp, dir);
    fs::remove_all(old);
  }
  fsync_dir(dir.parent_path().empty() ? fs::path(".") : dir.parent_path());
}

void write_dir_atomic(const fs::path& dir, const std::function<void(const fs::path&)>& fill) {
  const fs::path tmp = sibling(dir, ".tmp");
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  try {
    fill(tmp);
  } catch (...) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    throw;
  }
  replace_dir(tmp, dir);
}

}  // namespace cai
