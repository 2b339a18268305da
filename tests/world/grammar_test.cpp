// The grammar engine on small hand-made grammars whose expansions can be counted by hand.
#include "cai/world/grammar.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "cai/io/error.h"
#include "cai/world/noise.h"
#include "cai/world/rng.h"

using namespace cai::world;

namespace {

Grammar tiny() {
  Grammar g;
  g.add("prompt", {{"{greet} {=body}"}});
  g.add("greet", {{"", 1}, {"hi."}});
  g.add("body", {{"where is {$e}?", 1, true}, {"{x.ask}"}});
  g.add("x.ask", {{"tell me about {what}"}, {"{say@}"}});
  g.add("x.what", {{"{$e} in x"}});
  g.add("what", {{"{$e} globally"}});
  g.add("say@one", {{"one says"}});
  g.add("say@two", {{"two says"}});
  return g;
}

}  // namespace

TEST(WorldGrammar, ExpandsEveryFormWithScopesKeysAndVariables) {
  const Grammar g = tiny();
  ExpandContext ctx;
  ctx.key = "one";
  ctx.vars = {{"e", "the cat"}};
  Rng rng(3);
  std::set<std::string> forms;
  std::map<std::string, std::string> frame_of;
  for (int i = 0; i < 400; ++i) {
    const Expansion e = expand(g, "prompt", ctx, rng);
    const std::string t = strip_marks(e.text);
    forms.insert(t);
    frame_of[t] = e.frame;
  }
  // 2 greetings x 3 bodies; "{what}" inside x.ask resolves to x.what (the scope of x.ask).
  const std::set<std::string> want = {" where is the cat?",
                                      "hi. where is the cat?",
                                      " tell me about the cat in x",
                                      "hi. tell me about the cat in x",
                                      " one says",
                                      "hi. one says"};
  EXPECT_EQ(forms, want);
  // The frame is body's production: "=" marks it; x.ask's choice does not count.
  EXPECT_EQ(frame_of["hi. where is the cat?"], "body#0");
  EXPECT_EQ(frame_of[" one says"], "body#1");
  // Variables are marked, so later passes can leave them alone.
  const Expansion e = expand(g, "x.what", ctx, rng);
  EXPECT_EQ(e.text, std::string("\x01the cat\x02 in x"));
}

TEST(WorldGrammar, ExcludedProductionsAreNeverChosen) {
  const Grammar g = tiny();
  const std::set<std::string> excluded = {"greet#0", "body#1"};
  ExpandContext ctx;
  ctx.key = "two";
  ctx.vars = {{"e", "x"}};
  ctx.excluded = &excluded;
  Rng rng(1);
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(strip_marks(expand(g, "prompt", ctx, rng).text), "hi. where is x?");
  }
  const std::set<std::string> all = {"body#0", "body#1"};
  ctx.excluded = &all;
  EXPECT_THROW(expand(g, "body", ctx, rng), cai::Error);
}

TEST(WorldGrammar, BadReferencesAndDefinitionsAreErrors) {
  Grammar g;
  g.add("a", {{"{nope}"}});
  g.add("b", {{"{$missing}"}});
  g.add("c", {{"{c}"}});
  Rng rng(1);
  EXPECT_THROW(expand(g, "a", {}, rng), cai::Error);
  EXPECT_THROW(expand(g, "b", {}, rng), cai::Error);
  EXPECT_THROW(expand(g, "c", {}, rng), cai::Error);  // a cycle
  EXPECT_THROW(g.add("a", {{"again"}}), cai::Error);
  EXPECT_THROW(g.add("d", {}), cai::Error);
  EXPECT_THROW(g.add("e", {{"x", 0}}), cai::Error);
}

TEST(WorldGrammar, HeldOutProductionsSkipCoreAndStructuralOnes) {
  Grammar g;
  // Holdable: words of their own, not core. "{x}" and "{x} {y}" are structure.
  g.add("s", {{"one", 1, true}, {"two"}, {"three"}, {"four"}, {"five"}, {"six"}, {"{x}"}});
  g.add("small", {{"a"}, {"b"}, {"c"}});  // fewer holdable than the minimum
  g.add("x", {{"{y} {y}"}, {"w {y}"}});
  g.add("y", {{"y"}});
  EXPECT_FALSE(Grammar::holdable({"{x} {y}"}));
  EXPECT_TRUE(Grammar::holdable({"w {y}"}));
  EXPECT_FALSE(Grammar::holdable({"one", 1, true}));
  Rng r1(7), r2(7);
  const auto held = held_out_productions(g, 0.4, 4, r1);
  EXPECT_EQ(held, held_out_productions(g, 0.4, 4, r2));  // deterministic
  ASSERT_EQ(held.size(), 2u);                            // 0.4 of the 5 holdable in "s"
  for (const auto& id : held) {
    EXPECT_TRUE(id.starts_with("s#")) << id;
    EXPECT_NE(id, "s#0");
    EXPECT_NE(id, "s#6");
  }
}

TEST(WorldNoise, TidyFixesSpacingAndSentenceCase) {
  EXPECT_EQ(tidy_sentences("  hi.  where is \x01"
                           "crutches\x02 ?  thanks ! "),
            "Hi. Where is \x01"
            "crutches\x02? Thanks!");
  EXPECT_EQ(strip_marks(tidy_sentences("\x01"
                                       "flu shot\x02 hours?")),
            "Flu shot hours?");
  EXPECT_EQ(tidy_sentences("my dad , I think ."), "My dad, I think.");
}

TEST(WorldNoise, ChangesTheTextButNeverTheEntity) {
  const std::string marked =
      "Hello. Could you tell me where I can pick up \x01"
      "glucose test strips\x02? Thanks.";
  Rng rng(11);
  std::size_t changed = 0;
  for (int i = 0; i < 300; ++i) {
    const std::string n = light_noise(marked, rng);
    changed += n != marked;
    const std::size_t a = n.find('\x01'), b = n.find('\x02');
    ASSERT_NE(a, std::string::npos) << n;
    const std::string inside = n.substr(a + 1, b - a - 1);
    // Lower-casing is the only change allowed inside the marks.
    EXPECT_EQ(inside, "glucose test strips") << n;
  }
  EXPECT_EQ(changed, 300u);
}
