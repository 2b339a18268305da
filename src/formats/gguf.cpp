// GGUF reader. The file is untrusted: every length, count and offset is checked against the
// mapped size before it is used, and counts are checked against the bytes left before any
// allocation, so a lying header fails fast instead of allocating or reading out of bounds.
#include "cai/formats/gguf.h"

#include <algorithm>
#include <cstring>

#include "cai/io/error.h"
#include "cai/io/file.h"
#include "gguf_internal.h"

namespace cai::gguf {

namespace {

constexpr std::uint32_t kMaxDims = 4;
constexpr int kMaxArrayNesting = 8;

// Sequential bounds-checked reads from the mapped file; `ctx` names the key or tensor being
// parsed so every error says where it happened.
struct Cursor {
  const std::uint8_t* base;
  std::uint64_t size;
  std::uint64_t pos = 0;
  std::string file;
  std::string ctx;

  [[noreturn]] void fail(const std::string& what) const {
    if (ctx.empty()) throw_error("{}: {}", file, what);
    throw_error("{}: {} ({})", file, what, ctx);
  }
  std::uint64_t left() const { return size - pos; }
  void need(std::uint64_t n, const char* what) const {
    if (n > left())
      fail(fmt::format("truncated file: {} needs {} bytes at offset {}, only {} left", what, n, pos,
                       left()));
  }
  template <typename T>
  T get(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, base + pos, sizeof v);
    pos += sizeof v;
    return v;
  }
  std::string str(const char* what) {
    const auto n = get<std::uint64_t>(what);
    need(n, what);
    std::string s(reinterpret_cast<const char*>(base + pos), n);
    pos += n;
    return s;
  }
  // Rejects `count` items of at least `min_size` bytes each when they cannot fit in the rest
  // of the file, before anything is reserved for them.
  void check_count(std::uint64_t count, std::uint64_t min_size, const char* what) const {
    if (count > left() / min_size)
      fail(fmt::format("{} {} cannot fit in the {} bytes left", what, count, left()));
  }
};

std::uint64_t min_value_size(std::uint32_t t) {
  switch (static_cast<ValueType>(t)) {
    case ValueType::U8:
    case ValueType::I8:
    case ValueType::BOOL:
      return 1;
    case ValueType::U16:
    case ValueType::I16:
      return 2;
    case ValueType::U32:
    case ValueType::I32:
    case ValueType::F32:
      return 4;
    case ValueType::U64:
    case ValueType::I64:
    case ValueType::F64:
      return 8;
    case ValueType::STRING:
      return 8;
    case ValueType::ARRAY:
      return 12;
  }
  return 0;  // unknown
}

bool is_integer(ValueType t) {
  switch (t) {
    case ValueType::U8:
    case ValueType::I8:
    case ValueType::U16:
    case ValueType::I16:
    case ValueType::U32:
    case ValueType::I32:
    case ValueType::U64:
    case ValueType::I64:
    case ValueType::BOOL:
      return true;
    default:
      return false;
  }
}

bool is_float(ValueType t) { return t == ValueType::F32 || t == ValueType::F64; }

// Reads one scalar into `i` / `f` / `s` style storage; the type is already validated.
std::int64_t read_int(Cursor& c, ValueType t) {
  switch (t) {
    case ValueType::U8:
      return c.get<std::uint8_t>("u8 value");
    case ValueType::I8:
      return c.get<std::int8_t>("i8 value");
    case ValueType::U16:
      return c.get<std::uint16_t>("u16 value");
    case ValueType::I16:
      return c.get<std::int16_t>("i16 value");
    case ValueType::U32:
      return c.get<std::uint32_t>("u32 value");
    case ValueType::I32:
      return c.get<std::int32_t>("i32 value");
    // Values above INT64_MAX wrap to negative here; the getters refuse them, but a file
    // holding one stays readable.
    case ValueType::U64:
      return static_cast<std::int64_t>(c.get<std::uint64_t>("u64 value"));
    case ValueType::I64:
      return c.get<std::int64_t>("i64 value");
    case ValueType::BOOL:  // any nonzero byte is true, as llama.cpp reads it
      return c.get<std::uint8_t>("bool value") != 0 ? 1 : 0;
    default:
      c.fail("internal: not an integer type");
  }
}

double read_float(Cursor& c, ValueType t) {
  if (t == ValueType::F32) return c.get<float>("f32 value");
  return c.get<double>("f64 value");
}

Value read_value(Cursor& c, std::uint32_t raw_type, int depth);

void read_array(Cursor& c, Value& v, int depth) {
  if (depth > kMaxArrayNesting) c.fail("arrays nested too deeply");
  const auto et = c.get<std::uint32_t>("array element type");
  const std::uint64_t min = min_value_size(et);
  if (min == 0) c.fail(fmt::format("unknown array element type {}", et));
  v.elem_type = static_cast<ValueType>(et);
  const auto n = c.get<std::uint64_t>("array length");
  c.check_count(n, min, "array length");
  if (is_integer(v.elem_type)) {
    v.ints.resize(n);
    for (auto& x : v.ints) x = read_int(c, v.elem_type);
  } else if (is_float(v.elem_type)) {
    v.floats.resize(n);
    for (auto& x : v.floats) x = read_float(c, v.elem_type);
  } else if (v.elem_type == ValueType::STRING) {
    v.strings.resize(n);
    for (auto& s : v.strings) s = c.str("string array element");
  } else {
    v.items.reserve(n);
    for (std::uint64_t k = 0; k < n; ++k) v.items.push_back(read_value(c, et, depth + 1));
  }
}

Value read_value(Cursor& c, std::uint32_t raw_type, int depth) {
  if (min_value_size(raw_type) == 0) c.fail(fmt::format("unknown value type {}", raw_type));
  Value v;
  v.type = static_cast<ValueType>(raw_type);
  if (is_integer(v.type))
    v.i = read_int(c, v.type);
  else if (is_float(v.type))
    v.f = read_float(c, v.type);
  else if (v.type == ValueType::STRING)
    v.s = c.str("string value");
  else
    read_array(c, v, depth);
  return v;
}

const char* type_name(ValueType t) {
  static const char* names[] = {"u8",   "i8",     "u16",   "i16", "u32", "i32", "f32",
                                "bool", "string", "array", "u64", "i64", "f64"};
  const auto i = static_cast<std::uint32_t>(t);
  return i < std::size(names) ? names[i] : "unknown";
}

}  // namespace

std::size_t Value::size() const {
  if (type != ValueType::ARRAY) return 0;
  if (is_integer(elem_type)) return ints.size();
  if (is_float(elem_type)) return floats.size();
  if (elem_type == ValueType::STRING) return strings.size();
  return items.size();
}

std::int64_t TensorInfo::numel() const {
  std::int64_t n = 1;
  for (auto d : ne) n *= d;
  return n;
}

std::vector<std::int64_t> TensorInfo::shape() const { return {ne.rbegin(), ne.rend()}; }

Reader::~Reader() = default;
Reader::Reader(Reader&&) noexcept = default;

Reader::Reader(const std::filesystem::path& path) : path_(path) {
  file_ = std::make_unique<MappedFile>(path);
  Cursor c{file_->data(), file_->size(), 0, path.string(), {}};

  c.need(4, "magic");
  if (std::memcmp(c.base, "GGUF", 4) != 0) c.fail("not a GGUF file (bad magic)");
  c.pos = 4;
  version_ = c.get<std::uint32_t>("version");
  if (version_ != 2 && version_ != 3)
    c.fail(fmt::format("unsupported GGUF version {} (expected 2 or 3)", version_));
  const auto n_tensors = c.get<std::uint64_t>("tensor count");
  const auto n_kv = c.get<std::uint64_t>("metadata count");
  // Smallest key/value: empty key (8) + type (4) + one-byte value.
  c.check_count(n_kv, 13, "metadata count");

  for (std::uint64_t k = 0; k < n_kv; ++k) {
    c.ctx = fmt::format("metadata entry {}", k);
    std::string key = c.str("metadata key");
    c.ctx = fmt::format("key '{}'", key);
    const auto type = c.get<std::uint32_t>("value type");
    Value v = read_value(c, type, 0);
    if (!kv_.emplace(key, std::move(v)).second) c.fail("duplicate metadata key");
  }

  std::uint64_t alignment = kDefaultAlignment;
  if (const Value* a = find("general.alignment")) {
    c.ctx = "key 'general.alignment'";
    if (!is_integer(a->type) || a->type == ValueType::BOOL)
      c.fail(fmt::format("alignment has type {}, expected an integer", type_name(a->type)));
    if (a->i <= 0 || (a->i & (a->i - 1)) != 0)
      c.fail(fmt::format("alignment {} is not a positive power of two", a->i));
    alignment = static_cast<std::uint64_t>(a->i);
  }

  c.ctx.clear();
  // Smallest tensor info: empty name (8) + n_dims (4) + type (4) + offset (8).
  c.check_count(n_tensors, 24, "tensor count");
  tensors_.reserve(n_tensors);
  std::map<std::string, std::size_t> by_name;
  for (std::uint64_t k = 0; k < n_tensors; ++k) {
    c.ctx = fmt::format("tensor info {}", k);
    TensorInfo t;
    t.name = c.str("tensor name");
    c.ctx = fmt::format("tensor '{}'", t.name);
    const auto n_dims = c.get<std::uint32_t>("n_dims");
    if (n_dims > kMaxDims) c.fail(fmt::format("n_dims {} exceeds {}", n_dims, kMaxDims));
    std::int64_t numel = 1;
    for (std::uint32_t d = 0; d < n_dims; ++d) {
      const auto n = c.get<std::int64_t>("dimension");
      if (n <= 0) c.fail(fmt::format("dimension {} is {}, must be positive", d, n));
      if (__builtin_mul_overflow(numel, n, &numel)) c.fail("element count overflows int64");
      t.ne.push_back(n);
    }
    t.type = c.get<std::uint32_t>("tensor type");
    t.offset = c.get<std::uint64_t>("tensor offset");
    std::string err;
    t.nbytes = tensor_nbytes(t.type, t.ne, &err);
    if (t.nbytes == 0) c.fail(err);
    if (t.offset % alignment != 0)
      c.fail(fmt::format("offset {} is not a multiple of the alignment {}", t.offset, alignment));
    if (!by_name.emplace(t.name, tensors_.size()).second) c.fail("duplicate tensor name");
    tensors_.push_back(std::move(t));
  }
  c.ctx.clear();

  data_offset_ = (c.pos + alignment - 1) / alignment * alignment;
  const std::uint64_t data_size = data_offset_ <= c.size ? c.size - data_offset_ : 0;
  if (!tensors_.empty() && data_offset_ > c.size)
    c.fail(fmt::format("truncated file: data section starts at {} past the end {}", data_offset_,
                       c.size));

  // Ranges must lie inside the data section and must not overlap one another.
  std::vector<const TensorInfo*> order;
  for (const auto& t : tensors_) {
    if (t.offset > data_size || t.nbytes > data_size - t.offset)
      throw_error(
          "{}: tensor data [{}, +{}) runs past the end of the data section ({} bytes) "
          "(tensor '{}')",
          path_.string(), t.offset, t.nbytes, data_size, t.name);
    order.push_back(&t);
  }
  std::sort(order.begin(), order.end(),
            [](const TensorInfo* a, const TensorInfo* b) { return a->offset < b->offset; });
  for (std::size_t k = 1; k < order.size(); ++k)
    if (order[k - 1]->offset + order[k - 1]->nbytes > order[k]->offset)
      throw_error("{}: tensor data overlaps tensor '{}' (tensor '{}')", path_.string(),
                  order[k - 1]->name, order[k]->name);
}

const Value* Reader::find(const std::string& key) const {
  auto it = kv_.find(key);
  return it == kv_.end() ? nullptr : &it->second;
}

namespace {

[[noreturn]] void key_error(const std::filesystem::path& p, const std::string& key,
                            const std::string& what) {
  throw_error("{}: metadata key '{}': {} (key '{}')", p.string(), key, what, key);
}

}  // namespace

std::string Reader::get_string(const std::string& key) const {
  auto v = get_string_opt(key);
  if (!v) key_error(path_, key, "missing");
  return *v;
}

std::int64_t Reader::get_int(const std::string& key) const {
  auto v = get_int_opt(key);
  if (!v) key_error(path_, key, "missing");
  return *v;
}

double Reader::get_float(const std::string& key) const {
  auto v = get_float_opt(key);
  if (!v) key_error(path_, key, "missing");
  return *v;
}

bool Reader::get_bool(const std::string& key) const {
  const Value* v = find(key);
  if (!v) key_error(path_, key, "missing");
  if (v->type != ValueType::BOOL)
    key_error(path_, key, fmt::format("expected bool, found {}", type_name(v->type)));
  return v->i != 0;
}

std::optional<std::int64_t> Reader::get_int_opt(const std::string& key) const {
  const Value* v = find(key);
  if (!v) return std::nullopt;
  if (!is_integer(v->type))
    key_error(path_, key, fmt::format("expected an integer, found {}", type_name(v->type)));
  if (v->type == ValueType::U64 && v->i < 0)
    key_error(path_, key,
              fmt::format("u64 value {} does not fit in int64", static_cast<std::uint64_t>(v->i)));
  return v->i;
}

std::optional<double> Reader::get_float_opt(const std::string& key) const {
  const Value* v = find(key);
  if (!v) return std::nullopt;
  if (is_float(v->type)) return v->f;
  if (v->type == ValueType::U64) return static_cast<double>(static_cast<std::uint64_t>(v->i));
  if (is_integer(v->type)) return static_cast<double>(v->i);
  key_error(path_, key, fmt::format("expected a number, found {}", type_name(v->type)));
}

std::optional<std::string> Reader::get_string_opt(const std::string& key) const {
  const Value* v = find(key);
  if (!v) return std::nullopt;
  if (v->type != ValueType::STRING)
    key_error(path_, key, fmt::format("expected string, found {}", type_name(v->type)));
  return v->s;
}

const std::vector<std::string>& Reader::get_string_array(const std::string& key) const {
  const Value* v = find(key);
  if (!v) key_error(path_, key, "missing");
  if (v->type != ValueType::ARRAY || v->elem_type != ValueType::STRING)
    key_error(path_, key, "expected an array of strings");
  return v->strings;
}

std::vector<std::int64_t> Reader::get_int_array(const std::string& key) const {
  const Value* v = find(key);
  if (!v) key_error(path_, key, "missing");
  if (v->type != ValueType::ARRAY || !is_integer(v->elem_type))
    key_error(path_, key, "expected an array of integers");
  if (v->elem_type == ValueType::U64)
    for (auto x : v->ints)
      if (x < 0) key_error(path_, key, "u64 element does not fit in int64");
  return v->ints;
}

std::vector<double> Reader::get_float_array(const std::string& key) const {
  const Value* v = find(key);
  if (!v) key_error(path_, key, "missing");
  if (v->type != ValueType::ARRAY) key_error(path_, key, "expected an array of numbers");
  if (is_float(v->elem_type)) return v->floats;
  if (is_integer(v->elem_type)) return {v->ints.begin(), v->ints.end()};
  key_error(path_, key, "expected an array of numbers");
}

const TensorInfo* Reader::find_tensor(const std::string& name) const {
  for (const auto& t : tensors_)
    if (t.name == name) return &t;
  return nullptr;
}

const std::uint8_t* Reader::tensor_data(const TensorInfo& t) const {
  return file_->data() + data_offset_ + t.offset;
}

std::vector<float> Reader::read_f32(const TensorInfo& t) const {
  std::vector<float> out(static_cast<std::size_t>(t.numel()));
  const ggml::TypeTraits* tr = ggml::traits(t.type);
  if (!tr)  // the header check already refused these; kept for a clear message
    throw_error("{}: unsupported ggml type {} (tensor '{}')", path_.string(), t.type, t.name);
  // Row by row: a block never spans two rows.
  const std::int64_t cols = t.ne.empty() ? 1 : t.ne[0];
  const std::size_t rb = ggml::row_bytes(tr->type, cols);
  const std::uint8_t* p = tensor_data(t);
  for (std::size_t r = 0; r < out.size() / static_cast<std::size_t>(cols); ++r)
    ggml::dequantize_row(tr->type, p + r * rb, out.data() + r * cols, cols);
  return out;
}

}  // namespace cai::gguf
