#include <gtest/gtest.h>

#include "cai/constitution/transcript.h"

using namespace cai::transcript;

TEST(Transcript, FormatsAreExactlyAsDocumented) {
  EXPECT_EQ(conversation("Q?", "R."), "Human: Q?\n\nAssistant: R.");
  const std::string c = critique_example("Q?", "R.", "Check X.", critique_text(false, "Because."));
  EXPECT_EQ(c,
            "Human: Q?\n\nAssistant: R.\n\nCritiqueRequest: Check X.\n\nCritique: The response "
            "violates the "
            "principle. Because.");
  EXPECT_EQ(revision_example(c, "Fix X.", "R2."),
            c + "\n\nRevisionRequest: Fix X.\n\nRevision: R2.");
  EXPECT_EQ(comparison_example("Q?", "a.", "b.", "Which?", false),
            "Human: Q?\n\nConsider the following two responses.\n\n(A) a.\n\n(B) b.\n\nQuestion: "
            "Which?\n\n"
            "The answer is: (B)");
  EXPECT_TRUE(comparison_example("Q?", "a.", "b.", "Which?", true).ends_with("The answer is: (A)"));
}

TEST(Transcript, VerdictParsingAndTurnCutting) {
  EXPECT_EQ(parse_critique_verdict(" The response follows the principle. Fine."), true);
  EXPECT_EQ(parse_critique_verdict("The response violates the principle."), false);
  EXPECT_EQ(parse_critique_verdict("Looks fine to me."), std::nullopt);
  EXPECT_EQ(first_turn(" Hello there.\n\nHuman: next"), "Hello there.");
}
