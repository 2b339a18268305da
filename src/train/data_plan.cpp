// Held-out splits and epoch plans: seeded, and independent of the standard library's
// distributions (whose output differs between implementations), so a plan is reproducible
// everywhere and a resumed run sees the same order.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "cai/io/error.h"
#include "cai/train/data.h"

namespace cai::train {
namespace {

// SplitMix64 (Steele, Lea & Flood 2014): a small generator with well-mixed output.
class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : s_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n) without modulo bias (rejection of the short last interval).
  std::uint64_t below(std::uint64_t n) {
    const std::uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    std::uint64_t x;
    do x = next();
    while (x >= limit);
    return x % n;
  }

 private:
  std::uint64_t s_;
};

// Fisher-Yates shuffle of 0..n-1 driven by a stream derived from (seed, salt).
std::vector<std::int64_t> shuffled(std::int64_t n, std::uint64_t seed, std::uint64_t salt) {
  std::vector<std::int64_t> v(static_cast<std::size_t>(n));
  std::iota(v.begin(), v.end(), 0);
  SplitMix64 mix(seed);
  SplitMix64 rng(mix.next() ^ (salt * 0xD1B54A32D192ED03ull));
  for (std::int64_t i = n - 1; i > 0; --i)
    std::swap(v[static_cast<std::size_t>(i)],
              v[static_cast<std::size_t>(rng.below(static_cast<std::uint64_t>(i) + 1))]);
  return v;
}

constexpr std::uint64_t kSplitSalt = 0x5EED5EED5EEDull;  // keeps the split apart from epochs

}  // namespace

std::pair<std::vector<std::int64_t>, std::vector<std::int64_t>> split_held_out(std::int64_t n,
                                                                               double fraction,
                                                                               std::uint64_t seed) {
  CAI_CHECK(n >= 0, "split_held_out: n must be >= 0, got {}", n);
  CAI_CHECK(fraction >= 0 && fraction < 1, "split_held_out: fraction must be in [0, 1), got {}",
            fraction);
  std::int64_t k = 0;
  if (fraction > 0 && n > 1)
    k = std::clamp<std::int64_t>(std::llround(fraction * static_cast<double>(n)), 1, n - 1);
  auto order = shuffled(n, seed, kSplitSalt);
  std::vector<std::int64_t> held(order.begin(), order.begin() + k);
  std::vector<std::int64_t> train(order.begin() + k, order.end());
  std::sort(held.begin(), held.end());
  std::sort(train.begin(), train.end());
  return {std::move(train), std::move(held)};
}

std::vector<std::vector<std::int64_t>> plan_epoch(const std::vector<std::int64_t>& lengths,
                                                  std::int64_t token_budget, std::uint64_t seed,
                                                  std::int64_t epoch) {
  CAI_CHECK(token_budget >= 1, "plan_epoch: token_budget must be >= 1, got {}", token_budget);
  CAI_CHECK(epoch >= 0, "plan_epoch: epoch must be >= 0, got {}", epoch);
  const auto n = static_cast<std::int64_t>(lengths.size());
  const auto order = shuffled(n, seed, static_cast<std::uint64_t>(epoch));
  std::vector<std::vector<std::int64_t>> plan;
  std::vector<std::int64_t> cur;
  std::int64_t longest = 0;
  for (auto i : order) {
    const std::int64_t len = lengths[static_cast<std::size_t>(i)];
    CAI_CHECK(len >= 1, "plan_epoch: example {} has length {}", i, len);
    const std::int64_t m = std::max(longest, len);
    if (!cur.empty() && static_cast<std::int64_t>(cur.size() + 1) * m > token_budget) {
      plan.push_back(std::move(cur));
      cur.clear();
      longest = 0;
    }
    cur.push_back(i);
    longest = std::max(longest, len);
  }
  if (!cur.empty()) plan.push_back(std::move(cur));
  return plan;
}

}  // namespace cai::train
