// The reference model's log-probabilities for DPO, computed once and cached beside the
// dataset (see include/cai/train/objectives.h for the file format).
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>

#include <torch/torch.h>

#include "cai/dist/dist.h"
#include "cai/generate/scorer.h"
#include "cai/io/error.h"
#include "cai/io/file.h"
#include "cai/io/progress.h"
#include "cai/io/sha256.h"
#include "cai/model/loader.h"
#include "cai/train/objectives.h"
#include "ref_cache.h"

namespace cai::train {
namespace fs = std::filesystem;

namespace {

constexpr detail::CacheTag kTag = {"cai-ref-logps", 1};
constexpr std::size_t kScoreChunk = 256;  // pairs per progress update

void add_u64(Sha256& h, std::uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  h.update(std::string_view(b, 8));
}

void add_ids(Sha256& h, const std::vector<std::int32_t>& ids) {
  add_u64(h, ids.size());
  for (auto id : ids) add_u64(h, static_cast<std::uint32_t>(id));
}

void add_str(Sha256& h, const std::string& s) {
  add_u64(h, s.size());
  h.update(s);
}

std::string hex(const std::array<std::uint8_t, 32>& d) {
  std::string out;
  for (auto b : d) out += fmt::format("{:02x}", b);
  return out;
}

// What the cached numbers depend on: every token the reference model reads.
std::string examples_hash(const std::vector<PreferenceExample>& examples) {
  Sha256 h;
  add_u64(h, examples.size());
  for (const auto& ex : examples) {
    add_ids(h, ex.prompt);
    add_ids(h, ex.chosen);
    add_ids(h, ex.rejected);
  }
  return hex(h.digest());
}

}  // namespace

std::string ref_cache_key(const fs::path& dataset, const fs::path& reference_model,
                          const std::string& template_name, const DataOptions& opts) {
  Sha256 h;
  add_str(h, fmt::format("{} v{}", kTag.format, kTag.version));
  add_str(h, sha256_file(dataset));
  std::vector<fs::path> files;
  if (fs::is_directory(reference_model)) {
    for (const auto& e : fs::directory_iterator(reference_model)) {
      const auto name = e.path().filename().string();
      if (name == "config.json" || name.ends_with(".safetensors") ||
          name == "model.safetensors.index.json")
        files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    CAI_CHECK(!files.empty(), "{}: no model files to fingerprint", reference_model.string());
  } else {
    files.push_back(reference_model);
  }
  for (const auto& f : files) {
    add_str(h, f.filename().string());
    add_str(h, sha256_file(f));
  }
  add_str(h, template_name);
  add_u64(h, static_cast<std::uint64_t>(opts.max_length));
  add_u64(h, static_cast<std::uint64_t>(opts.overlong));
  add_u64(h, opts.add_bos ? 1 : 0);
  return hex(h.digest());
}

fs::path ref_cache_path(const fs::path& dataset, const std::string& key) {
  CAI_CHECK(key.size() >= 16, "ref_cache_path: key '{}' is shorter than 16 characters", key);
  return dataset.parent_path() /
         (dataset.filename().string() + ".ref-" + key.substr(0, 16) + ".json");
}

std::optional<RefLogps> load_ref_logps(const fs::path& cache_file,
                                       const std::vector<PreferenceExample>& examples) {
  RefLogps r;
  const bool ok = detail::read_ref_cache(
      cache_file, kTag, examples_hash(examples), [&](const nlohmann::json& j) {
        r.chosen = j.at("chosen").get<std::vector<double>>();
        r.rejected = j.at("rejected").get<std::vector<double>>();
        return r.chosen.size() == examples.size() && r.rejected.size() == examples.size();
      });
  if (!ok) return std::nullopt;
  return r;
}

namespace {

// The pairs [begin, end) scored by this process.
RefLogps compute_range(const std::vector<PreferenceExample>& examples, std::size_t begin,
                       std::size_t end, LoadedModel& reference) {
  RefLogps out;
  out.chosen.reserve(end - begin);
  out.rejected.reserve(end - begin);
  std::optional<Progress> bar;
  if (dist::is_main()) bar.emplace("reference log-probs", end - begin, "pairs");
  for (std::size_t b = begin; b < end; b += kScoreChunk) {
    const std::size_t e = std::min(end, b + kScoreChunk);
    std::vector<ScoreRequest> reqs;
    for (std::size_t i = b; i < e; ++i) {
      reqs.push_back({examples[i].prompt, examples[i].chosen});
      reqs.push_back({examples[i].prompt, examples[i].rejected});
    }
    std::vector<ScoreResult> res;
    try {
      res = score(*reference.model, reqs);
    } catch (const Error& err) {
      throw_error("reference log-probabilities, pairs at lines {}..{}: {}", examples[b].line,
                  examples[e - 1].line, err.what());
    }
    for (std::size_t k = 0; k < e - b; ++k) {
      out.chosen.push_back(res[2 * k].sum);
      out.rejected.push_back(res[2 * k + 1].sum);
    }
    if (bar) bar->add(e - b);
  }
  if (bar) bar->finish();
  return out;
}

// Every rank's values, in rank order.
std::vector<double> gather(const std::vector<double>& mine) {
  const auto all = dist::world().all_gather(torch::tensor(mine, torch::kFloat64));
  std::vector<double> out;
  for (const auto& t : all) {
    const auto c = t.contiguous();
    out.insert(out.end(), c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
  }
  return out;
}

}  // namespace

RefLogps compute_ref_logps(const std::vector<PreferenceExample>& examples, LoadedModel& reference) {
  CAI_CHECK(reference.model, "reference log-probabilities: no reference model");
  const dist::ProcessGroup& pg = dist::world();
  if (pg.size() == 1) return compute_range(examples, 0, examples.size(), reference);
  // Data-parallel ranks score contiguous shares of the pairs and exchange the results.
  const auto [b, e] = dist::shard(static_cast<std::int64_t>(examples.size()), pg.rank(), pg.size());
  const RefLogps mine =
      compute_range(examples, static_cast<std::size_t>(b), static_cast<std::size_t>(e), reference);
  return {gather(mine.chosen), gather(mine.rejected)};
}

namespace {

void save_ref_logps(const fs::path& cache_file, const std::vector<PreferenceExample>& examples,
                    const RefLogps& r) {
  if (!dist::is_main()) return;  // rank 0 writes the shared cache
  detail::write_ref_cache(cache_file, kTag, examples_hash(examples), examples.size(),
                          {{"chosen", r.chosen}, {"rejected", r.rejected}});
}

// The cache when every rank can read a valid one (ranks must agree on computing it together).
std::optional<RefLogps> load_everywhere(const fs::path& cache_file,
                                        const std::vector<PreferenceExample>& examples) {
  auto cached = load_ref_logps(cache_file, examples);
  if (!dist::all_true(cached.has_value())) return std::nullopt;
  return cached;
}

}  // namespace

RefLogps load_or_compute_ref_logps(const fs::path& cache_file,
                                   const std::vector<PreferenceExample>& examples,
                                   LoadedModel& reference) {
  if (auto cached = load_everywhere(cache_file, examples)) return *cached;
  RefLogps r = compute_ref_logps(examples, reference);
  save_ref_logps(cache_file, examples, r);
  return r;
}

RefLogps load_or_compute_ref_logps(const fs::path& cache_file,
                                   const std::vector<PreferenceExample>& examples,
                                   const std::function<LoadedModel()>& load_reference) {
  if (auto cached = load_everywhere(cache_file, examples)) return *cached;
  RefLogps r;
  {
    LoadedModel reference = load_reference();  // freed at the end of this scope
    r = compute_ref_logps(examples, reference);
  }
  save_ref_logps(cache_file, examples, r);
  return r;
}

}  // namespace cai::train
