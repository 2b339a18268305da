#include "checkpoint.h"

#include <ATen/CPUGeneratorImpl.h>
#include <fcntl.h>
#include <unistd.h>

#include <fmt/ranges.h>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <nlohmann/json.hpp>

#include "cai/formats/safetensors.h"
#include "cai/io/error.h"
#include "cai/io/file.h"
#include "cai/io/jsonl.h"
#include "cai/io/sha256.h"

namespace cai::train {
namespace fs = std::filesystem;

namespace {

constexpr const char* kFormat = "cai-train-checkpoint";
constexpr int kVersion = 1;

std::string to_hex(const std::uint8_t* p, std::size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string s(2 * n, '0');
  for (std::size_t i = 0; i < n; ++i) {
    s[2 * i] = digits[p[i] >> 4];
    s[2 * i + 1] = digits[p[i] & 15];
  }
  return s;
}

std::vector<std::uint8_t> from_hex(const std::string& s, const std::string& where) {
  CAI_CHECK(s.size() % 2 == 0, "{}: rng_state has an odd number of hex digits", where);
  auto val = [&](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    throw_error("{}: rng_state holds a non-hex character '{}'", where, c);
  };
  std::vector<std::uint8_t> out(s.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i)
    out[i] = static_cast<std::uint8_t>(val(s[2 * i]) * 16 + val(s[2 * i + 1]));
  return out;
}

std::string rng_state_hex() {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  torch::Tensor st = gen.get_state().contiguous();
  return to_hex(st.data_ptr<std::uint8_t>(), static_cast<std::size_t>(st.numel()));
}

void set_rng_state(const std::vector<std::uint8_t>& bytes) {
  auto st = torch::empty({static_cast<std::int64_t>(bytes.size())}, torch::kUInt8);
  std::memcpy(st.data_ptr<std::uint8_t>(), bytes.data(), bytes.size());
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(st);
}

// Keeps contiguous F32 copies alive while the safetensors writer reads them.
void write_tensors(const fs::path& path,
                   const std::vector<std::pair<std::string, torch::Tensor>>& named) {
  std::vector<torch::Tensor> keep;
  std::vector<safetensors::TensorToWrite> out;
  keep.reserve(named.size());
  for (const auto& [name, t] : named) {
    CAI_CHECK(t.scalar_type() == torch::kFloat32,
              "checkpoint: tensor '{}' is {}, only F32 is stored", name,
              std::string(c10::toString(t.scalar_type())));
    keep.push_back(t.detach().contiguous());
    safetensors::TensorToWrite w;
    w.name = name;
    w.shape = keep.back().sizes().vec();
    w.data = keep.back().data_ptr<float>();
    out.push_back(std::move(w));
  }
  safetensors::write(path, out);
}

void read_into(const safetensors::File& f, const std::string& name, torch::Tensor& dst) {
  const auto* info = f.find(name);
  CAI_CHECK(info, "{}: tensor '{}' is missing", f.path().string(), name);
  CAI_CHECK(info->shape == dst.sizes().vec(), "{}: tensor '{}' has shape [{}], expected [{}]",
            f.path().string(), name, fmt::join(info->shape, ","),
            fmt::join(dst.sizes().vec(), ","));
  std::vector<float> v = f.read_f32(name);
  torch::NoGradGuard no_grad;
  dst.copy_(torch::from_blob(v.data(), dst.sizes(), torch::kFloat32));
}

constexpr const char* kTensorFiles[] = {"trainable.safetensors", "optimizer.safetensors"};

void write_checkpoint(const fs::path& tmp, const CheckpointState& s, AdamW& opt);

}  // namespace

bool has_checkpoint(const fs::path& dir) {
  recover_dir(dir);
  return fs::exists(dir / "state.json");
}

void save_checkpoint(const fs::path& dir, const CheckpointState& s, AdamW& opt) {
  write_dir_atomic(dir, [&](const fs::path& tmp) { write_checkpoint(tmp, s, opt); });
}

namespace {

void write_checkpoint(const fs::path& tmp, const CheckpointState& s, AdamW& opt) {
  std::vector<std::pair<std::string, torch::Tensor>> weights, moments;
  for (std::size_t i = 0; i < opt.params().size(); ++i) {
    const std::string& name = opt.params()[i].name;
    weights.emplace_back(name, opt.params()[i].tensor);
    moments.emplace_back("exp_avg/" + name, opt.exp_avg()[i]);
    moments.emplace_back("exp_avg_sq/" + name, opt.exp_avg_sq()[i]);
  }
  write_tensors(tmp / "trainable.safetensors", weights);
  write_tensors(tmp / "optimizer.safetensors", moments);

  nlohmann::json j;
  j["format"] = kFormat;
  j["version"] = kVersion;
  j["step"] = s.step;
  j["epoch"] = s.epoch;
  j["micro"] = s.micro;
  j["total_steps"] = s.total_steps;
  j["adam_steps"] = opt.steps();
  j["objective"] = s.objective;
  j["options_hash"] = s.options_hash;
  j["data_hash"] = s.data_hash;
  j["world_size"] = s.world_size;
  j["rng_state"] = rng_state_hex();
  if (!s.extra.empty()) j["extra"] = nlohmann::json::parse(s.extra);
  // Checksums of the tensor files: a damaged checkpoint is refused, never trained on.
  for (const char* f : kTensorFiles) j["sha256"][f] = sha256_file(tmp / f);
  write_file_atomic(tmp / "state.json", j.dump(1));  // written last: marks the directory whole
  fsync_dir(tmp);
}

}  // namespace

CheckpointState read_checkpoint_state(const fs::path& dir) {
  recover_dir(dir);
  const fs::path path = dir / "state.json";
  CAI_CHECK(fs::exists(path), "{}: no checkpoint here (state.json missing)", dir.string());
  const std::string where = path.string();
  CheckpointState s;
  try {
    const auto j = nlohmann::json::parse(read_file(path));
    CAI_CHECK(j.at("format").get<std::string>() == kFormat, "{}: not a cai training checkpoint",
              where);
    CAI_CHECK(j.at("version").get<int>() == kVersion,
              "{}: checkpoint version {} (this cai reads {})", where, j.at("version").get<int>(),
              kVersion);
    s.step = j.at("step").get<std::int64_t>();
    s.epoch = j.at("epoch").get<std::int64_t>();
    s.micro = j.at("micro").get<std::int64_t>();
    s.total_steps = j.at("total_steps").get<std::int64_t>();
    s.objective = j.at("objective").get<std::string>();
    s.options_hash = j.at("options_hash").get<std::string>();
    s.data_hash = j.at("data_hash").get<std::string>();
    s.world_size = j.value("world_size", 1);  // absent: written before data parallelism
    if (j.contains("extra")) s.extra = j.at("extra").dump();
  } catch (const nlohmann::json::exception& e) {
    throw_error("{}: {}", where, e.what());
  }
  CAI_CHECK(s.step >= 0 && s.epoch >= 0 && s.micro >= 0, "{}: negative step, epoch or micro",
            where);
  return s;
}

void restore_checkpoint(const fs::path& dir, AdamW& opt) {
  const fs::path state_path = dir / "state.json";
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(state_path));
    opt.set_steps(j.at("adam_steps").get<std::int64_t>());
    set_rng_state(from_hex(j.at("rng_state").get<std::string>(), state_path.string()));
  } catch (const nlohmann::json::exception& e) {
    throw_error("{}: {}", state_path.string(), e.what());
  } catch (const c10::Error& e) {
    throw_error("{}: rng_state is not a valid generator state", state_path.string());
  }
  if (j.contains("sha256"))  // absent in checkpoints written before the checksums
    for (const char* f : kTensorFiles) {
      const fs::path p = dir / f;
      CAI_CHECK(fs::exists(p),
                "{}: missing (the checkpoint in {} is incomplete; delete it to start over)",
                p.string(), dir.string());
      CAI_CHECK(j["sha256"].value(f, std::string()) == sha256_file(p),
                "{}: does not match the checksum in {} (a damaged checkpoint; delete {} to start "
                "over)",
                p.string(), state_path.string(), dir.string());
    }
  const safetensors::File weights(dir / "trainable.safetensors");
  const safetensors::File moments(dir / "optimizer.safetensors");
  CAI_CHECK(weights.tensors().size() == opt.params().size(),
            "{}: holds {} tensors, the objective trains {}", weights.path().string(),
            weights.tensors().size(), opt.params().size());
  for (std::size_t i = 0; i < opt.params().size(); ++i) {
    const std::string& name = opt.params()[i].name;
    torch::Tensor p = opt.params()[i].tensor;
    read_into(weights, name, p);
    read_into(moments, "exp_avg/" + name, opt.exp_avg()[i]);
    read_into(moments, "exp_avg_sq/" + name, opt.exp_avg_sq()[i]);
  }
}

// Keeps the metrics lines of steps up to `step` (those the checkpoint covers) so a resumed run
// logs every step once. Returns whether an eval line for `step` itself is among them.
bool trim_metrics(const fs::path& path, std::int64_t step) {
  recover_jsonl(path);
  if (!fs::exists(path)) return false;
  std::string kept;
  bool eval_at_step = false;
  for_each_jsonl(path, [&](const nlohmann::json& j, std::size_t) {
    const std::int64_t s = j.value("step", std::int64_t{0});
    if (s > step) return;
    if (s == step && j.value("split", std::string()) == "eval") eval_at_step = true;
    kept += j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  });
  write_file_atomic(path, kept);
  return eval_at_step;
}

void clear_run(const std::filesystem::path& out, const std::filesystem::path& metrics) {
  std::filesystem::remove_all(out / "checkpoint");
  std::filesystem::remove_all(out / "checkpoint.tmp");
  std::filesystem::remove_all(out / "final");
  std::filesystem::remove(metrics);
}

}  // namespace cai::train
