// The in-process backend: one generation Engine over a loaded model (kept across calls so the
// prefix cache carries shared few-shot prefixes from one batch to the next), the tokenizer,
// and a chat template for message requests. Option scoring reads the first token that tells
// the options apart from the next-token distribution; log-likelihoods teacher-force whole
// continuations (both with the scorer, see backend.h for the contracts).
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>
#include "cai/backend/factory.h"
#include "cai/backend/local_backend.h"
#include "cai/generate/chat.h"
#include "cai/generate/engine.h"
#include "cai/generate/scorer.h"
#include "cai/io/error.h"
#include "cai/io/jsonl.h"
#include "cai/model/llama.h"
#include "cai/model/loader.h"
#include "cai/tokenizer/token_offsets.h"

namespace cai {
namespace {

// log softmax across the options.
OptionScores normalise(std::vector<double> raw) {
  OptionScores o;
  o.raw = std::move(raw);
  double mx = -std::numeric_limits<double>::infinity();
  for (double r : o.raw) mx = std::max(mx, r);
  double z = 0.0;
  for (double r : o.raw) z += std::exp(r - mx);
  for (double r : o.raw) o.normalised.push_back(r - mx - std::log(z));
  return o;
}

constexpr std::int64_t kDefaultMaxSeqLen = 4096;

class LocalBackend final : public Backend {
 public:
  LocalBackend(std::shared_ptr<LoadedModel> model, const LocalBackendOptions& opts)
      : lm_(std::move(model)), opts_(opts) {
    opts_.validate();
    CAI_CHECK(lm_ && lm_->model, "local backend: no model");
    CAI_CHECK(lm_->tokenizer.has_value(),
              "{}: the model carries no tokenizer; the local backend needs one",
              lm_->source.string());
    if (opts_.threads > 0) set_torch_threads(opts_.threads);
    tmpl_ = pick_chat_template(&*lm_->tokenizer, opts_.chat_template);
    EngineOptions eo;
    eo.max_batch = opts_.max_batch;
    // The KV cache holds (max_batch + prefix slots) x max_seq_len positions up front; by
    // default it is capped at kDefaultMaxSeqLen so a long-context model does not reserve
    // tens of gigabytes (ask for more with max_seq_len).
    const auto ctx = lm_->config.max_position_embeddings;
    eo.max_seq_len =
        opts_.max_seq_len > 0 ? std::min(opts_.max_seq_len, ctx) : std::min(ctx, kDefaultMaxSeqLen);
    // One retained sequence per decoding slot: enough for every prompt of a batch to find the
    // conversation it continues (critique -> revision) besides the shared few-shot prefix.
    eo.prefix_cache_slots = opts_.prefix_cache ? opts_.max_batch : 0;
    engine_ = std::make_unique<Engine>(*lm_->model, eo, &*lm_->tokenizer);
  }

  std::string describe() const override { return lm_->source.string(); }
  const EngineStats& stats() const { return engine_->stats(); }

  std::vector<TextResult> generate(const std::vector<TextRequest>& requests,
                                   const std::function<void(std::size_t)>& on_done) override {
    std::vector<TextResult> out(requests.size());
    const auto max_len = engine_->options().max_seq_len;
    for (std::size_t i = 0; i < requests.size(); ++i) {
      const auto& rq = requests[i];
      rq.params.validate();
      GenerationRequest g;
      g.prompt = encode_prompt(rq);
      const auto n = static_cast<std::int64_t>(g.prompt.size());
      CAI_CHECK(n < max_len,
                "local backend: request {} has a prompt of {} tokens; the context holds {}", i, n,
                max_len);
      g.sampling.temperature = rq.params.temperature;
      g.sampling.top_p = rq.params.top_p;
      g.sampling.top_k = rq.params.top_k;
      g.sampling.seed = rq.params.seed;
      g.sampling.max_new_tokens = std::max<std::int64_t>(1, rq.params.max_tokens);
      g.sampling.stop = rq.params.stop;
      if (rq.chat)
        for (const auto& s : tmpl_.stop_strings())
          if (std::find(g.sampling.stop.begin(), g.sampling.stop.end(), s) == g.sampling.stop.end())
            g.sampling.stop.push_back(s);
      g.stream = rq.stream;
      g.on_finish = [&out, i, &on_done](const GenerationResult& r) {
        TextResult& t = out[i];
        t.text = json_safe_utf8(r.text);
        t.finish_reason = r.finish == FinishReason::length ? "length" : "stop";
        t.prompt_tokens = r.prompt_tokens;
        t.completion_tokens = static_cast<std::int64_t>(r.tokens.size());
        if (on_done) on_done(i);
      };
      engine_->submit(std::move(g));
    }
    while (engine_->step()) {}
    return out;
  }

  // The first token that tells the options apart (backend.h, OptionScores): prompt + option
  // is encoded as one text per option (tokens may merge across the boundary), and each
  // option's token right after the token prefix they all share is read from one
  // next-token distribution per request.
  std::vector<OptionScores> score_options(const std::vector<TextRequest>& requests,
                                          const std::vector<std::string>& options) override {
    CAI_CHECK(!options.empty(), "score_options: no options given");
    const auto& tok = *lm_->tokenizer;
    const auto max_len = lm_->config.max_position_embeddings;
    std::vector<std::vector<std::int32_t>> prefixes(requests.size());
    std::vector<std::vector<std::int32_t>> picks(requests.size());  // per option, its token
    std::vector<std::int32_t> cands;                                // every picked token
    for (std::size_t i = 0; i < requests.size(); ++i) {
      const std::string text = prompt_text(requests[i]);
      const bool bos = tok.prompt_wants_bos(text);
      std::vector<std::vector<std::int32_t>> full(options.size());
      for (std::size_t o = 0; o < options.size(); ++o)
        full[o] = tok.encode(text + options[o], bos, /*parse_special=*/true);
      std::size_t k = full[0].size();
      for (std::size_t o = 1; o < options.size(); ++o) {
        std::size_t j = 0;
        while (j < k && j < full[o].size() && full[o][j] == full[0][j]) ++j;
        k = j;
      }
      if (options.size() == 1) k = std::min(k, tok.encode(text, bos, true).size());
      CAI_CHECK(k >= 1, "score_options: request {} has an empty prompt", i);
      CAI_CHECK(static_cast<std::int64_t>(k) <= max_len,
                "score_options: request {} has {} tokens before the options; the model's context "
                "holds {}",
                i, k, max_len);
      for (std::size_t o = 0; o < options.size(); ++o) {
        CAI_CHECK(full[o].size() > k,
                  "score_options: option '{}' adds no token after the text the options share "
                  "(request {})",
                  options[o], i);
        for (std::size_t q = 0; q < o; ++q)
          CAI_CHECK(full[q][k] != full[o][k],
                    "score_options: options '{}' and '{}' begin with the same token after the "
                    "text they share, so one token cannot tell them apart (request {})",
                    options[q], options[o], i);
        picks[i].push_back(full[o][k]);
        cands.push_back(full[o][k]);
      }
      prefixes[i].assign(full[0].begin(), full[0].begin() + static_cast<std::ptrdiff_t>(k));
    }
    std::sort(cands.begin(), cands.end());
    cands.erase(std::unique(cands.begin(), cands.end()), cands.end());
    torch::NoGradGuard no_grad;
    const auto lps = next_token_logprobs(*lm_->model, prefixes, cands);  // [request][candidate]
    std::vector<OptionScores> out(requests.size());
    for (std::size_t i = 0; i < requests.size(); ++i) {
      std::vector<double> raw;
      for (const std::int32_t id : picks[i]) {
        const auto c = std::lower_bound(cands.begin(), cands.end(), id) - cands.begin();
        raw.push_back(lps[i][static_cast<std::size_t>(c)]);
      }
      out[i] = normalise(std::move(raw));
    }
    return out;
  }

  // Whole continuations (backend.h): prompt + continuation encoded as one text; the tokens
  // starting in [prompt end, text end) are scored by teacher forcing.
  std::vector<std::vector<double>> loglikelihoods(
      const std::vector<TextRequest>& requests,
      const std::vector<std::string>& continuations) override {
    CAI_CHECK(!continuations.empty(), "loglikelihoods: no continuations given");
    const auto& tok = *lm_->tokenizer;
    std::vector<ScoreRequest> reqs;
    reqs.reserve(requests.size() * continuations.size());
    for (std::size_t i = 0; i < requests.size(); ++i) {
      const std::string text = prompt_text(requests[i]);
      CAI_CHECK(!text.empty(), "loglikelihoods: request {} has an empty prompt", i);
      const bool bos = tok.prompt_wants_bos(text);
      for (const auto& cont : continuations) {
        const std::string whole = text + cont;
        const auto ids = tok.encode(whole, bos, /*parse_special=*/true);
        const auto offs = token_text_offsets(tok, ids, whole);
        std::size_t k = 0;
        while (k < ids.size() && offs[k] < text.size()) ++k;
        std::size_t m = k;
        while (m < ids.size() && offs[m] < whole.size()) ++m;
        CAI_CHECK(cont.empty() || m > k,
                  "loglikelihoods: the continuation '{}' has no token of its own after request "
                  "{}'s prompt (the tokenizer merges it into the prompt's last token)",
                  cont, i);
        CAI_CHECK(k >= 1, "loglikelihoods: request {} has no prompt token before the continuation",
                  i);
        ScoreRequest s;
        s.prefix.assign(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(k));
        s.continuation.assign(ids.begin() + static_cast<std::ptrdiff_t>(k),
                              ids.begin() + static_cast<std::ptrdiff_t>(m));
        reqs.push_back(std::move(s));
      }
    }
    torch::NoGradGuard no_grad;
    const auto res = score(*lm_->model, reqs);
    std::vector<std::vector<double>> out(requests.size());
    for (std::size_t i = 0; i < requests.size(); ++i)
      for (std::size_t j = 0; j < continuations.size(); ++j)
        out[i].push_back(res[i * continuations.size() + j].sum);
    return out;
  }

 private:
  // The prompt as one text (scoring tokenises it with what follows); a chat's final assistant
  // message is continued (chat_template.h).
  std::string prompt_text(const TextRequest& rq) const {
    if (!rq.chat) return rq.prompt;
    const auto c = tmpl_.render_continued(rq.messages);
    return c.prompt + c.prefill;
  }
  // Generation's prompt: a continued message is tokenised on its own after the generation
  // prompt, as training reads a given start.
  std::vector<std::int32_t> encode_prompt(const TextRequest& rq) const {
    const auto c =
        rq.chat ? tmpl_.render_continued(rq.messages) : ChatTemplate::Continued{rq.prompt, ""};
    const auto ids = lm_->tokenizer->encode_prompt(c.prompt, c.prefill);
    CAI_CHECK(!ids.empty(), "local backend: a prompt is empty after tokenization");
    return ids;
  }

  std::shared_ptr<LoadedModel> lm_;
  LocalBackendOptions opts_;
  ChatTemplate tmpl_ = ChatTemplate::by_name("human-assistant");
  std::unique_ptr<Engine> engine_;
};

}  // namespace

const EngineStats* local_engine_stats(const Backend& backend) {
  const auto* local = dynamic_cast<const LocalBackend*>(&backend);
  return local ? &local->stats() : nullptr;
}

std::unique_ptr<Backend> make_local_backend(std::shared_ptr<LoadedModel> model,
                                            const LocalBackendOptions& opts) {
  return std::make_unique<LocalBackend>(std::move(model), opts);
}

}  // namespace cai
