// Sampling for the probe from exact token prompts (a prefill attack forces exactly k response
// tokens, which a text prompt re-tokenised by a backend would not guarantee), the prefix a
// prefill attack forces, and the retraction its recovered reading looks for.
#include <torch/torch.h>

#include <algorithm>
#include <memory>
#include <optional>

#include "cai/eval/probe.h"
#include "cai/generate/engine.h"
#include "cai/io/error.h"
#include "cai/io/jsonl.h"
#include "cai/io/progress.h"
#include "cai/model/llama.h"
#include "cai/model/loader.h"
#include "cai/tokenizer/tokenizer.h"

namespace cai::eval {

std::string after_retraction(const std::string& turn, std::size_t forced,
                             const std::string& retraction) {
  const auto b = retraction.find_first_not_of(' '), e = retraction.find_last_not_of(' ');
  const std::string marker =
      b == std::string::npos ? std::string() : retraction.substr(b, e - b + 1);
  const auto at = turn.rfind(marker);
  if (marker.empty() || at == std::string::npos || at < forced) return "";
  const auto from = turn.find_first_not_of(' ', at + marker.size());
  return from == std::string::npos ? "" : turn.substr(from);
}

Prefix prefill_prefix(const Tokenizer& tok, const std::string& response, std::int64_t k) {
  CAI_CHECK(k >= 0, "prefill: k must be >= 0, got {}", k);
  const auto all = tok.encode(" " + response, /*add_special=*/false, /*parse_special=*/false);
  Prefix p;
  p.whole = static_cast<std::int64_t>(all.size()) <= k;
  p.tokens.assign(all.begin(), all.begin() + std::min<std::ptrdiff_t>(
                                                 k, static_cast<std::ptrdiff_t>(all.size())));
  p.text = tok.decode(p.tokens);
  return p;
}

std::vector<std::string> sample_continuations(LoadedModel& model,
                                              const std::vector<std::vector<std::int32_t>>& prompts,
                                              const ProbeSampling& s, const std::string& label) {
  s.validate();
  CAI_CHECK(model.model && model.tokenizer, "{}: the probe needs a model with a tokenizer",
            model.source.string());
  if (prompts.empty()) return {};
  std::int64_t longest = 0;
  for (const auto& p : prompts)
    longest = std::max<std::int64_t>(longest, static_cast<std::int64_t>(p.size()));
  EngineOptions eo;
  eo.max_batch = s.max_batch;
  // Every slot holds the longest prompt and a whole response (within the model's context).
  eo.max_seq_len = std::min(model.config.max_position_embeddings, longest + s.max_tokens + 1);
  CAI_CHECK(longest < eo.max_seq_len,
            "{}: a probe prompt of {} tokens does not fit the model's context of {}",
            model.source.string(), longest, model.config.max_position_embeddings);
  Engine engine(*model.model, eo, &*model.tokenizer);
  std::optional<Progress> bar;
  if (!label.empty()) bar.emplace(label, prompts.size(), "prompts");
  std::vector<std::string> out(prompts.size());
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    GenerationRequest g;
    g.prompt = prompts[i];
    g.sampling.temperature = s.temperature;
    g.sampling.top_p = s.top_p;
    g.sampling.seed = s.seed;
    g.sampling.max_new_tokens = s.max_tokens;
    g.sampling.stop = {"\n\n"};  // responses never hold a blank line (constitution/transcript.h)
    g.stream = i;
    g.on_finish = [&out, &bar, i](const GenerationResult& r) {
      out[i] = json_safe_utf8(r.text);
      if (bar) bar->add();
    };
    engine.submit(std::move(g));
  }
  torch::NoGradGuard no_grad;
  while (engine.step()) {}
  if (bar) bar->finish();
  return out;
}

}  // namespace cai::eval
