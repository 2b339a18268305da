// The process's group and plain-value collectives over it (see include/cai/dist/dist.h).
#include <torch/torch.h>

#include <cstring>
#include <mutex>

#include "cai/dist/dist.h"
#include "cai/io/error.h"

namespace cai::dist {

namespace {
std::unique_ptr<ProcessGroup>& world_slot() {
  static std::unique_ptr<ProcessGroup> w;
  return w;
}
std::mutex world_mutex;
}  // namespace

ProcessGroup& world() {
  std::lock_guard<std::mutex> lock(world_mutex);
  auto& w = world_slot();
  if (!w) w = std::make_unique<ProcessGroup>(DistOptions{});
  return *w;
}

void init_world(const DistOptions& opts) {
  std::lock_guard<std::mutex> lock(world_mutex);
  auto& w = world_slot();
  CAI_CHECK(!w || w->size() == 1, "distributed: the process group is already initialised");
  w = std::make_unique<ProcessGroup>(opts);
}

double all_reduce_sum(double v) {
  ProcessGroup& w = world();
  if (w.size() == 1) return v;
  auto t = torch::tensor({v}, torch::kFloat64);
  w.all_reduce_sum(t);
  return t.item<double>();
}

bool all_true(bool v) {
  return all_reduce_sum(v ? 1.0 : 0.0) == static_cast<double>(world().size());
}

std::string broadcast_string(const std::string& s, int root) {
  ProcessGroup& w = world();
  if (w.size() == 1) return s;
  auto len = torch::tensor({static_cast<std::int64_t>(s.size())}, torch::kInt64);
  w.broadcast(len, root);
  auto bytes = torch::zeros({len.item<std::int64_t>()}, torch::kUInt8);
  if (w.rank() == root) std::memcpy(bytes.data_ptr<std::uint8_t>(), s.data(), s.size());
  w.broadcast(bytes, root);
  return std::string(reinterpret_cast<const char*>(bytes.data_ptr<std::uint8_t>()),
                     static_cast<std::size_t>(bytes.numel()));
}

bool is_main() { return world().rank() == 0; }

void all_reduce_sums(std::map<std::string, double>& sums) {
  ProcessGroup& w = world();
  if (w.size() == 1) return;
  // Rank 0's names decide (a rank with nothing to add may have none of them).
  std::string names;
  for (const auto& [k, v] : sums) names += k + '\n';
  names = broadcast_string(names);
  std::vector<std::string> keys;
  for (std::size_t at = 0, nl; (nl = names.find('\n', at)) != std::string::npos; at = nl + 1)
    keys.push_back(names.substr(at, nl - at));
  auto t = torch::zeros({static_cast<std::int64_t>(keys.size())}, torch::kFloat64);
  for (std::size_t i = 0; i < keys.size(); ++i) {
    auto it = sums.find(keys[i]);
    if (it != sums.end()) t[static_cast<std::int64_t>(i)] = it->second;
  }
  if (!keys.empty()) w.all_reduce_sum(t);
  sums.clear();
  for (std::size_t i = 0; i < keys.size(); ++i)
    sums[keys[i]] = t[static_cast<std::int64_t>(i)].item<double>();
}

}  // namespace cai::dist
