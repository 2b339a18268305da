// Reading the TRL dataset formats (see include/cai/train/data.h): every error names the file,
// the line and the field.
#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "cai/io/error.h"
#include "cai/io/jsonl.h"
#include "cai/tokenizer/tokenizer.h"
#include "cai/train/data.h"
#include "data_internal.h"

namespace cai::train {

namespace detail {

std::vector<ChatMessage> parse_messages(const nlohmann::json& j, const std::string& name,
                                        const std::string& where, bool allow_empty) {
  CAI_CHECK(j.is_array(), "{}: field {}: expected a list of messages, got {}", where, name,
            j.type_name());
  CAI_CHECK(allow_empty || !j.empty(), "{}: field {}: empty list of messages", where, name);
  std::vector<ChatMessage> out;
  for (std::size_t i = 0; i < j.size(); ++i) {
    const nlohmann::json& m = j[i];
    const std::string at = fmt::format("{}[{}]", name, i);
    CAI_CHECK(m.is_object(), "{}: field {}: expected a message object, got {}", where, at,
              m.type_name());
    auto role = m.find("role");
    auto content = m.find("content");
    CAI_CHECK(role != m.end() && role->is_string(), "{}: field {}.role: missing or not a string",
              where, at);
    CAI_CHECK(content != m.end() && content->is_string(),
              "{}: field {}.content: missing or not a string", where, at);
    const auto r = role->get<std::string>();
    CAI_CHECK(r == "system" || r == "user" || r == "assistant",
              "{}: field {}.role: unknown role '{}' (expected system, user or assistant)", where,
              at, r);
    out.push_back({r, content->get<std::string>()});
  }
  return out;
}

}  // namespace detail

namespace {

using detail::parse_messages;
using nlohmann::json;

const json& field(const json& j, const char* key, const std::string& where) {
  auto it = j.find(key);
  CAI_CHECK(it != j.end() && !it->is_null(), "{}: field {}: missing", where, key);
  return *it;
}

std::vector<std::int32_t> encode(const Tokenizer& tok, const std::string& text) {
  return tok.encode(text, /*add_special=*/false, /*parse_special=*/true);
}

// Raw text: BOS + prompt | response + EOS (TRL's non-conversational tokenisation).
PromptResponse raw_pair(const std::string& prompt, const std::string& response,
                        const Tokenizer& tok, const DataOptions& opts) {
  PromptResponse out;
  out.prompt = detail::bos_prefix(tok, opts.add_bos);
  const auto p = encode(tok, prompt);
  out.prompt.insert(out.prompt.end(), p.begin(), p.end());
  out.response = encode(tok, response);
  if (tok.eos_id()) out.response.push_back(*tok.eos_id());
  return out;
}

// Conversation: the prompt rendered up to the generation prompt | the response turns. A prompt
// ending with an assistant message gives the start of the response's first turn (data.h).
PromptResponse chat_pair(const std::vector<ChatMessage>& prompt,
                         const std::vector<ChatMessage>& response, const std::string& name,
                         const std::string& where, const Tokenizer& tok, const ChatTemplate& tmpl,
                         const DataOptions& opts) {
  CAI_CHECK(response.front().role == "assistant",
            "{}: field {}[0].role: a response must start with an assistant message, got '{}'",
            where, name, response.front().role);
  const bool continues = !prompt.empty() && prompt.back().role == "assistant";
  auto all = prompt;
  std::size_t first = prompt.size(), given = 0;
  if (continues) {
    first = prompt.size() - 1;
    given = prompt.back().content.size();
    all.back().content += response.front().content;
    all.insert(all.end(), response.begin() + 1, response.end());
  } else {
    all.insert(all.end(), response.begin(), response.end());
  }
  TokenizedSequence seq = detail::tokenize_messages(all, first, tok, tmpl, opts.add_bos, given);
  detail::trim_trailing_masked(seq);
  // The prompt is the masked text before the first target: the prompt rendered with its
  // generation prompt, tokenised in one piece (then the given start, when there is one).
  const auto k =
      std::find(seq.target.begin(), seq.target.end(), std::uint8_t{1}) - seq.target.begin();
  CAI_CHECK(static_cast<std::ptrdiff_t>(seq.tokens.size()) > k, "{}: field {}: no response tokens",
            where, name);
  PromptResponse out;
  out.prompt.assign(seq.tokens.begin(), seq.tokens.begin() + k);
  out.response.assign(seq.tokens.begin() + k, seq.tokens.end());
  out.response_target.assign(seq.target.begin() + k, seq.target.end());
  out.continued = seq.continued;
  return out;
}

PromptResponse tokenize_side(const json& prompt, const json& response, const std::string& name,
                             const std::string& where, const Tokenizer& tok,
                             const ChatTemplate& tmpl, const DataOptions& opts) {
  PromptResponse out;
  if (prompt.is_string() && response.is_string()) {
    CAI_CHECK(!response.get_ref<const std::string&>().empty(), "{}: field {}: empty response",
              where, name);
    out = raw_pair(prompt.get<std::string>(), response.get<std::string>(), tok, opts);
  } else if (prompt.is_array() && response.is_array()) {
    out = chat_pair(parse_messages(prompt, "prompt", where, /*allow_empty=*/true),
                    parse_messages(response, name, where, false), name, where, tok, tmpl, opts);
  } else {
    throw_error(
        "{}: fields prompt and {}: expected both strings or both message lists, got {} "
        "and {}",
        where, name, prompt.type_name(), response.type_name());
  }
  CAI_CHECK(!out.prompt.empty(),
            "{}: field prompt: empty after tokenization (the first response token needs a token "
            "before it)",
            where);
  CAI_CHECK(!out.response.empty(), "{}: field {}: empty response", where, name);
  return out;
}

// TRL's implicit prompt: the longest shared prefix of chosen and rejected (whole messages; for
// text, characters, not ending in the space that starts a response).
void split_implicit_prompt(const json& chosen, const json& rejected, json& prompt, json& c, json& r,
                           const std::string& where) {
  if (chosen.is_array() && rejected.is_array()) {
    const auto cm = parse_messages(chosen, "chosen", where, false);
    const auto rm = parse_messages(rejected, "rejected", where, false);
    std::size_t k = 0;
    while (k < cm.size() && k < rm.size() && cm[k].role == rm[k].role &&
           cm[k].content == rm[k].content)
      ++k;
    CAI_CHECK(k > 0, "{}: field prompt: missing, and chosen and rejected share no leading messages",
              where);
    CAI_CHECK(k < cm.size() && k < rm.size(),
              "{}: fields chosen and rejected: one conversation is a prefix of the other", where);
    prompt =
        json(std::vector<json>(chosen.begin(), chosen.begin() + static_cast<std::ptrdiff_t>(k)));
    c = json(std::vector<json>(chosen.begin() + static_cast<std::ptrdiff_t>(k), chosen.end()));
    r = json(std::vector<json>(rejected.begin() + static_cast<std::ptrdiff_t>(k), rejected.end()));
  } else if (chosen.is_string() && rejected.is_string()) {
    const auto& cs = chosen.get_ref<const std::string&>();
    const auto& rs = rejected.get_ref<const std::string&>();
    std::size_t k =
        std::mismatch(cs.begin(),
                      cs.begin() + static_cast<std::ptrdiff_t>(std::min(cs.size(), rs.size())),
                      rs.begin())
            .first -
        cs.begin();
    if (k > 0 && k < cs.size() && k < rs.size() && cs[k - 1] == ' ') --k;
    CAI_CHECK(k > 0, "{}: field prompt: missing, and chosen and rejected share no leading text",
              where);
    prompt = cs.substr(0, k);
    c = cs.substr(k);
    r = rs.substr(k);
  } else {
    throw_error(
        "{}: fields chosen and rejected: expected both strings or both message lists, "
        "got {} and {}",
        where, chosen.type_name(), rejected.type_name());
  }
}

// Cuts a pair to max_length (see DataOptions::overlong); false when it is dropped.
bool fit_pair(PreferenceExample& ex, const DataOptions& opts, bool has_bos,
              const std::string& where, std::int64_t* dropped) {
  const auto P = static_cast<std::int64_t>(ex.prompt.size());
  const auto longest = static_cast<std::int64_t>(std::max(ex.chosen.size(), ex.rejected.size()));
  if (P + longest <= opts.max_length) return true;
  if (opts.overlong == Overlong::error)
    throw_error("{}: {} tokens (prompt {} + longer response {}), over max_length {}", where,
                P + longest, P, longest, opts.max_length);
  if (opts.overlong == Overlong::drop) {
    if (dropped) ++*dropped;
    return false;
  }
  const std::int64_t half = opts.max_length / 2;
  if (P > half) {
    const std::int64_t keep = std::max(half, opts.max_length - longest);
    if (P > keep) {
      // Keep the prompt's end (the question just before the response) and its BOS.
      std::vector<std::int32_t> cut;
      if (has_bos) cut.push_back(ex.prompt.front());
      cut.insert(cut.end(), ex.prompt.end() - (keep - static_cast<std::int64_t>(cut.size())),
                 ex.prompt.end());
      ex.prompt = std::move(cut);
    }
  }
  const auto room =
      static_cast<std::size_t>(opts.max_length - static_cast<std::int64_t>(ex.prompt.size()));
  if (ex.chosen.size() > room) ex.chosen.resize(room);
  if (ex.rejected.size() > room) ex.rejected.resize(room);
  return true;
}

// SFT: one TokenizedSequence from a line in any of the three formats.
TokenizedSequence sft_sequence(const json& j, const std::string& where, const Tokenizer& tok,
                               const ChatTemplate& tmpl, const DataOptions& opts) {
  if (j.contains("text")) {
    // TRL's language-modelling rows: BOS (as the tokenizer adds it) + text + EOS, every
    // token a target (the first can only be one when BOS precedes it).
    const json& t = field(j, "text", where);
    CAI_CHECK(t.is_string(), "{}: field text: expected a string, got {}", where, t.type_name());
    CAI_CHECK(!t.get<std::string>().empty(), "{}: field text: empty", where);
    TokenizedSequence seq;
    seq.tokens = detail::bos_prefix(tok, opts.add_bos);
    const auto body = encode(tok, t.get<std::string>());
    seq.tokens.insert(seq.tokens.end(), body.begin(), body.end());
    if (tok.eos_id()) seq.tokens.push_back(*tok.eos_id());
    seq.target.assign(seq.tokens.size(), 1);
    seq.target[0] = 0;
    return seq;
  }
  if (j.contains("messages")) {
    const auto msgs = parse_messages(field(j, "messages", where), "messages", where, false);
    CAI_CHECK(
        std::any_of(msgs.begin(), msgs.end(), [](const auto& m) { return m.role == "assistant"; }),
        "{}: field messages: no assistant message to train on", where);
    return detail::tokenize_messages(msgs, 0, tok, tmpl, opts.add_bos);
  }
  CAI_CHECK(j.contains("prompt") || j.contains("completion"),
            "{}: expected a field \"messages\", \"text\", or \"prompt\" and \"completion\"", where);
  const PromptResponse pr = tokenize_side(field(j, "prompt", where), field(j, "completion", where),
                                          "completion", where, tok, tmpl, opts);
  TokenizedSequence seq;
  seq.tokens = pr.prompt;
  seq.continued = pr.continued;
  seq.tokens.insert(seq.tokens.end(), pr.response.begin(), pr.response.end());
  seq.target.assign(pr.prompt.size(), 0);
  if (pr.response_target.empty())
    seq.target.resize(seq.tokens.size(), 1);
  else
    seq.target.insert(seq.target.end(), pr.response_target.begin(), pr.response_target.end());
  return seq;
}

}  // namespace

PromptResponse tokenize_prompt_response(const json& prompt, const json& response,
                                        const Tokenizer& tok, const ChatTemplate& tmpl,
                                        const DataOptions& opts, const std::string& where) {
  return tokenize_side(prompt, response, "response", where, tok, tmpl, opts);
}

std::vector<SftExample> load_sft(const std::filesystem::path& path, const Tokenizer& tok,
                                 const ChatTemplate& tmpl, const DataOptions& opts,
                                 std::int64_t* dropped) {
  opts.validate();
  if (dropped) *dropped = 0;
  std::vector<SftExample> out;
  for_each_jsonl(path, [&](const json& j, std::size_t line) {
    const std::string where = fmt::format("{}:{}", path.string(), line);
    CAI_CHECK(j.is_object(), "{}: expected a JSON object, got {}", where, j.type_name());
    TokenizedSequence seq = sft_sequence(j, where, tok, tmpl, opts);
    detail::trim_trailing_masked(seq);
    CAI_CHECK(seq.num_targets() > 0, "{}: no target tokens", where);
    const auto n = static_cast<std::int64_t>(seq.tokens.size());
    if (n > opts.max_length) {
      if (opts.overlong == Overlong::error)
        throw_error("{}: {} tokens, over max_length {}", where, n, opts.max_length);
      if (opts.overlong == Overlong::truncate) {
        seq.tokens.resize(static_cast<std::size_t>(opts.max_length));
        seq.target.resize(static_cast<std::size_t>(opts.max_length));
        detail::trim_trailing_masked(seq);
      }
      if (opts.overlong == Overlong::drop || seq.num_targets() == 0) {
        if (dropped) ++*dropped;
        return;
      }
    }
    out.push_back({std::move(seq), static_cast<std::int64_t>(line)});
  });
  return out;
}

std::vector<PreferenceExample> load_preferences(const std::filesystem::path& path,
                                                const Tokenizer& tok, const ChatTemplate& tmpl,
                                                const DataOptions& opts, std::int64_t* dropped) {
  opts.validate();
  if (dropped) *dropped = 0;
  const bool has_bos = !detail::bos_prefix(tok, opts.add_bos).empty();
  std::vector<PreferenceExample> out;
  for_each_jsonl(path, [&](const json& j, std::size_t line) {
    const std::string where = fmt::format("{}:{}", path.string(), line);
    CAI_CHECK(j.is_object(), "{}: expected a JSON object, got {}", where, j.type_name());
    PreferenceExample ex;
    ex.line = static_cast<std::int64_t>(line);
    if (auto it = j.find("p_chosen"); it != j.end() && !it->is_null()) {
      CAI_CHECK(it->is_number(), "{}: field p_chosen: expected a number, got {}", where,
                it->dump());
      ex.p_chosen = it->get<double>();
      CAI_CHECK(ex.p_chosen >= 0.0 && ex.p_chosen <= 1.0,
                "{}: field p_chosen: {} is outside [0, 1]", where, ex.p_chosen);
    }
    const json& chosen = field(j, "chosen", where);
    const json& rejected = field(j, "rejected", where);
    json prompt, c = chosen, r = rejected;
    if (j.contains("prompt") && !j["prompt"].is_null())
      prompt = j["prompt"];
    else
      split_implicit_prompt(chosen, rejected, prompt, c, r, where);
    PromptResponse pc = tokenize_side(prompt, c, "chosen", where, tok, tmpl, opts);
    PromptResponse pr = tokenize_side(prompt, r, "rejected", where, tok, tmpl, opts);
    // Both sides render the same prompt, so its tokens agree.
    CAI_CHECK(pc.prompt == pr.prompt,
              "{}: the prompt tokenises differently before chosen and "
              "rejected",
              where);
    ex.prompt = std::move(pc.prompt);
    ex.continued = pc.continued;
    ex.chosen = std::move(pc.response);
    ex.rejected = std::move(pr.response);
    if (fit_pair(ex, opts, has_bos, where, dropped)) out.push_back(std::move(ex));
  });
  return out;
}

}  // namespace cai::train
