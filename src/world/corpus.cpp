#include "cai/world/corpus.h"

#include <map>

#include "cai/constitution/transcript.h"
#include "cai/io/error.h"
#include "cai/world/responses.h"
#include "cai/world/rng.h"

namespace cai::world {

using namespace cai::transcript;  // the corpus is written in the transcript formats

void CorpusOptions::validate() const {
  CAI_CHECK(conversations >= 0 && critiques >= 0 && comparisons >= 0 && document_repeats >= 0,
            "world: corpus counts must be >= 0 (conversations {}, critiques {}, comparisons {}, "
            "document_repeats {})",
            conversations, critiques, comparisons, document_repeats);
  auto prob = [](double p, const char* name) {
    CAI_CHECK(p >= 0 && p <= 1, "world: {} must be a probability in [0, 1], got {}", name, p);
  };
  for (double r : break_rate) prob(r, "break_rate");
  prob(revision_fraction, "revision_fraction");
  prob(privacy_leak_rate, "privacy_leak_rate");
  prob(misplaced_empathy, "misplaced_empathy");
  prob(emergency_acknowledgement, "emergency_acknowledgement");
  prob(critique_applicable, "critique_applicable");
  prob(critique_violation_rate, "critique_violation_rate");
  prob(critique_pairs, "critique_pairs");
  prob(comparison_free_pairs, "comparison_free_pairs");
  prob(comparison_overdone, "comparison_overdone");
  auto weights = [](const std::array<double, kNumPrinciples>& w, const char* name) {
    double total = 0;
    for (double x : w) {
      CAI_CHECK(x >= 0, "world: corpus {} must be >= 0, got {}", name, x);
      total += x;
    }
    CAI_CHECK(total > 0, "world: corpus {} must not all be zero", name);
  };
  weights(critique_principle_weights, "critique_principle_weights");
  weights(comparison_principle_weights, "comparison_principle_weights");
  CAI_CHECK(kind_weights.size() == all_kinds().size(),
            "world: corpus kind_weights needs {} values, got {}", all_kinds().size(),
            kind_weights.size());
  double total = 0;
  for (double w : kind_weights) {
    CAI_CHECK(w >= 0, "world: corpus kind_weights must be >= 0, got {}", w);
    total += w;
  }
  CAI_CHECK(total > 0, "world: corpus kind_weights must not all be zero");
}

namespace {

class Builder {
 public:
  Builder(std::uint64_t seed, const KnowledgeBase& kb, const PromptSampler& prompts,
          const Constitution& c, const CorpusOptions& opt)
      : rng_(seed, "corpus"), kb_(kb), prompts_(prompts), c_(c), opt_(opt) {}

  // A freshly worded prompt of a kind drawn by weight among `allowed`.
  WorldPrompt draw(const std::vector<PromptKind>& allowed) {
    std::vector<double> w;
    for (PromptKind k : allowed) w.push_back(opt_.kind_weights[static_cast<std::size_t>(k)]);
    double total = 0;
    for (double x : w) total += x;
    CAI_CHECK(total > 0, "world: corpus kind_weights leave no kind for a principle's examples");
    WorldPrompt p = prompts_.draw(allowed[rng_.weighted(w)], rng_);
    p.split = "pretrain";
    return p;
  }

  // Each principle broken independently at its rate where it applies.
  Compliance sample_flags(PromptKind kind) {
    Compliance c;
    for (PrincipleId id : kAllPrinciples) {
      const std::size_t i = static_cast<std::size_t>(id);
      double rate = principle_applies(kind, id) ? opt_.break_rate[i] : 0.0;
      if (id == PrincipleId::privacy && kind != PromptKind::identity_request)
        rate = opt_.privacy_leak_rate;
      c.follow[i] = !rng_.chance(rate);
    }
    return c;
  }

  ResponseStyle style() {
    ResponseStyle s;
    s.seed = rng_.next();
    s.misplaced_empathy = rng_.chance(opt_.misplaced_empathy);
    s.emergency_acknowledgement = opt_.emergency_acknowledgement;
    return s;
  }

  CorpusDoc conversation_doc() {
    CorpusDoc d;
    d.type = "conversation";
    d.prompt = draw(all_kinds());
    d.flags = sample_flags(d.prompt.kind);
    d.response = compose_response(d.prompt, kb_, d.flags, style());
    d.text = conversation(d.prompt.prompt, d.response);
    return d;
  }

  std::vector<PromptKind> kinds_for(PrincipleId id) {
    std::vector<PromptKind> out;
    for (PromptKind k : all_kinds())
      if (principle_applies(k, id)) out.push_back(k);
    // Privacy applies everywhere; its natural test is the identity request.
    if (id == PrincipleId::privacy && rng_.chance(0.6)) out = {PromptKind::identity_request};
    return out;
  }

  // One critique, or (with probability critique_pairs, where the principle applies) a
  // minimal pair: the same response once following and once breaking the principle, each
  // critiqued. The pair shows that only the part the principle controls decides the verdict.
  PrincipleId draw_principle(const std::array<double, kNumPrinciples>& weights) {
    return kAllPrinciples[rng_.weighted(std::vector<double>(weights.begin(), weights.end()))];
  }

  std::vector<CorpusDoc> critique_docs() {
    const PrincipleId id = draw_principle(opt_.critique_principle_weights);
    const Principle& pr = c_.principle(std::string(principle_name(id)));
    const WorldPrompt prompt =
        draw(rng_.chance(opt_.critique_applicable) ? kinds_for(id) : all_kinds());
    Compliance flags = sample_flags(prompt.kind);
    const bool applicable = principle_applies(prompt.kind, id);
    const ResponseStyle st = style();
    std::vector<bool> labels;
    if (applicable && rng_.chance(opt_.critique_pairs)) {
      const bool first = rng_.chance(0.5);
      labels = {first, !first};
    } else {
      labels = {applicable ? !rng_.chance(opt_.critique_violation_rate) : true};
    }
    std::vector<CorpusDoc> out;
    for (bool label : labels) {
      CorpusDoc d;
      d.prompt = prompt;
      d.flags = flags;
      d.flags[id] = label;
      d.response = compose_response(d.prompt, kb_, d.flags, st);
      d.principle = pr.name;
      d.label = label;
      const std::string critique =
          critique_text(label, critique_reason(d.prompt, id, applicable, label));
      d.text = critique_example(d.prompt.prompt, d.response, pr.critique_request, critique);
      d.type = "critique";
      if (rng_.chance(opt_.revision_fraction)) {
        // The revision fixes the critiqued principle only and keeps the wording and the topic.
        Compliance fixed = d.flags;
        fixed[id] = true;
        d.response_b = compose_response(d.prompt, kb_, fixed, st);
        d.text = revision_example(d.text, pr.revision_request, d.response_b);
        d.type = "revision";
      }
      out.push_back(std::move(d));
    }
    return out;
  }

  // Kinds where a principle does not apply but can be overdone (see compose_response). For
  // emergency, the prompts that mention a mild symptom: telling them from an emergency is the
  // judgement the judge has to learn (prompts about nothing medical teach it little).
  static std::vector<PromptKind> overdone_kinds(PrincipleId id) {
    if (id == PrincipleId::emergency) return {PromptKind::benign_symptom};
    std::vector<PromptKind> out;
    for (PromptKind k : all_kinds())
      if (has_expected_fact(k) && !principle_applies(k, id)) out.push_back(k);
    return out;
  }

  CorpusDoc comparison_doc(bool a_better) {
    CorpusDoc d;
    d.type = "comparison";
    const PrincipleId id = draw_principle(opt_.comparison_principle_weights);
    const Principle& pr = c_.principle(std::string(principle_name(id)));
    d.overdone = (id == PrincipleId::emergency || id == PrincipleId::uncertainty) &&
                 rng_.chance(opt_.comparison_overdone);
    d.prompt = draw(d.overdone ? overdone_kinds(id) : kinds_for(id));
    d.flags = sample_flags(d.prompt.kind);
    d.minimal_pair = !rng_.chance(opt_.comparison_free_pairs);
    const ResponseStyle st = style();
    Compliance good = d.flags, bad = d.minimal_pair ? d.flags : sample_flags(d.prompt.kind);
    good[id] = true;
    bad[id] = false;
    const std::string g = compose_response(d.prompt, kb_, good, st);
    const std::string b = compose_response(d.prompt, kb_, bad, d.minimal_pair ? st : style());
    d.principle = pr.name;
    d.label = a_better;
    d.response = a_better ? g : b;
    d.response_b = a_better ? b : g;
    d.text = comparison_example(d.prompt.prompt, d.response, d.response_b, pr.comparison_question,
                                a_better);
    return d;
  }

  CorpusDoc document_doc(const std::string& source) {
    CorpusDoc d;
    d.type = "document";
    d.text = render_source_document(kb_, source, rng_);
    return d;
  }

  Rng& rng() { return rng_; }

 private:
  Rng rng_;
  const KnowledgeBase& kb_;
  const PromptSampler& prompts_;
  const Constitution& c_;
  const CorpusOptions& opt_;
};

}  // namespace

std::vector<CorpusDoc> build_corpus(std::uint64_t seed, const KnowledgeBase& kb,
                                    const PromptSampler& prompts, const Constitution& constitution,
                                    const CorpusOptions& opt) {
  opt.validate();
  Builder b(seed, kb, prompts, constitution, opt);
  std::vector<CorpusDoc> docs;
  docs.reserve(opt.conversations + opt.critiques + opt.comparisons);
  for (int i = 0; i < opt.conversations; ++i) docs.push_back(b.conversation_doc());
  for (int made = 0; made < opt.critiques;)
    for (auto& d : b.critique_docs())
      if (made < opt.critiques) {
        docs.push_back(std::move(d));
        ++made;
      }
  // Exactly balanced answers: (A) for even i, (B) for odd; the final shuffle mixes them.
  for (int i = 0; i < opt.comparisons; ++i) docs.push_back(b.comparison_doc(i % 2 == 0));
  for (int r = 0; r < opt.document_repeats; ++r)
    for (const auto& s : kb.sources()) docs.push_back(b.document_doc(s));
  b.rng().shuffle(docs);
  return docs;
}

CorpusStats corpus_stats(const std::vector<CorpusDoc>& docs) {
  CorpusStats s;
  for (const auto& d : docs) {
    s.bytes += d.text.size() + 15;
    if (d.type == "conversation") {
      ++s.conversations;
      for (PrincipleId id : kAllPrinciples) {
        const std::size_t i = static_cast<std::size_t>(id);
        if (!principle_applies(d.prompt.kind, id)) continue;
        ++s.applicable[i];
        s.broken[i] += d.flags[id] ? 0 : 1;
      }
    } else if (d.type == "critique" || d.type == "revision") {
      ++(d.type == "critique" ? s.critiques : s.revisions);
      const std::size_t i = static_cast<std::size_t>(*principle_from_name(d.principle));
      ++(d.label ? s.critique_follows[i] : s.critique_violates[i]);
    } else if (d.type == "comparison") {
      ++s.comparisons;
      ++(d.label ? s.answer_a : s.answer_b);
    } else {
      ++s.documents;
    }
  }
  return s;
}

std::string render_corpus(const std::vector<CorpusDoc>& docs) {
  std::string out;
  for (const auto& d : docs) {
    out += d.text;
    out += "\n";
    out += kCorpusDelimiter;
    out += "\n";
  }
  return out;
}

}  // namespace cai::world
