// safetensors reading and writing (https://github.com/huggingface/safetensors): an 8-byte
// little-endian header length N, N bytes of JSON, then the tensor bytes. The header is
// untrusted: sizes, offsets and dtypes are validated against the file before any data is used.
#include "cai/formats/safetensors.h"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "cai/io/error.h"
#include "cai/io/file.h"

namespace cai::safetensors {

namespace fs = std::filesystem;
using nlohmann::json;

std::int64_t TensorInfo::numel() const {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

File::~File() = default;
File::File(File&&) noexcept = default;

namespace {

std::uint64_t get_uint(const json& j, const std::string& file, const std::string& name,
                       const char* what) {
  if (!j.is_number_unsigned())
    throw_error("{}: {} must be a non-negative integer, got {} (tensor '{}')", file, what, j.dump(),
                name);
  return j.get<std::uint64_t>();
}

TensorInfo parse_entry(const std::string& file, const std::string& name, const json& e,
                       std::uint64_t data_size) {
  if (!e.is_object() || !e.contains("dtype") || !e.contains("shape") ||
      !e.contains("data_offsets") || !e["dtype"].is_string() || !e["shape"].is_array() ||
      !e["data_offsets"].is_array() || e["data_offsets"].size() != 2)
    throw_error("{}: header entry needs dtype, shape and data_offsets [begin, end] (tensor '{}')",
                file, name);
  TensorInfo t;
  t.name = name;
  const std::string dt = e["dtype"].get<std::string>();
  try {
    t.dtype = parse_dtype(dt, file);
  } catch (const Error& err) {
    throw_error("{} (tensor '{}')", err.what(), name);
  }
  std::uint64_t numel = 1;
  for (const auto& d : e["shape"]) {
    const std::uint64_t n = get_uint(d, file, name, "shape dimension");
    if (n > static_cast<std::uint64_t>(INT64_MAX) || __builtin_mul_overflow(numel, n, &numel) ||
        numel > static_cast<std::uint64_t>(INT64_MAX))
      throw_error("{}: element count overflows (tensor '{}')", file, name);
    t.shape.push_back(static_cast<std::int64_t>(n));
  }
  t.begin = get_uint(e["data_offsets"][0], file, name, "data_offsets[0]");
  t.end = get_uint(e["data_offsets"][1], file, name, "data_offsets[1]");
  if (t.begin > t.end || t.end > data_size)
    throw_error("{}: data_offsets [{}, {}] outside the data section of {} bytes (tensor '{}')",
                file, t.begin, t.end, data_size, name);
  std::uint64_t want = 0;
  if (__builtin_mul_overflow(numel, dtype_size(t.dtype), &want) || want != t.end - t.begin)
    throw_error("{}: {} bytes for {} elements of {}, expected {} (tensor '{}')", file,
                t.end - t.begin, numel, dt, numel * dtype_size(t.dtype), name);
  return t;
}

}  // namespace

File::File(const fs::path& path) : path_(path) {
  file_ = std::make_unique<MappedFile>(path);
  const std::string p = path.string();
  const std::uint64_t size = file_->size();
  if (size < 8) throw_error("{}: truncated file: {} bytes, no header length", p, size);
  std::uint64_t n = 0;
  std::memcpy(&n, file_->data(), 8);
  if (n > size - 8) throw_error("{}: header length {} larger than the file ({} bytes)", p, n, size);
  data_offset_ = 8 + n;
  const std::uint64_t data_size = size - data_offset_;

  json header;
  try {
    header = json::parse(file_->data() + 8, file_->data() + 8 + n);
  } catch (const json::exception& e) {
    throw_error("{}: invalid JSON header: {}", p, e.what());
  }
  if (!header.is_object()) throw_error("{}: JSON header is not an object", p);

  for (const auto& [name, e] : header.items()) {
    if (name == "__metadata__") {
      if (!e.is_object()) throw_error("{}: __metadata__ is not an object", p);
      for (const auto& [k, v] : e.items()) {
        if (!v.is_string()) throw_error("{}: __metadata__ value is not a string (key '{}')", p, k);
        metadata_[k] = v.get<std::string>();
      }
      continue;
    }
    tensors_.push_back(parse_entry(p, name, e, data_size));
  }

  // Byte ranges tile the data section in file order: no overlap, no holes.
  std::sort(tensors_.begin(), tensors_.end(), [](const TensorInfo& a, const TensorInfo& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  std::uint64_t expect = 0;
  for (const auto& t : tensors_) {
    if (t.begin != expect)
      throw_error("{}: data_offsets begin at {}, expected {} (overlap or gap) (tensor '{}')", p,
                  t.begin, expect, t.name);
    expect = t.end;
  }
}

const TensorInfo* File::find(const std::string& name) const {
  for (const auto& t : tensors_)
    if (t.name == name) return &t;
  return nullptr;
}

const std::uint8_t* File::data(const TensorInfo& t) const {
  return file_->data() + data_offset_ + t.begin;
}

std::vector<float> File::read_f32(const std::string& name) const {
  const TensorInfo* t = find(name);
  if (!t) throw_error("{}: no such tensor (tensor '{}')", path_.string(), name);
  std::vector<float> out(static_cast<std::size_t>(t->numel()));
  convert_to_f32(t->dtype, data(*t), out.size(), out.data());
  return out;
}

}  // namespace cai::safetensors
