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
