// RL inputs (see include/cai/train/rl.h): prompts read from JSONL and tokenised as the
// preference loader tokenises a pair's prompt, and a reward model as a reward function.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "cai/io/error.h"
#include "cai/io/jsonl.h"
#include "cai/model/loader.h"
#include "cai/tokenizer/tokenizer.h"
#include "cai/train/reward_model.h"
#include "cai/train/rl.h"
#include "data_internal.h"

namespace cai::train {
namespace {

using nlohmann::json;

std::vector<std::int32_t> rl_encode(const Tokenizer& tok, const std::string& text) {
  return tok.encode(text, /*add_special=*/false, /*parse_special=*/true);
}

}  // namespace

std::vector<RlPrompt> load_rl_prompts(const std::string& path, const Tokenizer& tok,
                                      const ChatTemplate& tmpl, std::int64_t max_prompt_length,
                                      bool add_bos) {
  CAI_CHECK(max_prompt_length >= 1, "rl prompts: max_prompt_length must be >= 1, got {}",
            max_prompt_length);
  std::vector<RlPrompt> out;
  for_each_jsonl(path, [&](const json& j, std::size_t line) {
    const std::string where = fmt::format("{}:{}", path, line);
    CAI_CHECK(j.is_object(), "{}: expected a JSON object, got {}", where, j.type_name());
    RlPrompt p;
    p.line = static_cast<std::int64_t>(line);
    if (j.contains("prompt") && !j["prompt"].is_null()) {
      const json& f = j["prompt"];
      if (f.is_string()) {
        p.text = f.get<std::string>();
      } else {
        CAI_CHECK(f.is_array(), "{}: field prompt: expected a string or a list of messages, got {}",
                  where, f.type_name());
        p.chat = true;
        p.messages = detail::parse_messages(f, "prompt", where, /*allow_empty=*/false);
      }
    } else {
      CAI_CHECK(j.contains("messages"), "{}: expected a field \"prompt\" or \"messages\"", where);
      p.chat = true;
      p.messages = detail::parse_messages(j["messages"], "messages", where, false);
      // An SFT conversation's replies are what the policy is to write: drop them.
      while (!p.messages.empty() && p.messages.back().role == "assistant") p.messages.pop_back();
      CAI_CHECK(!p.messages.empty(), "{}: field messages: no message before the assistant's",
                where);
    }
    if (p.chat) {
      CAI_CHECK(p.messages.back().role != "assistant",
                "{}: field prompt: the last message is the assistant's; a prompt ends with the "
                "user's turn",
                where);
      p.stop = tmpl.stop_strings();
    }
    // As load_preferences tokenises a pair's prompt: BOS, then the text or the rendered
    // conversation with its generation prompt, in one piece.
    p.tokens = detail::bos_prefix(tok, add_bos);
    const auto body =
        rl_encode(tok, p.chat ? tmpl.render(p.messages, /*add_generation_prompt=*/true) : p.text);
    p.tokens.insert(p.tokens.end(), body.begin(), body.end());
    CAI_CHECK(!p.tokens.empty(), "{}: field prompt: empty after tokenization", where);
    CAI_CHECK(static_cast<std::int64_t>(p.tokens.size()) <= max_prompt_length,
              "{}: the prompt has {} tokens, over the {} a prompt may have (the model's context "
              "minus max_new_tokens, or --max-prompt-length)",
              where, p.tokens.size(), max_prompt_length);
    out.push_back(std::move(p));
  });
  CAI_CHECK(!out.empty(), "{}: no prompts", path);
  return out;
}

RewardFn reward_model_fn(RewardModel& rm, const ChatTemplate& tmpl, std::int64_t token_budget) {
  CAI_CHECK(rm.base().tokenizer.has_value(), "reward model {}: it carries no tokenizer",
            rm.base().source.string());
  return [&rm, tmpl, token_budget](const std::vector<RewardQuery>& queries) {
    const Tokenizer& tok = *rm.base().tokenizer;
    const std::int64_t ctx = rm.base().config.max_position_embeddings;
    DataOptions dopt;
    dopt.max_length = ctx;
    std::vector<std::vector<std::int32_t>> seqs;
    seqs.reserve(queries.size());
    for (const RewardQuery& q : queries) {
      CAI_CHECK(q.prompt, "reward model: a query without its prompt");
      const RlPrompt& p = *q.prompt;
      const std::string where = fmt::format("reward model: prompt at line {}", p.line);
      std::vector<std::int32_t> seq;
      if (!p.chat && q.text.empty()) {
        // What the preference loader makes of raw text, for a reply that is only EOS.
        seq = detail::bos_prefix(tok, true);
        const auto body = rl_encode(tok, p.text);
        seq.insert(seq.end(), body.begin(), body.end());
        if (tok.eos_id()) seq.push_back(*tok.eos_id());
      } else {
        // Prompt and reply tokenised exactly as the reward model's training pairs were.
        json prompt, response;
        if (p.chat) {
          prompt = json::array();
          for (const auto& m : p.messages)
            prompt.push_back({{"role", m.role}, {"content", m.content}});
          response = json::array({json{{"role", "assistant"}, {"content", q.text}}});
        } else {
          prompt = p.text;
          response = q.text;
        }
        const PromptResponse pr =
            tokenize_prompt_response(prompt, response, tok, tmpl, dopt, where);
        seq = pr.prompt;
        seq.insert(seq.end(), pr.response.begin(), pr.response.end());
      }
      CAI_CHECK(static_cast<std::int64_t>(seq.size()) <= ctx,
                "{}: prompt + response is {} tokens, over the reward model's context of {}", where,
                seq.size(), ctx);
      seqs.push_back(std::move(seq));
    }
    return rm.score(seqs, token_budget);
  };
}

}  // namespace cai::train
