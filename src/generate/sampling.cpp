#include "cai/generate/sampling.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "cai/io/error.h"

namespace cai {

void SamplingOptions::validate() const {
  CAI_CHECK(std::isfinite(temperature) && temperature >= 0.0,
            "sampling: temperature must be >= 0, got {}", temperature);
  CAI_CHECK(top_k >= 0, "sampling: top_k must be >= 0, got {}", top_k);
  CAI_CHECK(top_p > 0.0 && top_p <= 1.0, "sampling: top_p must be in (0, 1], got {}", top_p);
  CAI_CHECK(max_new_tokens >= 1, "sampling: max_new_tokens must be >= 1, got {}", max_new_tokens);
  for (const auto& s : stop) CAI_CHECK(!s.empty(), "sampling: stop strings must not be empty");
  CAI_CHECK(top_logprobs >= 0 && top_logprobs <= 20,
            "sampling: top_logprobs must be in 0..20, got {}", top_logprobs);
}

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

namespace {

std::int32_t argmax(std::span<const float> x) {
  std::size_t best = 0;
  float bv = x[0];
  for (std::size_t i = 1; i < x.size(); ++i)
    if (x[i] > bv) bv = x[i], best = i;
  return static_cast<std::int32_t>(best);
}

// Per-thread scratch so the hot loop does not allocate.
struct Scratch {
  std::vector<std::int32_t> idx;
  std::vector<double> w;
};
Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

}  // namespace

SamplerRng::SamplerRng(std::uint64_t seed, std::uint64_t stream)
    : gen_(splitmix64(splitmix64(seed) ^ splitmix64(stream + 0x632be59bd9b4e019ULL))) {}

double SamplerRng::uniform() { return static_cast<double>(gen_() >> 11) * 0x1.0p-53; }

std::int32_t sample_token(std::span<const float> logits, const SamplingOptions& opts,
                          SamplerRng& rng) {
  const auto V = static_cast<std::int64_t>(logits.size());
  CAI_CHECK(V > 0, "sample_token: empty logits row");
  if (opts.greedy() || opts.top_k == 1) return argmax(logits);

  auto& s = scratch();
  // Candidates: all tokens, or the top-k by logit (ties broken by the lower id).
  auto by_logit = [&](std::int32_t a, std::int32_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  };
  s.idx.resize(V);
  std::iota(s.idx.begin(), s.idx.end(), 0);
  std::int64_t n = V;
  if (opts.top_k > 0 && opts.top_k < V) {
    n = opts.top_k;
    std::nth_element(s.idx.begin(), s.idx.begin() + n - 1, s.idx.end(), by_logit);
  }

  // Unnormalised probabilities exp((x - max) / T) of the candidates, in s.idx order.
  float mx = -std::numeric_limits<float>::infinity();
  for (std::int64_t i = 0; i < n; ++i) mx = std::max(mx, logits[s.idx[i]]);
  const double inv_t = 1.0 / opts.temperature;
  s.w.resize(n);
  double z = 0.0;
  for (std::int64_t i = 0; i < n; ++i) {
    s.w[i] = std::exp((static_cast<double>(logits[s.idx[i]]) - mx) * inv_t);
    z += s.w[i];
  }

  std::int64_t keep = n;  // the first `keep` candidates (after sorting for top-p)
  double mass = z;
  if (opts.top_p < 1.0) {
    // Nucleus: sort only as many of the most likely candidates as the mass p needs, growing
    // the sorted prefix geometrically (p usually lies within the first few dozen tokens).
    const double target = opts.top_p * z;
    thread_local std::vector<std::int64_t> pos;
    pos.resize(n);
    std::iota(pos.begin(), pos.end(), 0);
    auto by_w = [&](std::int64_t a, std::int64_t b) {
      return s.w[a] > s.w[b] || (s.w[a] == s.w[b] && s.idx[a] < s.idx[b]);
    };
    std::int64_t sorted = std::min<std::int64_t>(64, n);
    for (;;) {
      std::partial_sort(pos.begin(), pos.begin() + sorted, pos.end(), by_w);
      double cum = 0.0;
      std::int64_t j = 0;
      for (; j < sorted; ++j) {
        cum += s.w[pos[j]];
        if (cum >= target) break;
      }
      if (j < sorted || sorted == n) {
        keep = std::min(j + 1, n);
        break;
      }
      sorted = std::min<std::int64_t>(sorted * 4, n);
    }
    // Draw within the kept prefix.
    mass = 0.0;
    for (std::int64_t j = 0; j < keep; ++j) mass += s.w[pos[j]];
    double u = rng.uniform() * mass;
    for (std::int64_t j = 0; j < keep; ++j) {
      u -= s.w[pos[j]];
      if (u < 0.0) return s.idx[pos[j]];
    }
    return s.idx[pos[keep - 1]];
  }

  double u = rng.uniform() * mass;
  std::int64_t last = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    if (s.w[i] <= 0.0) continue;
    last = i;
    u -= s.w[i];
    if (u < 0.0) return s.idx[i];
  }
  return s.idx[last];  // rounding left u at ~0: the last token with mass
}

float token_logprob(std::span<const float> logits, std::int32_t id) {
  float mx = -std::numeric_limits<float>::infinity();
  for (float x : logits) mx = std::max(mx, x);
  double z = 0.0;
  for (float x : logits) z += std::exp(static_cast<double>(x) - mx);
  return static_cast<float>(static_cast<double>(logits[id]) - mx - std::log(z));
}

std::vector<std::pair<std::int32_t, float>> top_logprobs(std::span<const float> logits,
                                                         std::int64_t n) {
  const auto V = static_cast<std::int64_t>(logits.size());
  n = std::min(n, V);
  if (n <= 0) return {};
  float mx = -std::numeric_limits<float>::infinity();
  for (float x : logits) mx = std::max(mx, x);
  double z = 0.0;
  for (float x : logits) z += std::exp(static_cast<double>(x) - mx);
  const double lse = mx + std::log(z);
  std::vector<std::int32_t> idx(static_cast<std::size_t>(V));
  std::iota(idx.begin(), idx.end(), 0);
  std::partial_sort(idx.begin(), idx.begin() + n, idx.end(), [&](std::int32_t a, std::int32_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  });
  std::vector<std::pair<std::int32_t, float>> out;
  out.reserve(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i)
    out.emplace_back(idx[i], static_cast<float>(static_cast<double>(logits[idx[i]]) - lse));
  return out;
}

}  // namespace cai
