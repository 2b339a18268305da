#include "logprob_shapes.h"

#include <cmath>
#include <limits>

#include "cai/io/error.h"

namespace cai::http {
namespace {

using nlohmann::json;

const json kNull;

const json& at(const json& j, const char* key) {
  if (!j.is_object()) return kNull;
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

const json& first_choice(const json& answer) {
  const json& c = at(answer, "choices");
  return c.is_array() && !c.empty() ? c[0] : kNull;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// OpenAI writes a token that is not whole UTF-8 characters as "bytes:\xe2\x80".
std::string decode_bytes_spelling(const std::string& s) {
  if (s.rfind("bytes:", 0) != 0 || s.size() == 6) return s;
  std::string out;
  for (std::size_t i = 6; i < s.size(); i += 4) {
    if (i + 4 > s.size() || s[i] != '\\' || s[i + 1] != 'x') return s;
    const int hi = hex_digit(s[i + 2]), lo = hex_digit(s[i + 3]);
    if (hi < 0 || lo < 0) return s;
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return out;
}

// An entry's text: `bytes` (a list of 0..255) when given, else the first string key present.
std::string token_text(const json& e, std::initializer_list<const char*> keys) {
  if (const json& b = at(e, "bytes"); b.is_array() && !b.empty()) {
    std::string out;
    for (const auto& v : b)
      if (v.is_number_integer() && v.get<std::int64_t>() >= 0 && v.get<std::int64_t>() <= 255)
        out.push_back(static_cast<char>(v.get<int>()));
    if (out.size() == b.size()) return out;
  }
  for (const char* k : keys)
    if (const json& t = at(e, k); t.is_string()) return decode_bytes_spelling(t.get<std::string>());
  return {};
}

// `logprob`, or the log of `prob` (llama.cpp's post-sampling probabilities). llama.cpp writes
// the lowest float for probability 0 (JSON has no -inf); it stays a very negative number.
std::optional<double> entry_logprob(const json& e) {
  if (const json& lp = at(e, "logprob"); lp.is_number()) return lp.get<double>();
  if (const json& p = at(e, "prob"); p.is_number()) {
    const double v = p.get<double>();
    return v > 0.0 ? std::log(v) : -std::numeric_limits<double>::infinity();
  }
  return std::nullopt;
}

// One entry of a content list or of llama.cpp's completion_probabilities.
TokenLogprob content_entry(const json& e, std::size_t k, const char* where) {
  CAI_CHECK(e.is_object(), "the server's {}[{}] is not an object", where, k);
  TokenLogprob t;
  t.token = token_text(e, {"token", "content"});
  t.logprob = entry_logprob(e);
  const json* top = &at(e, "top_logprobs");
  if (!top->is_array()) top = &at(e, "top_probs");
  if (!top->is_array()) top = &at(e, "probs");
  if (top->is_array())
    for (const auto& c : *top) {
      const auto lp = entry_logprob(c);
      if (c.is_object() && lp) t.top.push_back({token_text(c, {"token", "tok_str"}), *lp});
    }
  // Older llama.cpp gives the sampled token's probability only inside `probs`.
  if (!t.logprob)
    for (const auto& c : t.top)
      if (c.token == t.token) t.logprob = c.logprob;
  return t;
}

Logprobs content_list(const json& list, LogprobShape shape, const char* where) {
  Logprobs out;
  out.shape = shape;
  for (std::size_t k = 0; k < list.size(); ++k)
    out.tokens.push_back(content_entry(list[k], k, where));
  return out;
}

Logprobs legacy(const json& lp) {
  const json &toks = at(lp, "tokens"), &lps = at(lp, "token_logprobs"),
             &tops = at(lp, "top_logprobs"), &offs = at(lp, "text_offset");
  CAI_CHECK(toks.is_array() && lps.is_array() && toks.size() == lps.size(),
            "the server's logprobs.tokens and logprobs.token_logprobs are not lists of one length");
  Logprobs out;
  out.shape = LogprobShape::legacy;
  for (std::size_t k = 0; k < toks.size(); ++k) {
    TokenLogprob t;
    CAI_CHECK(toks[k].is_string(), "the server's logprobs.tokens[{}] is not a string", k);
    t.token = decode_bytes_spelling(toks[k].get<std::string>());
    if (lps[k].is_number()) t.logprob = lps[k].get<double>();
    if (tops.is_array() && k < tops.size() && tops[k].is_object())
      for (const auto& [tok, v] : tops[k].items())
        if (v.is_number()) t.top.push_back({decode_bytes_spelling(tok), v.get<double>()});
    if (offs.is_array() && k < offs.size() && offs[k].is_number_integer())
      t.text_offset = offs[k].get<std::int64_t>();
    out.tokens.push_back(std::move(t));
  }
  return out;
}

}  // namespace

const char* shape_name(LogprobShape s) {
  switch (s) {
    case LogprobShape::legacy:
      return "legacy completions (tokens / token_logprobs / top_logprobs)";
    case LogprobShape::content:
      return "content list (logprobs.content[])";
    case LogprobShape::native:
      return "llama.cpp completion_probabilities";
    case LogprobShape::prompt:
      return "vLLM prompt_logprobs";
    case LogprobShape::none:
      break;
  }
  return "none";
}

Logprobs answer_logprobs(const json& answer) {
  const json& lp = at(first_choice(answer), "logprobs");
  if (const json& content = at(lp, "content"); content.is_array())
    return content_list(content, LogprobShape::content, "logprobs.content");
  if (lp.is_object() && lp.contains("tokens")) return legacy(lp);
  if (const json& native = at(answer, "completion_probabilities"); native.is_array())
    return content_list(native, LogprobShape::native, "completion_probabilities");
  return {};
}

Logprobs prompt_logprobs(const json& answer) {
  const json& choice = first_choice(answer);
  const json& list = at(choice, "prompt_logprobs");
  if (!list.is_array()) return {};
  const json& ids = at(choice, "prompt_token_ids");
  Logprobs out;
  out.shape = LogprobShape::prompt;
  for (std::size_t k = 0; k < list.size(); ++k) {
    TokenLogprob t;
    const json& pos = list[k];
    if (pos.is_object() && !pos.empty()) {
      const json* own = nullptr;
      if (pos.size() == 1) {
        own = &pos.begin().value();
      } else if (ids.is_array() && k < ids.size() && ids[k].is_number_integer()) {
        const std::string key = std::to_string(ids[k].get<std::int64_t>());
        CAI_CHECK(pos.contains(key),
                  "the server's prompt_logprobs[{}] has no entry for prompt token id {}", k, key);
        own = &pos[key];
      } else {
        throw_error(
            "the server's prompt_logprobs[{}] lists {} tokens and the answer has no "
            "prompt_token_ids to tell the prompt's own token among them",
            k, pos.size());
      }
      t.token = token_text(*own, {"decoded_token"});
      t.logprob = entry_logprob(*own);
      CAI_CHECK(t.logprob.has_value(), "the server's prompt_logprobs[{}] has no logprob", k);
    } else {
      CAI_CHECK(pos.is_null() && k == 0,
                "the server's prompt_logprobs[{}] is not an object (only the first may be null)",
                k);
    }
    out.tokens.push_back(std::move(t));
  }
  return out;
}

namespace {

// From the tokens' own text: tokens [first, k) must spell text[start..] exactly.
std::optional<std::vector<std::size_t>> offsets_from_text(const Logprobs& lp,
                                                          const std::string& text) {
  const bool prompt = lp.shape == LogprobShape::prompt;
  if (lp.tokens.empty()) return std::nullopt;
  std::size_t start = 0;
  if (prompt) {
    // The first prompt token has no text: the others spell the rest of `text`.
    std::size_t rest = 0;
    for (std::size_t k = 1; k < lp.tokens.size(); ++k) rest += lp.tokens[k].token.size();
    if (rest > text.size()) return std::nullopt;
    start = text.size() - rest;
  }
  std::vector<std::size_t> offs;
  std::size_t at = 0;
  for (std::size_t k = 0; k < lp.tokens.size() && at < text.size(); ++k) {
    offs.push_back(at);
    const std::string& t = prompt && k == 0 ? text.substr(0, start) : lp.tokens[k].token;
    if (text.compare(at, t.size(), t) != 0) return std::nullopt;
    at += t.size();
  }
  if (at != text.size()) return std::nullopt;
  return offs;
}

// From legacy text_offset, in bytes or characters.
std::optional<std::vector<std::size_t>> offsets_from_text_offset(const Logprobs& lp,
                                                                 const std::string& text) {
  if (lp.shape != LogprobShape::legacy) return std::nullopt;
  std::vector<std::size_t> char_to_byte;  // character index -> byte offset (+ the end)
  for (std::size_t b = 0; b < text.size(); ++b)
    if ((static_cast<unsigned char>(text[b]) & 0xC0) != 0x80) char_to_byte.push_back(b);
  const auto n_chars = static_cast<std::int64_t>(char_to_byte.size());
  char_to_byte.push_back(text.size());
  for (const bool chars : {false, true}) {
    const std::int64_t end = chars ? n_chars : static_cast<std::int64_t>(text.size());
    std::vector<std::size_t> offs;
    bool ok = false;
    std::int64_t prev = -1;
    for (const auto& t : lp.tokens) {
      if (!t.text_offset || *t.text_offset < prev || *t.text_offset > end) break;
      prev = *t.text_offset;
      if (*t.text_offset == end) {
        ok = !offs.empty();
        break;
      }
      offs.push_back(chars ? char_to_byte[static_cast<std::size_t>(*t.text_offset)]
                           : static_cast<std::size_t>(*t.text_offset));
    }
    if (ok) return offs;
  }
  return std::nullopt;
}

}  // namespace

std::vector<std::size_t> text_token_offsets(const Logprobs& lp, const std::string& text) {
  if (auto o = offsets_from_text(lp, text)) return *o;
  if (auto o = offsets_from_text_offset(lp, text)) return *o;
  throw_error(
      "the server's {} log-probs do not line up with the prompt: their tokens do not spell it{} "
      "({} tokens for {} bytes)",
      shape_name(lp.shape),
      lp.shape == LogprobShape::legacy ? " and text_offset does not end where it does" : "",
      lp.tokens.size(), text.size());
}

}  // namespace cai::http
