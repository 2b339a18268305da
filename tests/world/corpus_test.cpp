// The corpus against its own oracle: every response is built to follow or break each
// principle on purpose, so the oracle must agree with the builder on every document.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <set>

#include "cai/constitution/transcript.h"
#include "cai/io/error.h"
#include "cai/world/corpus.h"
#include "cai/world/oracle.h"
#include "cai/world/principles.h"
#include "cai/world/responses.h"

using namespace cai::world;

namespace {

struct Fixture {
  KnowledgeBase kb;
  PromptSets sets;
  std::unique_ptr<PromptSampler> prompts;  // the corpus's: held-out and eval/test prompts out
  std::vector<CorpusDoc> docs;
};

const Fixture& fixture() {
  static const Fixture f = [] {
    Fixture x;
    x.kb = build_knowledge(5, {});
    x.sets = build_prompt_sets(5, x.kb, {});
    x.prompts = std::make_unique<PromptSampler>(x.kb, x.sets.held_out, PromptOptions{}.noise);
    for (const auto* split : {&x.sets.eval, &x.sets.test})
      for (const auto& p : *split) x.prompts->reserve(p.prompt);
    // Explicit counts and rates (not the defaults), large enough for the statistical checks.
    CorpusOptions o;
    o.conversations = 8000;
    o.critiques = 3000;
    o.comparisons = 2600;
    o.document_repeats = 4;
    o.break_rate.fill(0.4);
    x.docs = build_corpus(5, x.kb, *x.prompts, telehealth_constitution(), o);
    return x;
  }();
  return f;
}

}  // namespace

TEST(WorldCorpus, BreakRatesAreNearTheConfiguredRate) {
  const CorpusStats s = corpus_stats(fixture().docs);
  ASSERT_EQ(s.conversations, 8000u);
  for (PrincipleId id : kAllPrinciples) {
    const std::size_t i = static_cast<std::size_t>(id);
    ASSERT_GT(s.applicable[i], 500u) << principle_name(id);
    const double rate = static_cast<double>(s.broken[i]) / static_cast<double>(s.applicable[i]);
    // Privacy applies to every kind but is broken at 0.4 only on identity requests, 0.05 elsewhere.
    const double want = id == PrincipleId::privacy ? 0.15 * 0.4 + 0.85 * 0.05 : 0.4;
    EXPECT_NEAR(rate, want, 0.035) << principle_name(id);
  }
}

TEST(WorldCorpus, ComparisonAnswersAreBalanced) {
  const CorpusStats s = corpus_stats(fixture().docs);
  EXPECT_EQ(s.comparisons, 2600u);
  EXPECT_EQ(s.answer_a, s.answer_b);
}

TEST(WorldCorpus, CritiqueVerdictsAreMixedForEveryPrinciple) {
  const CorpusStats s = corpus_stats(fixture().docs);
  EXPECT_EQ(s.critiques + s.revisions, 3000u);
  EXPECT_NEAR(static_cast<double>(s.revisions) / 3000.0, CorpusOptions{}.revision_fraction, 0.04);
  for (PrincipleId id : kAllPrinciples) {
    const std::size_t i = static_cast<std::size_t>(id);
    const double v = static_cast<double>(s.critique_violates[i]) /
                     (s.critique_violates[i] + s.critique_follows[i]);
    EXPECT_GT(v, 0.25) << principle_name(id);
    EXPECT_LT(v, 0.55) << principle_name(id);
  }
}

TEST(WorldCorpus, PrinciplesOfCritiquesAndComparisonsFollowTheirWeights) {
  // Weights are per draw; a minimal pair is one draw but two documents (and only where the
  // principle applies), so this corpus has none: one document per draw.
  CorpusOptions o;
  o.conversations = 1;
  o.critiques = 3000;
  o.comparisons = 2600;
  o.document_repeats = 1;
  o.critique_pairs = 0.0;
  const auto docs = build_corpus(6, fixture().kb, *fixture().prompts, telehealth_constitution(), o);
  std::array<double, kNumPrinciples> critiques{}, comparisons{};
  double n_critiques = 0, n_comparisons = 0;
  for (const auto& d : docs) {
    if (d.principle.empty()) continue;
    const std::size_t i = static_cast<std::size_t>(*principle_from_name(d.principle));
    if (d.type == "comparison") {
      ++comparisons[i];
      ++n_comparisons;
    } else {
      ++critiques[i];
      ++n_critiques;
    }
  }
  const CorpusOptions defaults;
  auto share = [](const std::array<double, kNumPrinciples>& w, std::size_t i) {
    double total = 0;
    for (double x : w) total += x;
    return w[i] / total;
  };
  // Within four binomial standard errors of the configured share.
  auto expect_share = [](double count, double n, double want, PrincipleId id) {
    EXPECT_NEAR(count / n, want, 4 * std::sqrt(want * (1 - want) / n)) << principle_name(id);
  };
  for (PrincipleId id : kAllPrinciples) {
    const std::size_t i = static_cast<std::size_t>(id);
    expect_share(critiques[i], n_critiques, share(defaults.critique_principle_weights, i), id);
    expect_share(comparisons[i], n_comparisons, share(defaults.comparison_principle_weights, i),
                 id);
  }
  CorpusOptions bad;
  bad.critique_principle_weights.fill(0);
  EXPECT_THROW(bad.validate(), cai::Error);
}

TEST(WorldCorpus, OracleAgreesWithEveryConversation) {
  const Oracle oracle(fixture().kb);
  std::size_t n = 0, pass = 0;
  for (const auto& d : fixture().docs) {
    if (d.type != "conversation") continue;
    ++n;
    const OracleVerdict v = oracle.check(d.prompt, d.response);
    for (PrincipleId id : kAllPrinciples)
      ASSERT_EQ(v[id].pass, !v[id].applicable || d.flags[id])
          << principle_name(id) << ": " << v[id].reason << "\n"
          << d.text;
    ASSERT_TRUE(v.on_topic) << d.text;
    if (v.states_right_fact) {
      ASSERT_TRUE(*v.states_right_fact) << d.text;
    }
    if (v.over_refusal) {
      ASSERT_FALSE(*v.over_refusal) << d.text;
    }
    pass += v.pass;
  }
  // The base model imitates this mix: overall compliance should sit in the 30-70% band.
  const double rate = static_cast<double>(pass) / static_cast<double>(n);
  EXPECT_GT(rate, 0.3);
  EXPECT_LT(rate, 0.45);
}

TEST(WorldCorpus, CritiqueLabelsAgreeWithTheOracleAndRevisionsStayOnTopic) {
  const Oracle oracle(fixture().kb);
  for (const auto& d : fixture().docs) {
    if (d.type != "critique" && d.type != "revision") continue;
    const PrincipleId id = *principle_from_name(d.principle);
    const OracleVerdict v = oracle.check(d.prompt, d.response);
    ASSERT_EQ(v[id].pass, d.label) << d.text;
    const std::size_t at = d.text.find("\n\nCritique: ");
    ASSERT_NE(at, std::string::npos);
    ASSERT_EQ(cai::transcript::parse_critique_verdict(d.text.substr(at + 12)), d.label);
    if (d.type == "revision") {
      const OracleVerdict r = oracle.check(d.prompt, d.response_b);
      ASSERT_TRUE(r[id].pass) << d.response_b;
      ASSERT_TRUE(r.on_topic) << d.response_b;
      if (r.states_right_fact) {
        ASSERT_TRUE(*r.states_right_fact) << d.response_b;
      }
      // Only the critiqued principle changes.
      for (PrincipleId other : kAllPrinciples)
        if (other != id) {
          ASSERT_EQ(r[other].pass, v[other].pass) << d.text;
        }
      if (d.label) {
        ASSERT_EQ(d.response, d.response_b);
      }
    }
  }
}

TEST(WorldCorpus, ComparisonPairsDifferInTheAskedPrinciple) {
  const Oracle oracle(fixture().kb);
  for (const auto& d : fixture().docs) {
    if (d.type != "comparison") continue;
    const PrincipleId id = *principle_from_name(d.principle);
    const OracleVerdict a = oracle.check(d.prompt, d.response),
                        b = oracle.check(d.prompt, d.response_b);
    if (d.overdone) continue;  // ComparisonsOverdoingAPrincipleShowItWhereItDoesNotApply
    ASSERT_EQ(a[id].pass, d.label) << d.text;
    ASSERT_EQ(b[id].pass, !d.label) << d.text;
    if (d.minimal_pair)
      for (PrincipleId other : kAllPrinciples)
        if (other != id) {
          ASSERT_EQ(a[other].pass, b[other].pass) << principle_name(other) << "\n" << d.text;
        }
    ASSERT_TRUE(d.text.ends_with(d.label ? "The answer is: (A)" : "The answer is: (B)"));
  }
}

// The worse response of an overdone pair sends a patient with no emergency to 911, or claims
// not to know a fact the documents give; the better one does neither. The oracle passes both
// on the asked principle (it does not apply) and counts the worse one as over-refusal.
TEST(WorldCorpus, ComparisonsOverdoingAPrincipleShowItWhereItDoesNotApply) {
  const Oracle oracle(fixture().kb);
  int overdone = 0, eligible = 0;
  std::set<std::string> kinds;
  for (const auto& d : fixture().docs) {
    if (d.type != "comparison") continue;
    const PrincipleId id = *principle_from_name(d.principle);
    if (id != PrincipleId::emergency && id != PrincipleId::uncertainty) {
      ASSERT_FALSE(d.overdone);
      continue;
    }
    ++eligible;
    if (!d.overdone) continue;
    ++overdone;
    kinds.insert(std::string(kind_name(d.prompt.kind)));
    ASSERT_FALSE(principle_applies(d.prompt.kind, id)) << d.text;
    const std::string& better = d.label ? d.response : d.response_b;
    const std::string& worse = d.label ? d.response_b : d.response;
    const OracleVerdict g = oracle.check(d.prompt, better), w = oracle.check(d.prompt, worse);
    ASSERT_TRUE(g[id].pass && w[id].pass) << d.text;
    if (id == PrincipleId::emergency) {
      ASSERT_TRUE(redirects_to_emergency(worse, 2)) << worse;  // after the acknowledgement
      ASSERT_FALSE(redirects_to_emergency(better, 1000)) << better;
    } else {
      ASSERT_TRUE(has_expected_fact(d.prompt.kind));
      ASSERT_TRUE(expresses_uncertainty(worse)) << worse;
      ASSERT_FALSE(w.states_right_fact.value_or(true)) << worse;
      ASSERT_FALSE(expresses_uncertainty(better)) << better;
      ASSERT_TRUE(g.states_right_fact.value_or(false)) << better;
    }
    if (w.over_refusal) {
      ASSERT_TRUE(*w.over_refusal) << worse;
    }
    if (g.over_refusal) {
      ASSERT_FALSE(*g.over_refusal) << better;
    }
    ASSERT_TRUE(d.text.ends_with(d.label ? "The answer is: (A)" : "The answer is: (B)"));
  }
  // The default share (0.3) of emergency and uncertainty comparisons, over every kind they
  // can be overdone on: benign symptoms (911), and answerable, benign-symptom and privacy
  // questions ("I don't know").
  ASSERT_GT(eligible, 300);
  EXPECT_NEAR(static_cast<double>(overdone) / eligible, CorpusOptions{}.comparison_overdone, 0.06);
  EXPECT_EQ(kinds, (std::set<std::string>{"answerable", "benign_symptom", "privacy_policy"}));
}

TEST(WorldCorpus, TurnsNeverContainABlankLine) {
  // Generation stops a response at "\n\n"; no turn may contain one.
  for (const auto& d : fixture().docs) {
    if (d.type == "document") continue;
    ASSERT_EQ(d.prompt.prompt.find("\n\n"), std::string::npos);
    ASSERT_EQ(d.response.find("\n"), std::string::npos) << d.response;
    ASSERT_EQ(d.response_b.find("\n"), std::string::npos) << d.response_b;
  }
}

TEST(WorldCorpus, UsesNoHeldOutProductionAndNoEvalOrTestPrompt) {
  std::set<std::string> reserved;
  for (const auto* s : {&fixture().sets.eval, &fixture().sets.test})
    for (const auto& p : *s) reserved.insert(prompt_key(p.prompt));
  std::set<std::string> prompts;
  for (const auto& d : fixture().docs) {
    if (d.type == "document") continue;
    ASSERT_FALSE(d.prompt.productions.empty());
    for (const auto& id : d.prompt.productions)
      ASSERT_FALSE(fixture().sets.held_out.count(id)) << id;
    ASSERT_FALSE(reserved.count(prompt_key(d.prompt.prompt))) << d.prompt.prompt;
    prompts.insert(d.prompt.prompt);
  }
  // Worded afresh for every document: nearly every prompt is different.
  EXPECT_GT(prompts.size(), 3 * fixture().docs.size() / 4);
}

// emergency_acknowledgement sets how many emergency responses open with an emergency's own
// acknowledgement: none at 0, all at 1, near the share between; every one passes the oracle.
TEST(WorldCorpus, EmergencyAcknowledgementShare) {
  const Oracle oracle(fixture().kb);
  std::vector<const WorldPrompt*> emergencies;
  for (const auto& p : fixture().sets.test)
    if (p.kind == PromptKind::emergency) emergencies.push_back(&p);
  ASSERT_FALSE(emergencies.empty());
  const auto own_opening = [](const std::string& r) {
    const std::string first = r.substr(0, r.find('.'));
    for (const char* w : {"frightening", "scary", "worrying", "alarming"})
      if (first.find(w) != std::string::npos) return true;
    return false;
  };
  for (double share : {0.0, 0.3, 1.0}) {
    int own = 0;
    const int n = 2000;
    for (int i = 0; i < n; ++i) {
      const WorldPrompt& p = *emergencies[static_cast<std::size_t>(i) % emergencies.size()];
      ResponseStyle st;
      st.seed = static_cast<std::uint64_t>(i) * 104729 + 1;
      st.emergency_acknowledgement = share;
      const std::string r = compose_response(p, fixture().kb, Compliance{}, st);
      ASSERT_TRUE(oracle.check(p, r).pass_strict) << r;
      own += own_opening(r);
    }
    EXPECT_NEAR(static_cast<double>(own) / n, share, 0.04) << share;
  }
  CorpusOptions bad;
  bad.emergency_acknowledgement = 1.5;
  EXPECT_THROW(bad.validate(), cai::Error);
}

TEST(WorldCorpus, EveryResponseWordingMatchesTheOracle) {
  // The generator's "good" responses pass and each deliberately broken one fails exactly its
  // principle, on prompts (and held-out wordings) the corpus never used. Four thousand styles
  // reach every wording of every response part many times over.
  const Oracle oracle(fixture().kb);
  const auto& test = fixture().sets.test;
  std::set<std::string> good_texts;
  for (std::uint64_t seed = 1; seed <= 4000; ++seed) {
    const WorldPrompt& p = test[seed % test.size()];
    ResponseStyle st;
    st.seed = seed * 7919;
    const std::string good = compose_response(p, fixture().kb, Compliance{}, st);
    good_texts.insert(good);
    const OracleVerdict v = oracle.check(p, good);
    ASSERT_TRUE(v.pass_strict) << p.prompt << "\n" << good;
    if (v.over_refusal) {
      ASSERT_FALSE(*v.over_refusal) << good;
    }
    for (PrincipleId id : kAllPrinciples) {
      if (!principle_applies(p.kind, id)) continue;
      Compliance c;
      c[id] = false;
      st.misplaced_empathy = seed % 2;
      const std::string bad_text = compose_response(p, fixture().kb, c, st);
      const OracleVerdict bad = oracle.check(p, bad_text);
      ASSERT_FALSE(bad[id].pass) << principle_name(id) << ": " << p.prompt << "\n" << bad_text;
      for (PrincipleId other : kAllPrinciples)
        if (other != id) {
          ASSERT_TRUE(bad[other].pass) << principle_name(other) << ": " << bad_text;
        }
      ASSERT_TRUE(bad.on_topic) << bad_text;
    }
  }
  EXPECT_GT(good_texts.size(), 3500u);  // responses vary as much as prompts do
}

TEST(WorldCorpus, OracleAgreesAcrossSeeds) {
  // Every seed draws different services, items and pairs; none may trip the oracle's rules.
  CorpusOptions small;
  small.conversations = 1500;
  small.critiques = 400;
  small.comparisons = 400;
  small.document_repeats = 1;
  for (std::uint64_t seed = 10; seed < 20; ++seed) {
    const KnowledgeBase kb = build_knowledge(seed, {});
    const PromptSampler prompts(kb, held_out_productions(seed, PromptOptions{}), 0.3);
    const Oracle oracle(kb);
    for (const auto& d : build_corpus(seed, kb, prompts, telehealth_constitution(), small)) {
      if (d.type == "document") continue;
      const OracleVerdict v = oracle.check(d.prompt, d.response);
      ASSERT_TRUE(v.on_topic) << "seed " << seed << ": " << d.text;
      // (A) of an overdone pair may be the one that claims not to know the fact.
      if (v.states_right_fact && !(d.overdone && !d.label)) {
        ASSERT_TRUE(*v.states_right_fact) << "seed " << seed << ": " << d.text;
      }
      if (d.type == "conversation") {
        for (PrincipleId id : kAllPrinciples) {
          ASSERT_EQ(v[id].pass, !v[id].applicable || d.flags[id])
              << "seed " << seed << ": " << d.text;
        }
      } else if (d.type != "comparison") {
        ASSERT_EQ(v[*principle_from_name(d.principle)].pass, d.label)
            << "seed " << seed << ": " << d.text;
      }
    }
  }
}
