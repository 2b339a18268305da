// Checkpoints as Hugging Face stores them: one model.safetensors, or shards listed by
// model.safetensors.index.json ({"weight_map": {tensor: shard}}).
#include <nlohmann/json.hpp>

#include "cai/formats/safetensors.h"
#include "cai/io/error.h"
#include "cai/io/file.h"
#include "cai/io/json.h"

namespace cai::safetensors {

namespace fs = std::filesystem;
using nlohmann::json;

Checkpoint::Checkpoint(const fs::path& dir_or_file) {
  if (fs::is_regular_file(dir_or_file)) {
    files_.emplace_back(dir_or_file);
    for (const auto& t : files_[0].tensors()) where_[t.name] = 0;
    return;
  }
  const fs::path index = dir_or_file / "model.safetensors.index.json";
  if (!fs::exists(index)) {
    const fs::path single = dir_or_file / "model.safetensors";
    if (!fs::exists(single))
      throw_error("{}: no model.safetensors or model.safetensors.index.json", dir_or_file.string());
    files_.emplace_back(single);
    for (const auto& t : files_[0].tensors()) where_[t.name] = 0;
    return;
  }

  json j = read_json(index);
  if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
    throw_error("{}: missing object 'weight_map'", index.string());

  std::map<std::string, std::size_t> shard_index;  // shard file name -> files_ slot
  for (const auto& [name, shard_j] : j["weight_map"].items()) {
    if (!shard_j.is_string())
      throw_error("{}: weight_map value is not a string (tensor '{}')", index.string(), name);
    const std::string shard = shard_j.get<std::string>();
    // Shards live beside the index; a path that leaves the directory is refused.
    const fs::path rel(shard);
    if (shard.empty() || rel.is_absolute() || rel.filename() != rel)
      throw_error("{}: shard '{}' is not a plain file name (tensor '{}')", index.string(), shard,
                  name);
    auto it = shard_index.find(shard);
    if (it == shard_index.end()) {
      const fs::path sp = dir_or_file / rel;
      if (!fs::exists(sp))
        throw_error("{}: shard '{}' does not exist (tensor '{}')", index.string(), sp.string(),
                    name);
      files_.emplace_back(sp);
      it = shard_index.emplace(shard, files_.size() - 1).first;
    }
    if (!files_[it->second].find(name))
      throw_error("{}: tensor listed in {} is missing from shard '{}' (tensor '{}')",
                  files_[it->second].path().string(), index.string(), shard, name);
    where_[name] = it->second;
  }
}

std::vector<std::string> Checkpoint::names() const {
  std::vector<std::string> out;
  out.reserve(where_.size());
  for (const auto& [name, _] : where_) out.push_back(name);
  return out;
}

bool Checkpoint::has(const std::string& name) const { return where_.count(name) != 0; }

namespace {

std::size_t slot(const std::map<std::string, std::size_t>& where, const std::string& name,
                 const std::vector<File>& files) {
  auto it = where.find(name);
  if (it == where.end())
    throw_error("{}: no such tensor in the checkpoint (tensor '{}')",
                files.empty() ? std::string("checkpoint") : files[0].path().parent_path().string(),
                name);
  return it->second;
}

}  // namespace

const TensorInfo& Checkpoint::info(const std::string& name) const {
  return *files_[slot(where_, name, files_)].find(name);
}

std::vector<float> Checkpoint::read_f32(const std::string& name) const {
  return files_[slot(where_, name, files_)].read_f32(name);
}

const std::uint8_t* Checkpoint::data(const std::string& name) const {
  const File& f = files_[slot(where_, name, files_)];
  return f.data(*f.find(name));
}

const fs::path& Checkpoint::file_of(const std::string& name) const {
  return files_[slot(where_, name, files_)].path();
}

}  // namespace cai::safetensors
