// Whole-file reads, atomic writes and read-only memory maps.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

namespace cai {

// Reads a whole file; throws cai::Error naming the path when it cannot.
std::string read_file(const std::filesystem::path& path);

// Writes `data` to `path` atomically: a temporary file beside it, fsync, then rename, so a
// reader (or a killed run) sees either the old file or the new one, never half of one.
void write_file_atomic(const std::filesystem::path& path, std::string_view data);

// Removes the temporaries of write_file_atomic / AtomicFile ("<file>.<pid>.<n>.tmp") that a
// killed process left in `dir` (and its subfolders when `recursive`): those whose process is
// no longer running. Returns how many were removed.
std::size_t remove_stale_temporaries(const std::filesystem::path& dir, bool recursive = true);

// Streams into a temporary file beside `path`; commit() renames it into place, and the
// destructor removes the temporary when commit() was never called.
class AtomicFile {
 public:
  explicit AtomicFile(std::filesystem::path path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, std::size_t n);
  void write(std::string_view s) { write(s.data(), s.size()); }
  std::uint64_t bytes_written() const { return written_; }
  void commit();

 private:
  std::filesystem::path path_, tmp_;
  int fd_ = -1;
  std::uint64_t written_ = 0;
  bool committed_ = false;
};

// Fault injection for tests of a full disk and an unwritable folder: the writes of this file
// layer (AtomicFile, write_file_atomic, JsonlWriter) fail with ENOSPC, as a full disk's do,
// once `bytes_left` more bytes have been written (-1: never), and opening a file for writing
// fails with `open_errno` (0: never). Process-wide; reset by passing WriteFault{}.
struct WriteFault {
  std::int64_t bytes_left = -1;
  int open_errno = 0;
};
void set_write_fault(const WriteFault& fault);

namespace detail {
// write(2) of all `n` bytes through the fault hook, retrying on EINTR; -1 with errno set on a
// failure (bytes before it may have been written, as with a real full disk).
long write_all(int fd, const void* data, std::size_t n);
// open(2) for writing through the fault hook.
int open_for_write(const char* path, int flags);
}  // namespace detail

// A read-only memory map of a whole file. Bounds are the caller's job: use bytes().
class MappedFile {
 public:
  explicit MappedFile(const std::filesystem::path& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::uint8_t* data() const { return data_; }
  std::size_t size() const { return size_; }
  std::span<const std::uint8_t> bytes() const { return {data_, size_}; }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  const std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace cai
