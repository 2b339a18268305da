// Writing safetensors files the way the reference library does: tensors sorted by name, the
// JSON header padded with spaces to a multiple of 8 so the data section starts aligned.
#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "cai/formats/safetensors.h"
#include "cai/io/error.h"
#include "cai/io/file.h"
#include "cai/io/json.h"

namespace cai::safetensors {

namespace fs = std::filesystem;
using nlohmann::ordered_json;

namespace {

std::uint64_t numel_of(const TensorToWrite& t) {
  std::uint64_t n = 1;
  for (auto d : t.shape) {
    CAI_CHECK(d >= 0, "safetensors writer: negative dimension {} (tensor '{}')", d, t.name);
    n *= static_cast<std::uint64_t>(d);
  }
  return n;
}

std::uint64_t nbytes_of(const TensorToWrite& t) {
  CAI_CHECK(t.store_as == DType::F32 || t.store_as == DType::F16 || t.store_as == DType::BF16,
            "safetensors writer: cannot store {} (tensor '{}')", dtype_name(t.store_as), t.name);
  return numel_of(t) * dtype_size(t.store_as);
}

std::vector<const TensorToWrite*> sorted(const std::vector<TensorToWrite>& tensors) {
  std::vector<const TensorToWrite*> out;
  for (const auto& t : tensors) out.push_back(&t);
  std::sort(out.begin(), out.end(),
            [](const TensorToWrite* a, const TensorToWrite* b) { return a->name < b->name; });
  for (std::size_t k = 1; k < out.size(); ++k)
    CAI_CHECK(out[k - 1]->name != out[k]->name, "safetensors writer: duplicate tensor '{}'",
              out[k]->name);
  return out;
}

void write_sorted(const fs::path& path, const std::vector<const TensorToWrite*>& tensors,
                  const std::map<std::string, std::string>& metadata) {
  ordered_json header = ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::uint64_t offset = 0;
  for (const auto* t : tensors) {
    const std::uint64_t n = nbytes_of(*t);
    header[t->name] = {{"dtype", dtype_name(t->store_as)},
                       {"shape", t->shape},
                       {"data_offsets", {offset, offset + n}}};
    offset += n;
  }
  std::string h = header.dump();
  h.resize((h.size() + 7) / 8 * 8, ' ');

  AtomicFile out(path);
  const std::uint64_t hn = h.size();
  out.write(&hn, 8);
  out.write(h);
  std::vector<std::uint8_t> buf;
  for (const auto* t : tensors) {
    const std::size_t n = numel_of(*t);
    if (n == 0) continue;
    CAI_CHECK(t->data != nullptr, "safetensors writer: no data (tensor '{}')", t->name);
    if (t->store_as == DType::F32) {
      out.write(t->data, n * 4);
      continue;
    }
    buf.resize(n * 2);
    for (std::size_t k = 0; k < n; ++k) {
      const std::uint16_t v =
          t->store_as == DType::F16 ? f32_to_f16(t->data[k]) : f32_to_bf16(t->data[k]);
      std::memcpy(buf.data() + 2 * k, &v, 2);
    }
    out.write(buf.data(), buf.size());
  }
  out.commit();
}

}  // namespace

void write(const fs::path& path, const std::vector<TensorToWrite>& tensors,
           const std::map<std::string, std::string>& metadata) {
  write_sorted(path, sorted(tensors), metadata);
}

void write_sharded(const fs::path& dir, const std::vector<TensorToWrite>& tensors,
                   std::uint64_t max_shard_bytes) {
  const auto all = sorted(tensors);
  // Greedy packing in name order; a tensor larger than the limit gets a shard of its own.
  std::vector<std::vector<const TensorToWrite*>> shards(1);
  std::uint64_t used = 0, total = 0;
  for (const auto* t : all) {
    const std::uint64_t n = nbytes_of(*t);
    if (!shards.back().empty() && used + n > max_shard_bytes) {
      shards.emplace_back();
      used = 0;
    }
    shards.back().push_back(t);
    used += n;
    total += n;
  }
  fs::create_directories(dir);
  const std::map<std::string, std::string> meta{{"format", "pt"}};
  if (shards.size() == 1) {
    write_sorted(dir / "model.safetensors", shards[0], meta);
    fs::remove(dir / "model.safetensors.index.json");  // a stale index would shadow the file
    return;
  }
  ordered_json weight_map = ordered_json::object();
  for (std::size_t s = 0; s < shards.size(); ++s) {
    const std::string file =
        fmt::format("model-{:05d}-of-{:05d}.safetensors", s + 1, shards.size());
    write_sorted(dir / file, shards[s], meta);
    for (const auto* t : shards[s]) weight_map[t->name] = file;
  }
  ordered_json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
  write_json(dir / "model.safetensors.index.json", index);
}

}  // namespace cai::safetensors
