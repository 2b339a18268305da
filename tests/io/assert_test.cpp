// The two error tiers: CAI_CHECK reports the user's mistake as given; CAI_ASSERT reports a
// broken invariant as cai's bug, with where it broke and what was expected.
#include <gtest/gtest.h>

#include <string>

#include "cai/io/assert.h"

namespace cai {
namespace {

TEST(Assert, BrokenInvariantIsAnInternalErrorNamingTheSource) {
  try {
    const int scores = 3, requests = 4;
    CAI_ASSERT(scores == requests, "{} scores for {} requests", scores, requests);
    FAIL() << "CAI_ASSERT did not throw";
  } catch (const InternalError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("internal error"), std::string::npos) << m;
    EXPECT_NE(m.find("assert_test.cpp:"), std::string::npos) << m;
    EXPECT_NE(m.find("scores == requests"), std::string::npos) << m;
    EXPECT_NE(m.find("3 scores for 4 requests"), std::string::npos) << m;
  }
  EXPECT_NO_THROW(CAI_ASSERT(1 + 1 == 2, "arithmetic"));
}

TEST(Assert, UserErrorsStayPlain) {
  try {
    CAI_CHECK(false, "loop.yaml:3: rounds: must be >= 0, got {}", -1);
    FAIL() << "CAI_CHECK did not throw";
  } catch (const InternalError&) {
    FAIL() << "a user error must not read as a bug";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "loop.yaml:3: rounds: must be >= 0, got -1");
  }
}

}  // namespace
}  // namespace cai
