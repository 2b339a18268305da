// Building OpenAI response bodies and server-sent-event stream chunks.
#include "cai/serve/protocol.h"

#include "cai/io/jsonl.h"

namespace cai::serve {
namespace {

using nlohmann::json;

json usage_json(const Usage& u) {
  return {{"prompt_tokens", u.prompt_tokens},
          {"completion_tokens", u.completion_tokens},
          {"total_tokens", u.prompt_tokens + u.completion_tokens}};
}

json bytes_of(const std::string& s) {
  json b = json::array();
  for (unsigned char c : s) b.push_back(static_cast<int>(c));
  return b;
}

// Legacy completions: parallel arrays and one {token: logprob} object per position.
json completion_logprobs(const std::vector<TokenLogprob>& toks, std::size_t text_offset0) {
  json tokens = json::array(), lps = json::array(), tops = json::array(), offsets = json::array();
  std::size_t off = text_offset0;
  for (const auto& t : toks) {
    if (t.text_offset) off = *t.text_offset;
    tokens.push_back(t.text);
    // A token nothing predicts (an echoed prompt's first) has null in both lists, as OpenAI.
    lps.push_back(t.logprob ? json(*t.logprob) : json(nullptr));
    json top = json::object();
    // Keys as the encoder will write them, so byte tokens that all read U+FFFD meet here and
    // the first (most likely) one is kept.
    for (const auto& [s, lp] : t.top) top.emplace(json_safe_utf8(s), lp);
    tops.push_back(t.logprob ? std::move(top) : json(nullptr));
    offsets.push_back(off);
    off += t.text.size();
  }
  return {{"tokens", tokens},
          {"token_logprobs", lps},
          {"top_logprobs", tops},
          {"text_offset", offsets}};
}

// Chat: {"content": [{"token", "logprob", "bytes", "top_logprobs": [...]}]}.
json chat_logprobs(const std::vector<TokenLogprob>& toks) {
  json content = json::array();
  for (const auto& t : toks) {
    json top = json::array();
    for (const auto& [s, lp] : t.top)
      top.push_back({{"token", s}, {"logprob", lp}, {"bytes", bytes_of(s)}});
    content.push_back({{"token", t.text},
                       {"logprob", t.logprob.value_or(0.0f)},
                       {"bytes", bytes_of(t.text)},
                       {"top_logprobs", std::move(top)}});
  }
  return {{"content", std::move(content)}};
}

json logprobs_json(Endpoint e, const std::vector<TokenLogprob>* lp) {
  if (!lp) return nullptr;
  return e == Endpoint::chat ? chat_logprobs(*lp) : completion_logprobs(*lp, 0);
}

json head(Endpoint e, const ResponseMeta& m, bool chunk) {
  const char* object = e == Endpoint::chat ? (chunk ? "chat.completion.chunk" : "chat.completion")
                                           : "text_completion";
  return {{"id", m.id}, {"object", object}, {"created", m.created}, {"model", m.model}};
}

}  // namespace

json error_body(const std::string& message, const std::string& type, const std::string& code) {
  return {{"error", {{"message", message}, {"type", type}, {"param", nullptr}, {"code", code}}}};
}

json make_response(Endpoint e, const ResponseMeta& meta, const std::vector<Choice>& choices,
                   const Usage& usage) {
  json j = head(e, meta, false);
  j["choices"] = json::array();
  for (std::size_t i = 0; i < choices.size(); ++i) {
    const Choice& c = choices[i];
    json choice = {{"index", i},
                   {"logprobs", logprobs_json(e, c.logprobs ? &*c.logprobs : nullptr)},
                   {"finish_reason", c.finish_reason}};
    if (e == Endpoint::chat)
      choice["message"] = {{"role", "assistant"}, {"content", c.text}};
    else
      choice["text"] = c.text;
    j["choices"].push_back(std::move(choice));
  }
  j["usage"] = usage_json(usage);
  return j;
}

json make_chunk(Endpoint e, const ResponseMeta& meta, std::int64_t index, const std::string& delta,
                const std::string& finish_reason, bool first,
                const std::vector<TokenLogprob>* logprobs) {
  json j = head(e, meta, true);
  json choice = {{"index", index},
                 {"logprobs", logprobs_json(e, logprobs)},
                 {"finish_reason", finish_reason.empty() ? json(nullptr) : json(finish_reason)}};
  if (e == Endpoint::chat) {
    json d = json::object();
    if (first) d["role"] = "assistant";
    if (!delta.empty() || first) d["content"] = delta;
    choice["delta"] = std::move(d);
  } else {
    choice["text"] = delta;
  }
  j["choices"] = json::array({std::move(choice)});
  return j;
}

json make_usage_chunk(Endpoint e, const ResponseMeta& meta, const Usage& usage) {
  json j = head(e, meta, true);
  j["choices"] = json::array();
  j["usage"] = usage_json(usage);
  return j;
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string sse_event(const json& j) { return "data: " + dump(j) + "\n\n"; }

}  // namespace cai::serve
