#include <gtest/gtest.h>

#include <array>

#include "cai/world/rng.h"

using cai::world::Rng;

TEST(WorldRng, SplitMixMatchesReferenceValue) {
  // First output of splitmix64 from state 0 (Vigna's reference implementation).
  std::uint64_t s = 0;
  EXPECT_EQ(cai::world::splitmix64(s), 0xE220A8397B1DCDAFull);
}

TEST(WorldRng, SameSeedSameStreamDifferentStreamsDiffer) {
  Rng a(42), b(42), c(42, "corpus"), d(42, "prompts");
  for (int i = 0; i < 100; ++i) EXPECT_EQ(a.next(), b.next());
  int same = 0;
  for (int i = 0; i < 100; ++i) same += c.next() == d.next();
  EXPECT_EQ(same, 0);
}

TEST(WorldRng, BelowIsInRangeAndRoughlyUniform) {
  Rng r(7);
  std::array<int, 6> counts{};
  const int n = 60000;
  for (int i = 0; i < n; ++i) {
    const auto x = r.below(6);
    ASSERT_LT(x, 6u);
    ++counts[x];
  }
  // Chi-square with 5 degrees of freedom; 20.5 is the 0.1% critical value.
  double chi2 = 0;
  for (int c : counts) chi2 += (c - n / 6.0) * (c - n / 6.0) / (n / 6.0);
  EXPECT_LT(chi2, 20.5);
}

TEST(WorldRng, ChanceMatchesProbability) {
  Rng r(11);
  int hits = 0;
  for (int i = 0; i < 100000; ++i) hits += r.chance(0.4);
  EXPECT_NEAR(hits / 100000.0, 0.4, 0.01);
}
