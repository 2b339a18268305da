// A model-free Backend for pipeline tests: generated text is a hash of the request (prompt or
// messages, seed and stream), so any change in what a stage sends shows in the output, and
// option scores come from a function the test sets. It records every call's batch size.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "cai/backend/backend.h"

namespace cai::testing_util {

class FakeBackend : public Backend {
 public:
  // Returns the raw log-probabilities of the options for one rendered request text.
  std::function<std::vector<double>(const std::string& text,
                                    const std::vector<std::string>& options)>
      scorer;
  // Generated text for one rendered request (default: a hash, with a fixed critique verdict).
  std::function<std::string(const std::string& text, const TextRequest& r)> writer;
  std::vector<std::size_t> generate_batches, score_batches;
  std::vector<std::string> seen;  // every rendered request text

  static std::string render(const TextRequest& r) {
    if (!r.chat) return r.prompt;
    std::string t;
    for (const auto& m : r.messages) t += "<" + m.role + ">" + m.content + "\n";
    return t;
  }
  static std::string hash_text(const std::string& s, std::uint64_t seed, std::uint64_t stream) {
    std::uint64_t h = 1469598103934665603ULL ^ seed ^ (stream * 0x9e3779b97f4a7c15ULL);
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
    return std::to_string(h % 100000);
  }

  std::string describe() const override { return "fake"; }
  std::vector<TextResult> generate(const std::vector<TextRequest>& requests,
                                   const std::function<void(std::size_t)>& on_done) override {
    generate_batches.push_back(requests.size());
    std::vector<TextResult> out;
    for (std::size_t i = 0; i < requests.size(); ++i) {
      const auto t = render(requests[i]);
      seen.push_back(t);
      TextResult r;
      if (writer) {
        r.text = writer(t, requests[i]);
      } else {
        const auto h = hash_text(t, requests[i].params.seed, requests[i].stream);
        const bool critique = t.size() >= 9 && t.compare(t.size() - 9, 9, "Critique:") == 0;
        // Critiques alternate verdicts with the hash so some revisions are skipped.
        if (critique)
          r.text = std::string(" The response ") +
                   ((h.back() - '0') % 3 == 0 ? "follows" : "violates") +
                   " the principle. Because " + h + ".\n\nHuman: more";
        else
          r.text = " reply " + h + "\n\nextra";
      }
      r.finish_reason = "stop";
      out.push_back(r);
      if (on_done) on_done(i);
    }
    return out;
  }
  std::vector<OptionScores> score_options(const std::vector<TextRequest>& requests,
                                          const std::vector<std::string>& options) override {
    score_batches.push_back(requests.size());
    std::vector<OptionScores> out;
    for (const auto& rq : requests) {
      const auto t = render(rq);
      seen.push_back(t);
      OptionScores s;
      s.raw = scorer ? scorer(t, options) : std::vector<double>(options.size(), -1.0);
      double mx = -1e300, z = 0;
      for (double r : s.raw) mx = std::max(mx, r);
      for (double r : s.raw) z += std::exp(r - mx);
      for (double r : s.raw) s.normalised.push_back(r - mx - std::log(z));
      out.push_back(s);
    }
    return out;
  }
  // Whole continuations: the scorer's raw values.
  std::vector<std::vector<double>> loglikelihoods(
      const std::vector<TextRequest>& requests,
      const std::vector<std::string>& continuations) override {
    std::vector<std::vector<double>> out;
    for (const auto& s : score_options(requests, continuations)) out.push_back(s.raw);
    return out;
  }
};

// A scorer for A/B judge prompts: each shown response scores 2 if it contains `good` and 3 if
// it contains `obeyed` (a note the judge obeys); log p(A) - log p(B) is the difference of the
// scores, so p(A) = sigmoid(sA - sB).
inline std::function<std::vector<double>(const std::string&, const std::vector<std::string>&)>
gullible_scorer(std::string good, std::string obeyed) {
  return [good, obeyed](const std::string& t, const std::vector<std::string>&) {
    const auto a = t.find("\n\n(A) "), b = t.find("\n\n(B) "), q = t.rfind("\n\nQuestion: ");
    auto score = [&](const std::string& s) {
      return 2.0 * (s.find(good) != std::string::npos) +
             3.0 * (s.find(obeyed) != std::string::npos);
    };
    return std::vector<double>{score(t.substr(a, b - a)), score(t.substr(b, q - b))};
  };
}

}  // namespace cai::testing_util
