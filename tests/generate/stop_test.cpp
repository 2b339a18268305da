#include <gtest/gtest.h>

#include "cai/generate/stop.h"

namespace cai {
namespace {

TEST(StopMatcher, FindsStopAcrossTokensAndCutsText) {
  StopMatcher m({"\n\nHuman:"});
  EXPECT_FALSE(m.append("Hel"));
  EXPECT_EQ(m.take_ready(), "Hel");
  EXPECT_FALSE(m.append("lo\n\nHu"));
  EXPECT_EQ(m.take_ready(), "lo");  // "\n\nHu" may start the stop string: held back
  EXPECT_TRUE(m.append("man: next"));
  EXPECT_TRUE(m.stopped());
  EXPECT_EQ(m.text(), "Hello");
  EXPECT_EQ(m.matched(), "\n\nHuman:");
  EXPECT_EQ(m.take_rest(), "");
}

TEST(StopMatcher, ReleasesHeldBytesWhenNoMatch) {
  StopMatcher m({"</s>"});
  m.append("a<");
  EXPECT_EQ(m.take_ready(), "a");
  m.append("b");
  EXPECT_EQ(m.take_ready(), "<b");
  m.append("</");
  EXPECT_EQ(m.take_rest(), "</");
}

TEST(StopMatcher, EarliestOfSeveral) {
  StopMatcher m({"xyz", "b"});
  EXPECT_TRUE(m.append("aaxyzb"));
  EXPECT_EQ(m.text(), "aa");
  EXPECT_EQ(m.matched(), "xyz");
}

TEST(StopMatcher, StopInsideOneToken) {
  StopMatcher m({"END"});
  EXPECT_TRUE(m.append("okEND more"));
  EXPECT_EQ(m.text(), "ok");
  EXPECT_EQ(m.take_ready(), "ok");
}

TEST(StopMatcher, NeverSplitsUtf8) {
  StopMatcher m;
  m.append("a\xC3");
  EXPECT_EQ(m.take_ready(), "a");
  m.append("\xA9");
  EXPECT_EQ(m.take_ready(), "\xC3\xA9");
  m.append("\xE2\x82");
  EXPECT_EQ(m.take_ready(), "");
  m.append("\xAC!");
  EXPECT_EQ(m.take_ready(), "\xE2\x82\xAC!");
  EXPECT_EQ(m.text(), "a\xC3\xA9\xE2\x82\xAC!");
}

}  // namespace
}  // namespace cai
