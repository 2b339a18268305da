// GGUF v3 writer: header, metadata in insertion order, tensor infos, then each tensor's data
// padded to the alignment, streamed through AtomicFile so a killed run leaves no half file.
#include <cstring>

#include "cai/formats/gguf.h"
#include "cai/io/error.h"
#include "cai/io/file.h"
#include "gguf_internal.h"

namespace cai::gguf {

namespace {

template <typename T>
void put(std::string& out, T v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

void put_str(std::string& out, const std::string& s) {
  put<std::uint64_t>(out, s.size());
  out.append(s);
}

// Element `k` of an array value, or the scalar itself when `k` is npos.
void put_scalar(std::string& out, ValueType t, const Value& v, std::size_t k) {
  const bool arr = k != std::string::npos;
  const std::int64_t i = arr ? (k < v.ints.size() ? v.ints[k] : 0) : v.i;
  switch (t) {
    case ValueType::U32:
      put<std::uint32_t>(out, static_cast<std::uint32_t>(i));
      break;
    case ValueType::I32:
      put<std::int32_t>(out, static_cast<std::int32_t>(i));
      break;
    case ValueType::U64:
      put<std::uint64_t>(out, static_cast<std::uint64_t>(i));
      break;
    case ValueType::BOOL:
      put<std::uint8_t>(out, i ? 1 : 0);
      break;
    case ValueType::F32:
      put<float>(out, static_cast<float>(arr ? v.floats[k] : v.f));
      break;
    case ValueType::STRING:
      put_str(out, arr ? v.strings[k] : v.s);
      break;
    default:
      throw_error("gguf writer: unsupported value type {}", static_cast<unsigned>(t));
  }
}

void put_value(std::string& out, const Value& v) {
  put<std::uint32_t>(out, static_cast<std::uint32_t>(v.type));
  if (v.type != ValueType::ARRAY) return put_scalar(out, v.type, v, std::string::npos);
  put<std::uint32_t>(out, static_cast<std::uint32_t>(v.elem_type));
  put<std::uint64_t>(out, v.size());
  for (std::size_t k = 0; k < v.size(); ++k) put_scalar(out, v.elem_type, v, k);
}

std::uint64_t align_up(std::uint64_t n, std::uint64_t a) { return (n + a - 1) / a * a; }

// Re-setting a key replaces it in place so it keeps its original position. A template so the
// private KV list can be passed without naming its type.
template <typename KVs>
void upsert(KVs& kvs, const std::string& key, Value v) {
  for (auto& e : kvs)
    if (e.key == key) {
      e.value = std::move(v);
      return;
    }
  kvs.push_back({key, std::move(v)});
}

Value scalar(ValueType t) {
  Value v;
  v.type = t;
  return v;
}

Value array(ValueType elem) {
  Value v;
  v.type = ValueType::ARRAY;
  v.elem_type = elem;
  return v;
}

}  // namespace

void Writer::set_string(const std::string& key, const std::string& s) {
  Value v = scalar(ValueType::STRING);
  v.s = s;
  upsert(kv_, key, std::move(v));
}
void Writer::set_u32(const std::string& key, std::uint32_t x) {
  Value v = scalar(ValueType::U32);
  v.i = x;
  upsert(kv_, key, std::move(v));
}
void Writer::set_i32(const std::string& key, std::int32_t x) {
  Value v = scalar(ValueType::I32);
  v.i = x;
  upsert(kv_, key, std::move(v));
}
void Writer::set_u64(const std::string& key, std::uint64_t x) {
  Value v = scalar(ValueType::U64);
  v.i = static_cast<std::int64_t>(x);
  upsert(kv_, key, std::move(v));
}
void Writer::set_f32(const std::string& key, float x) {
  Value v = scalar(ValueType::F32);
  v.f = x;
  upsert(kv_, key, std::move(v));
}
void Writer::set_bool(const std::string& key, bool x) {
  Value v = scalar(ValueType::BOOL);
  v.i = x ? 1 : 0;
  upsert(kv_, key, std::move(v));
}
void Writer::set_string_array(const std::string& key, const std::vector<std::string>& xs) {
  Value v = array(ValueType::STRING);
  v.strings = xs;
  upsert(kv_, key, std::move(v));
}
void Writer::set_f32_array(const std::string& key, const std::vector<float>& xs) {
  Value v = array(ValueType::F32);
  v.floats.assign(xs.begin(), xs.end());
  upsert(kv_, key, std::move(v));
}
void Writer::set_i32_array(const std::string& key, const std::vector<std::int32_t>& xs) {
  Value v = array(ValueType::I32);
  v.ints.assign(xs.begin(), xs.end());
  upsert(kv_, key, std::move(v));
}

namespace {

// Checks a new tensor's name and shape; returns its element count.
std::size_t check_new_tensor(const std::vector<std::string>& names, const std::string& name,
                             const std::vector<std::int64_t>& shape) {
  for (const auto& n : names) CAI_CHECK(n != name, "gguf writer: duplicate tensor '{}'", name);
  CAI_CHECK(!shape.empty() && shape.size() <= 4, "gguf writer: tensor '{}' has {} dims (1..4)",
            name, shape.size());
  std::size_t n = 1;
  for (auto d : shape) {
    CAI_CHECK(d > 0, "gguf writer: tensor '{}' has dimension {}", name, d);
    n *= static_cast<std::size_t>(d);
  }
  return n;
}

// Bytes of one row (the last dimension) of `type`, naming the tensor when the row does not
// split into whole blocks.
std::size_t tensor_row_bytes(const std::string& name, const std::vector<std::int64_t>& shape,
                             TensorType type) {
  const ggml::TypeTraits& tr = ggml::traits(type);
  CAI_CHECK(shape.back() % tr.block == 0,
            "gguf writer: tensor '{}': {} needs a row length that is a multiple of {}, got {}",
            name, tr.name, tr.block, shape.back());
  return ggml::row_bytes(type, shape.back());
}

}  // namespace

void Writer::add_tensor(const std::string& name, const std::vector<std::int64_t>& shape,
                        const float* data, TensorType store_as) {
  std::vector<std::string> names;
  for (const auto& t : tensors_) names.push_back(t.name);
  const std::size_t n = check_new_tensor(names, name, shape);
  const std::size_t rb = tensor_row_bytes(name, shape, store_as);
  const auto cols = static_cast<std::size_t>(shape.back());
  Pending p{name, shape, std::vector<std::uint8_t>(n / cols * rb), store_as};
  for (std::size_t r = 0; r < n / cols; ++r)
    ggml::quantize_row(store_as, data + r * cols, p.bytes.data() + r * rb,
                       static_cast<std::int64_t>(cols));
  tensors_.push_back(std::move(p));
}

void Writer::add_tensor_bytes(const std::string& name, const std::vector<std::int64_t>& shape,
                              TensorType type, std::vector<std::uint8_t> bytes) {
  std::vector<std::string> names;
  for (const auto& t : tensors_) names.push_back(t.name);
  const std::size_t n = check_new_tensor(names, name, shape);
  const std::size_t want =
      n / static_cast<std::size_t>(shape.back()) * tensor_row_bytes(name, shape, type);
  CAI_CHECK(bytes.size() == want, "gguf writer: tensor '{}': {} bytes, {} needs {}", name,
            bytes.size(), ggml::traits(type).name, want);
  tensors_.push_back(Pending{name, shape, std::move(bytes), type});
}

void Writer::write(const std::filesystem::path& path) const {
  std::uint64_t alignment = kDefaultAlignment;
  for (const auto& e : kv_)
    if (e.key == "general.alignment") {
      CAI_CHECK(
          e.value.type == ValueType::U32 && e.value.i > 0 && (e.value.i & (e.value.i - 1)) == 0,
          "{}: general.alignment must be a u32 power of two", path.string());
      alignment = static_cast<std::uint64_t>(e.value.i);
    }

  std::string head;
  head.append("GGUF", 4);
  put<std::uint32_t>(head, 3);
  put<std::uint64_t>(head, tensors_.size());
  put<std::uint64_t>(head, kv_.size());
  for (const auto& e : kv_) {
    put_str(head, e.key);
    put_value(head, e.value);
  }
  std::uint64_t offset = 0;
  for (const auto& t : tensors_) {
    put_str(head, t.name);
    put<std::uint32_t>(head, static_cast<std::uint32_t>(t.shape.size()));
    for (auto it = t.shape.rbegin(); it != t.shape.rend(); ++it) put<std::int64_t>(head, *it);
    put<std::uint32_t>(head, static_cast<std::uint32_t>(t.type));
    put<std::uint64_t>(head, offset);
    offset = align_up(offset + t.bytes.size(), alignment);
  }
  head.resize(align_up(head.size(), alignment), '\0');

  AtomicFile out(path);
  out.write(head);
  const std::string zeros(alignment, '\0');
  for (const auto& t : tensors_) {
    out.write(t.bytes.data(), t.bytes.size());
    out.write(zeros.data(), align_up(t.bytes.size(), alignment) - t.bytes.size());
  }
  out.commit();
}

}  // namespace cai::gguf
