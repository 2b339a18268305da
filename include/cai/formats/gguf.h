// GGUF (llama.cpp's model file format, version 2 and 3): reading metadata and tensors with
// every offset and size checked against the file, and writing models llama.cpp loads (F32,
// F16, BF16 or any of the block types of ggml_quant.h).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cai/formats/dtype.h"
#include "cai/formats/ggml_quant.h"

namespace cai {
class MappedFile;
}

namespace cai::gguf {

enum class ValueType : std::uint32_t {
  U8 = 0,
  I8 = 1,
  U16 = 2,
  I16 = 3,
  U32 = 4,
  I32 = 5,
  F32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  U64 = 10,
  I64 = 11,
  F64 = 12,
};

// One metadata value. Scalars live in `i` (all integer types and bool), `f` or `s`;
// arrays keep their element type and the elements in `ints`, `floats`, `strings` or (for
// nested arrays) `items`.
struct Value {
  ValueType type = ValueType::U32;
  ValueType elem_type = ValueType::U32;  // arrays only
  std::int64_t i = 0;
  double f = 0.0;
  std::string s;
  std::vector<std::int64_t> ints;
  std::vector<double> floats;
  std::vector<std::string> strings;
  std::vector<Value> items;
  std::size_t size() const;  // array length (0 for scalars)
};

// GGML tensor types cai reads and writes (see ggml_quant.h; others are named in the error).
using TensorType = ggml::Type;

struct TensorInfo {
  std::string name;
  std::vector<std::int64_t> ne;  // GGML order: ne[0] is the fastest-varying dimension
  std::uint32_t type = 0;        // raw ggml type id
  std::uint64_t offset = 0;      // from the start of the data section
  std::uint64_t nbytes = 0;
  std::int64_t numel() const;
  // PyTorch order (reverse of ne): a 2-D matrix [rows, cols] has ne = {cols, rows}.
  std::vector<std::int64_t> shape() const;
};

class Reader {
 public:
  // Maps and parses `path`; throws cai::Error naming the file and the key or tensor at
  // fault for truncation, lying sizes or offsets, unknown types or bad alignment.
  explicit Reader(const std::filesystem::path& path);
  ~Reader();
  Reader(Reader&&) noexcept;

  const std::filesystem::path& path() const { return path_; }
  std::uint32_t version() const { return version_; }

  const std::map<std::string, Value>& metadata() const { return kv_; }
  const Value* find(const std::string& key) const;
  bool has(const std::string& key) const { return find(key) != nullptr; }
  // Typed getters throw "<file>: metadata key <key>: missing / expected ..." on mismatch.
  std::string get_string(const std::string& key) const;
  std::int64_t get_int(const std::string& key) const;  // any integer type or bool
  double get_float(const std::string& key) const;      // any numeric type
  bool get_bool(const std::string& key) const;
  std::optional<std::int64_t> get_int_opt(const std::string& key) const;
  std::optional<double> get_float_opt(const std::string& key) const;
  std::optional<std::string> get_string_opt(const std::string& key) const;
  const std::vector<std::string>& get_string_array(const std::string& key) const;
  std::vector<std::int64_t> get_int_array(const std::string& key) const;
  std::vector<double> get_float_array(const std::string& key) const;

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find_tensor(const std::string& name) const;
  // Dequantises/widens a tensor to F32 in GGML element order (row-major in shape()).
  std::vector<float> read_f32(const TensorInfo& t) const;
  // Raw bytes of a tensor (bounds already checked at open).
  const std::uint8_t* tensor_data(const TensorInfo& t) const;

 private:
  std::filesystem::path path_;
  std::unique_ptr<MappedFile> file_;
  std::uint32_t version_ = 0;
  std::map<std::string, Value> kv_;
  std::vector<TensorInfo> tensors_;
  std::uint64_t data_offset_ = 0;
};

// Builds a GGUF v3 file. Metadata keys keep insertion order; tensors are stored in any type of
// ggml_quant.h (converted from the F32 values given, or as encoded bytes) with 32-byte
// alignment.
class Writer {
 public:
  void set_string(const std::string& key, const std::string& v);
  void set_u32(const std::string& key, std::uint32_t v);
  void set_i32(const std::string& key, std::int32_t v);
  void set_u64(const std::string& key, std::uint64_t v);
  void set_f32(const std::string& key, float v);
  void set_bool(const std::string& key, bool v);
  void set_string_array(const std::string& key, const std::vector<std::string>& v);
  void set_f32_array(const std::string& key, const std::vector<float>& v);
  void set_i32_array(const std::string& key, const std::vector<std::int32_t>& v);
  // `shape` in PyTorch order; `data` holds numel F32 values in row-major order.
  void add_tensor(const std::string& name, const std::vector<std::int64_t>& shape,
                  const float* data, TensorType store_as);
  // A tensor already encoded as `type` (row_bytes(type, shape.back()) per row).
  void add_tensor_bytes(const std::string& name, const std::vector<std::int64_t>& shape,
                        TensorType type, std::vector<std::uint8_t> bytes);
  // Writes atomically (temp + rename).
  void write(const std::filesystem::path& path) const;

 private:
  struct KV {
    std::string key;
    Value value;
  };
  struct Pending {
    std::string name;
    std::vector<std::int64_t> shape;
    std::vector<std::uint8_t> bytes;
    TensorType type;
  };
  std::vector<KV> kv_;
  std::vector<Pending> tensors_;
};

}  // namespace cai::gguf
