// safetensors: one file, or shards listed in model.safetensors.index.json. Headers are
// validated against the file (offsets in range, contiguous, sizes matching dtype x shape).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cai/formats/dtype.h"

namespace cai {
class MappedFile;
}

namespace cai::safetensors {

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<std::int64_t> shape;
  std::uint64_t begin = 0, end = 0;  // byte range within the data section
  std::int64_t numel() const;
};

class File {
 public:
  explicit File(const std::filesystem::path& path);
  ~File();
  File(File&&) noexcept;
  const std::filesystem::path& path() const { return path_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find(const std::string& name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // Widens the tensor to F32 (row-major); throws naming file and tensor on failure.
  std::vector<float> read_f32(const std::string& name) const;
  const std::uint8_t* data(const TensorInfo& t) const;

 private:
  std::filesystem::path path_;
  std::unique_ptr<MappedFile> file_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, std::string> metadata_;
  std::uint64_t data_offset_ = 0;
};

// All tensors of a checkpoint directory: `model.safetensors`, or the shards named by
// `model.safetensors.index.json` (every shard opened once; a tensor listed in the index but
// missing from its shard is an error naming both).
class Checkpoint {
 public:
  explicit Checkpoint(const std::filesystem::path& dir_or_file);
  std::vector<std::string> names() const;
  bool has(const std::string& name) const;
  const TensorInfo& info(const std::string& name) const;
  std::vector<float> read_f32(const std::string& name) const;
  // The tensor's bytes as stored (info(name) gives dtype and shape).
  const std::uint8_t* data(const std::string& name) const;
  const std::filesystem::path& file_of(const std::string& name) const;

 private:
  std::vector<File> files_;
  std::map<std::string, std::size_t> where_;
};

struct TensorToWrite {
  std::string name;
  std::vector<std::int64_t> shape;
  const float* data = nullptr;  // numel F32 values, row-major
  DType store_as = DType::F32;  // F32, F16 or BF16
};

// Writes one safetensors file atomically, tensors sorted by name as the reference writer does.
void write(const std::filesystem::path& path, const std::vector<TensorToWrite>& tensors,
           const std::map<std::string, std::string>& metadata = {{"format", "pt"}});

// Writes shards of at most `max_shard_bytes` plus model.safetensors.index.json into `dir`
// (a single model.safetensors when everything fits).
void write_sharded(const std::filesystem::path& dir, const std::vector<TensorToWrite>& tensors,
                   std::uint64_t max_shard_bytes);

}  // namespace cai::safetensors
