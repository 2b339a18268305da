// Training datasets: JSONL in the formats TRL reads, tokenised once with a chat template.
//
//   SFT:         {"messages": [{"role", "content"}, ...]}           (loss on assistant turns)
//                {"prompt": str, "completion": str}                  (raw text, no template)
//                {"prompt": [messages], "completion": [messages]}    (conversational; loss on
//                                                                     the completion's assistant
//                                                                     turns)
//                {"text": str}                                       (language modelling: loss on
//                                                                     every token; BOS as the
//                                                                     tokenizer adds it, EOS
//                                                                     appended)
//   preferences: {"prompt", "chosen", "rejected"} as strings (raw text) or message lists (a
//                response list starts with an assistant message); "prompt" may be absent
//                when chosen/rejected share a prefix (TRL's implicit prompt: the shared leading
//                messages, or for text the shared leading characters without the space that
//                starts the replies); optional "p_chosen" in [0, 1] (default 1.0).
//
// Conversations are tokenised segment by segment: each segment is the text the template adds
// between two renders (render(messages[:i]) -> render(messages[:i+1])), tokenised on its own.
// That is exactly how the tokens look at inference (the prompt is tokenised alone, the reply is
// generated token by token), so training and generation see the same boundaries. An assistant
// segment (its content plus the template's end-of-turn text; EOS appended when the template has
// none) is a target; everything else is masked. Masked text between two targets (the tail of a
// turn, the next user turn, the next generation prompt) is tokenised as one piece, so the first
// prompt is tokenised exactly as at inference.
//
// A conversational prompt may end with an assistant message: the response's first assistant
// message then continues it (transformers' continue_final_message, which TRL applies to a prompt
// ending with an assistant turn). The given start is context, tokenised on its own after the
// generation prompt as a prefill is at inference, and only the continuation is a target; e.g.
// a recovery row {"prompt": [user, {"role": "assistant", "content": "<a violating start>"}],
// "completion": [{"role": "assistant", "content": " - actually, ... <compliant response>"}]}
// trains the return without training the violating start.
//
// Raw-text examples (prompt / completion or chosen / rejected as strings) are tokenised without
// a template: BOS (see DataOptions::add_bos) + prompt, then the response with EOS appended, as
// TRL does. Special tokens written in any text ("<|im_end|>") are recognised.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "cai/io/options.h"
#include "cai/tokenizer/chat_template.h"

namespace cai {

class Tokenizer;

namespace train {

// One token sequence and which positions are targets: target[i] = 1 when tokens[i] is
// predicted (from tokens[..i-1]) and counts in the loss. target[0] is always 0.
struct TokenizedSequence {
  std::vector<std::int32_t> tokens;
  std::vector<std::uint8_t> target;
  // Tokens of the assistant turn given before its first target (a continued final message):
  // response positions count from them (the token-wise constraint's beta_t).
  std::int64_t continued = 0;
  std::int64_t num_targets() const;
};

struct SftExample {
  TokenizedSequence seq;
  std::int64_t line = 0;  // 1-based line in the source file
};

// Prompt and responses tokenised separately: chosen sequence = prompt + chosen, and so on.
struct PreferenceExample {
  std::vector<std::int32_t> prompt;
  std::vector<std::int32_t> chosen;  // response tokens (end-of-turn / EOS included)
  std::vector<std::int32_t> rejected;
  std::int64_t continued = 0;  // the prompt's last tokens that start the responses' turn
  double p_chosen = 1.0;       // soft label: probability that chosen is better
  std::int64_t line = 0;
};

// What to do with a sequence over max_length. truncate: SFT keeps the first max_length tokens
// (an example left without targets is dropped). Preferences: a prompt longer than
// max_length / 2 first loses its start (BOS kept) down to max(max_length / 2, max_length -
// longer response), as TRL's keep_end prompt truncation; then the responses lose their ends.
enum class Overlong { error, truncate, drop };
constexpr std::array<opt::EnumName<Overlong>, 3> enum_names(Overlong) {
  return {{{Overlong::error, "error"}, {Overlong::truncate, "truncate"}, {Overlong::drop, "drop"}}};
}

struct DataOptions {
  std::int64_t max_length = 1024;
  Overlong overlong = Overlong::truncate;
  bool add_bos = true;
  static void fields(opt::Fields<DataOptions>& f) {
    f("max_length", &DataOptions::max_length,
      "tokens per sequence, at most the model's context (preferences: prompt + longer response)",
      opt::min(2));
    f("overlong", &DataOptions::overlong, "what to do with a longer sequence");
    f("add_bos", &DataOptions::add_bos,
      "prepend BOS when the tokenizer's configuration adds one, as inference does");
  }
  void validate() const { opt::validate(*this, "data options"); }
};

// Throws cai::Error naming the file and line for malformed JSON, a missing or mistyped field,
// an unknown role, a p_chosen outside [0, 1], an empty response, or (Overlong::error) a
// sequence over max_length. `dropped` (optional) receives the number of lines dropped.
std::vector<SftExample> load_sft(const std::filesystem::path& path, const Tokenizer& tok,
                                 const ChatTemplate& tmpl, const DataOptions& opts,
                                 std::int64_t* dropped = nullptr);
std::vector<PreferenceExample> load_preferences(const std::filesystem::path& path,
                                                const Tokenizer& tok, const ChatTemplate& tmpl,
                                                const DataOptions& opts,
                                                std::int64_t* dropped = nullptr);

// Tokenises one conversation (see the file comment); exposed for tests and other stages.
TokenizedSequence tokenize_conversation(const std::vector<ChatMessage>& messages,
                                        const Tokenizer& tok, const ChatTemplate& tmpl,
                                        bool add_bos);

// One prompt and one response tokenised as load_preferences does (both strings: raw text; both
// message lists: the chat template, the response starting with an assistant message), e.g. to
// score responses with a reward model. No length limit is applied. `where` ("file:line")
// prefixes errors.
struct PromptResponse {
  std::vector<std::int32_t> prompt;
  std::vector<std::int32_t> response;
  std::int64_t continued = 0;  // the prompt's last tokens that start the response's turn
  // Message lists: which response tokens are an assistant turn's (the text between turns is
  // not); empty for raw text, where every response token is.
  std::vector<std::uint8_t> response_target;
};
PromptResponse tokenize_prompt_response(const nlohmann::json& prompt,
                                        const nlohmann::json& response, const Tokenizer& tok,
                                        const ChatTemplate& tmpl, const DataOptions& opts,
                                        const std::string& where);

// Deterministic held-out split: round(fraction * n) of 0..n-1, at least one and at most n - 1
// when fraction > 0 and n > 1 (none otherwise), chosen by `seed`; returns {train indices,
// held-out indices}, each sorted. fraction in [0, 1).
std::pair<std::vector<std::int64_t>, std::vector<std::int64_t>> split_held_out(std::int64_t n,
                                                                               double fraction,
                                                                               std::uint64_t seed);

// One epoch's micro-batches: the examples (by position in `lengths`) are shuffled by
// (seed, epoch), then grouped in that order into micro-batches whose padded size
// (rows x longest length) stays within `token_budget` (a single longer example gets a
// micro-batch of its own). Deterministic: the same arguments give the same plan.
std::vector<std::vector<std::int64_t>> plan_epoch(const std::vector<std::int64_t>& lengths,
                                                  std::int64_t token_budget, std::uint64_t seed,
                                                  std::int64_t epoch);

}  // namespace train
}  // namespace cai
