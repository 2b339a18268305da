// The job's shape from the environment (see include/cai/dist/dist.h), and how items are
// shared out among ranks.
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <string_view>

#include "cai/dist/dist.h"
#include "cai/io/error.h"

namespace cai::dist {
namespace {

int parse_int(const char* name, const char* text) {
  const std::string_view s(text);
  int v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  CAI_CHECK(ec == std::errc() && end == s.data() + s.size() && !s.empty(),
            "environment: {}={} is not an integer", name, s);
  return v;
}

}  // namespace

void DistOptions::validate() const {
  CAI_CHECK(world_size >= 1, "distributed: world_size must be >= 1, got {}", world_size);
  CAI_CHECK(rank >= 0 && rank < world_size, "distributed: rank {} outside 0..{}", rank,
            world_size - 1);
  CAI_CHECK(local_rank >= 0, "distributed: local_rank must be >= 0, got {}", local_rank);
  CAI_CHECK(!master_addr.empty(), "distributed: master_addr is empty");
  CAI_CHECK(master_port >= 1 && master_port <= 65535,
            "distributed: master_port must be in 1..65535, got {}", master_port);
  CAI_CHECK(timeout_s > 0 && std::isfinite(timeout_s),
            "distributed: timeout must be > 0 seconds, got {}", timeout_s);
  CAI_CHECK(device == "cpu" || device.starts_with("cuda"),
            "distributed: device must be cpu or cuda:N, got '{}'", device);
}

DistOptions options_from_env(const GetEnv& get_in) {
  const GetEnv get = get_in ? get_in : [](const char* n) -> const char* { return std::getenv(n); };
  DistOptions o;
  auto read = [&](const char* name, int& out) {
    if (const char* v = get(name)) {
      out = parse_int(name, v);
      return true;
    }
    return false;
  };
  const bool torchrun = get("RANK") != nullptr || get("WORLD_SIZE") != nullptr;
  if (torchrun) {
    CAI_CHECK(read("RANK", o.rank) && read("WORLD_SIZE", o.world_size),
              "environment: RANK and WORLD_SIZE must be set together");
    if (!read("LOCAL_RANK", o.local_rank)) o.local_rank = o.rank;
  } else if (get("SLURM_PROCID") != nullptr && get("SLURM_NTASKS") != nullptr) {
    read("SLURM_PROCID", o.rank);
    read("SLURM_NTASKS", o.world_size);
    read("SLURM_LOCALID", o.local_rank);
  } else {
    return o;  // one process
  }
  if (const char* a = get("MASTER_ADDR")) o.master_addr = a;
  read("MASTER_PORT", o.master_port);
  o.validate();
  return o;
}

std::pair<std::int64_t, std::int64_t> shard(std::int64_t n, int rank, int world) {
  CAI_CHECK(world >= 1 && rank >= 0 && rank < world, "shard: rank {} outside 0..{}", rank,
            world - 1);
  const std::int64_t base = n / world, extra = n % world, r = rank;
  const std::int64_t begin = r * base + std::min(r, extra);
  return {begin, begin + base + (r < extra ? 1 : 0)};
}

}  // namespace cai::dist
