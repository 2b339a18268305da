#include "cai/io/file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <sstream>

#include "cai/io/error.h"

namespace cai {
namespace fs = std::filesystem;

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw_error("{}: cannot open for reading: {}", path.string(), std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw_error("{}: read failed", path.string());
  return std::move(ss).str();
}

namespace {
std::atomic<std::int64_t> g_bytes_left{-1};
std::atomic<int> g_open_errno{0};

fs::path temp_path_for(const fs::path& path) {
  static std::atomic<unsigned> counter{0};
  return path.string() + fmt::format(".{}.{}.tmp", ::getpid(), counter++);
}
}  // namespace

namespace {
// The writer's pid when `name` is one of temp_path_for's names, else 0.
pid_t temporary_owner(const std::string& name) {
  if (!name.ends_with(".tmp")) return 0;
  const std::string stem = name.substr(0, name.size() - 4);
  const auto dot_n = stem.rfind('.');
  if (dot_n == std::string::npos || dot_n == 0) return 0;
  const auto dot_pid = stem.rfind('.', dot_n - 1);
  if (dot_pid == std::string::npos) return 0;
  const std::string pid = stem.substr(dot_pid + 1, dot_n - dot_pid - 1);
  const std::string n = stem.substr(dot_n + 1);
  auto digits = [](const std::string& t) {
    return !t.empty() && t.size() < 10 && t.find_first_not_of("0123456789") == std::string::npos;
  };
  if (!digits(pid) || !digits(n)) return 0;
  return static_cast<pid_t>(std::stol(pid));
}

bool running(pid_t pid) { return pid == ::getpid() || ::kill(pid, 0) == 0 || errno == EPERM; }
}  // namespace

std::size_t remove_stale_temporaries(const fs::path& dir, bool recursive) {
  std::size_t removed = 0;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return 0;
  auto visit = [&](const fs::directory_entry& e) {
    if (!e.is_regular_file(ec)) return;
    const pid_t pid = temporary_owner(e.path().filename().string());
    if (pid > 0 && !running(pid) && fs::remove(e.path(), ec)) ++removed;
  };
  if (recursive) {
    for (const auto& e : fs::recursive_directory_iterator(dir, ec)) visit(e);
  } else {
    for (const auto& e : fs::directory_iterator(dir, ec)) visit(e);
  }
  return removed;
}

void set_write_fault(const WriteFault& fault) {
  g_bytes_left = fault.bytes_left;
  g_open_errno = fault.open_errno;
}

namespace detail {

long write_all(int fd, const void* data, std::size_t n) {
  const char* p = static_cast<const char*>(data);
  std::size_t done = 0;
  while (done < n) {
    std::size_t want = n - done;
    const std::int64_t left = g_bytes_left.load();
    if (left == 0) {
      errno = ENOSPC;
      return -1;
    }
    if (left > 0) want = std::min<std::size_t>(want, static_cast<std::size_t>(left));
    const ssize_t w = ::write(fd, p + done, want);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (left > 0) g_bytes_left -= w;
    done += static_cast<std::size_t>(w);
  }
  return static_cast<long>(done);
}

int open_for_write(const char* path, int flags) {
  if (const int e = g_open_errno.load(); e != 0) {
    errno = e;
    return -1;
  }
  return ::open(path, flags, 0644);
}

}  // namespace detail

void write_file_atomic(const fs::path& path, std::string_view data) {
  AtomicFile f(path);
  f.write(data);
  f.commit();
}

AtomicFile::AtomicFile(fs::path path) : path_(std::move(path)), tmp_(temp_path_for(path_)) {
  if (path_.has_parent_path()) fs::create_directories(path_.parent_path());
  fd_ = detail::open_for_write(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC);
  if (fd_ < 0) throw_error("{}: cannot create: {}", tmp_.string(), std::strerror(errno));
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) {
    std::error_code ec;
    fs::remove(tmp_, ec);
  }
}

void AtomicFile::write(const void* data, std::size_t n) {
  // The temporary is removed by the destructor when the caller unwinds, so a failed write
  // (a full disk) leaves no half file behind, under either name.
  if (detail::write_all(fd_, data, n) < 0)
    throw_error("{}: write failed: {}", path_.string(), std::strerror(errno));
  written_ += n;
}

void AtomicFile::commit() {
  if (::fsync(fd_) != 0) throw_error("{}: fsync failed: {}", path_.string(), std::strerror(errno));
  ::close(fd_);
  fd_ = -1;
  if (::rename(tmp_.c_str(), path_.c_str()) != 0)
    throw_error("{}: rename failed: {}", path_.string(), std::strerror(errno));
  committed_ = true;
  // The rename itself made durable: a stage is marked done only after its outputs are.
  const fs::path dir = path_.has_parent_path() ? path_.parent_path() : fs::path(".");
  if (const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

MappedFile::MappedFile(const fs::path& path) : path_(path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw_error("{}: cannot open: {}", path.string(), std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    throw_error("{}: cannot stat: {}", path.string(), std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw_error("{}: not a regular file", path.string());
  }
  size_ = static_cast<std::size_t>(st.st_size);
  if (size_ > 0) {
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      ::close(fd);
      throw_error("{}: mmap failed: {}", path.string(), std::strerror(errno));
    }
    data_ = static_cast<const std::uint8_t*>(p);
  }
  ::close(fd);
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<std::uint8_t*>(data_), size_);
}

}  // namespace cai
