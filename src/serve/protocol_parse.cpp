// Parsing OpenAI request bodies. Every field is type-checked before use so that no input
// reaches nlohmann's throwing accessors; unknown fields are ignored (as vLLM and llama.cpp do).
#include <cmath>
#include <limits>

#include "cai/serve/protocol.h"

namespace cai::serve {
namespace {

using nlohmann::json;

[[noreturn]] void bad(const std::string& code, const std::string& message) {
  throw ApiError(400, "invalid_request_error", code, message);
}

std::string type_name(const json& j) { return j.type_name(); }

double number(const json& body, const char* key, double lo, double hi) {
  const json& v = body[key];
  if (!v.is_number())
    bad("invalid_type", fmt::format("'{}' must be a number, got {}", key, type_name(v)));
  const double x = v.get<double>();
  if (!std::isfinite(x) || x < lo || x > hi)
    bad("invalid_value", fmt::format("'{}' must be in [{}, {}], got {}", key, lo, hi, x));
  return x;
}

std::int64_t integer(const json& body, const char* key, std::int64_t lo, std::int64_t hi) {
  const json& v = body[key];
  if (!v.is_number_integer())
    bad("invalid_type", fmt::format("'{}' must be an integer, got {}", key, type_name(v)));
  if (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(hi))
    bad("invalid_value", fmt::format("'{}' must be in [{}, {}], got {}", key, lo, hi, v.dump()));
  const std::int64_t x = v.get<std::int64_t>();
  if (x < lo || x > hi)
    bad("invalid_value", fmt::format("'{}' must be in [{}, {}], got {}", key, lo, hi, x));
  return x;
}

bool boolean(const json& body, const char* key) {
  const json& v = body[key];
  if (!v.is_boolean())
    bad("invalid_type", fmt::format("'{}' must be a boolean, got {}", key, type_name(v)));
  return v.get<bool>();
}

std::string string(const json& v, const std::string& what) {
  if (!v.is_string())
    bad("invalid_type", fmt::format("'{}' must be a string, got {}", what, type_name(v)));
  return v.get<std::string>();
}

// Present and not null (clients send explicit nulls for "default").
bool has(const json& body, const char* key) { return body.contains(key) && !body[key].is_null(); }

std::vector<std::int32_t> token_ids(const json& arr) {
  std::vector<std::int32_t> ids;
  for (const auto& t : arr) {
    if (!t.is_number_integer() || t.get<std::int64_t>() < 0 ||
        t.get<std::int64_t>() > std::numeric_limits<std::int32_t>::max())
      bad("invalid_type", "'prompt' token ids must be non-negative integers");
    ids.push_back(static_cast<std::int32_t>(t.get<std::int64_t>()));
  }
  return ids;
}

void parse_prompt(const json& p, ApiRequest& r) {
  if (p.is_string()) {
    r.prompt = p.get<std::string>();
    return;
  }
  if (p.is_array() && !p.empty()) {
    if (p[0].is_number_integer()) {
      r.prompt_ids = token_ids(p);
      return;
    }
    if (p.size() == 1 && p[0].is_string()) {
      r.prompt = p[0].get<std::string>();
      return;
    }
    if (p.size() == 1 && p[0].is_array() && !p[0].empty()) {
      r.prompt_ids = token_ids(p[0]);
      return;
    }
    if (p.size() > 1)
      bad("invalid_value", "'prompt' with several prompts is not supported; send one request each");
  }
  bad("invalid_type", "'prompt' must be a string, a list of token ids, or a list of one of those");
}

void parse_messages(const json& m, ApiRequest& r) {
  if (!m.is_array() || m.empty()) bad("invalid_type", "'messages' must be a non-empty array");
  for (std::size_t i = 0; i < m.size(); ++i) {
    const json& msg = m[i];
    const std::string where = fmt::format("messages[{}]", i);
    if (!msg.is_object()) bad("invalid_type", fmt::format("'{}' must be an object", where));
    if (!msg.contains("role")) bad("invalid_value", fmt::format("'{}' has no role", where));
    ChatMessage cm;
    cm.role = string(msg["role"], where + ".role");
    if (cm.role != "system" && cm.role != "user" && cm.role != "assistant" &&
        cm.role != "developer")
      bad("invalid_value",
          fmt::format("'{}.role' must be system, user or assistant, got '{}'", where, cm.role));
    if (cm.role == "developer") cm.role = "system";
    const json c = msg.value("content", json());
    if (c.is_string()) {
      cm.content = c.get<std::string>();
    } else if (c.is_array()) {
      // Content parts: only text parts are understood.
      for (const auto& part : c) {
        if (!part.is_object() || part.value("type", json()) != "text" || !part.contains("text") ||
            !part["text"].is_string())
          bad("invalid_value",
              fmt::format("'{}.content' parts must be {{\"type\": \"text\", \"text\": ...}}",
                          where));
        cm.content += part["text"].get<std::string>();
      }
    } else if (c.is_null()) {
      bad("invalid_value", fmt::format("'{}' has no content", where));
    } else {
      bad("invalid_type", fmt::format("'{}.content' must be a string", where));
    }
    r.messages.push_back(std::move(cm));
  }
}

}  // namespace

ApiRequest parse_request(const std::string& body, Endpoint endpoint,
                         std::int64_t max_top_logprobs) {
  json j;
  try {
    j = json::parse(body);
  } catch (const json::exception& e) {
    bad("invalid_json", fmt::format("the body is not valid JSON: {}", e.what()));
  }
  if (!j.is_object()) bad("invalid_json", "the body must be a JSON object");
  ApiRequest r;
  r.endpoint = endpoint;
  if (has(j, "model")) r.model = string(j["model"], "model");
  if (endpoint == Endpoint::completions) {
    if (!has(j, "prompt")) bad("missing_field", "'prompt' is required");
    parse_prompt(j["prompt"], r);
  } else {
    if (!has(j, "messages")) bad("missing_field", "'messages' is required");
    parse_messages(j["messages"], r);
  }
  constexpr std::int64_t kMaxInt = std::numeric_limits<std::int32_t>::max();
  // 0 is checked below, once echo is known.
  if (has(j, "max_tokens")) r.max_tokens = integer(j, "max_tokens", 0, kMaxInt);
  if (has(j, "max_completion_tokens"))
    r.max_tokens = integer(j, "max_completion_tokens", 0, kMaxInt);
  if (has(j, "temperature")) r.temperature = number(j, "temperature", 0.0, 2.0);
  if (has(j, "top_p")) r.top_p = number(j, "top_p", 0.0, 1.0);
  if (r.top_p == 0.0) r.top_p = std::numeric_limits<double>::min();  // "only the top token"
  if (has(j, "top_k")) {
    r.top_k = integer(j, "top_k", -1, kMaxInt);
    if (r.top_k < 0) r.top_k = 0;  // vLLM's "-1 = off"
  }
  if (has(j, "seed")) {
    const json& s = j["seed"];
    if (!s.is_number_integer()) bad("invalid_type", "'seed' must be an integer");
    r.seed = s.is_number_unsigned() ? s.get<std::uint64_t>()
                                    : static_cast<std::uint64_t>(s.get<std::int64_t>());
  }
  if (has(j, "stop")) {
    const json& s = j["stop"];
    if (s.is_string()) {
      r.stop.push_back(s.get<std::string>());
    } else if (s.is_array()) {
      for (const auto& x : s) r.stop.push_back(string(x, "stop[]"));
    } else {
      bad("invalid_type", "'stop' must be a string or a list of strings");
    }
    for (const auto& x : r.stop)
      if (x.empty()) bad("invalid_value", "'stop' strings must not be empty");
  }
  if (has(j, "n")) r.n = integer(j, "n", 1, kMaxInt);
  if (has(j, "stream")) r.stream = boolean(j, "stream");
  if (has(j, "stream_options")) {
    const json& so = j["stream_options"];
    if (!so.is_object()) bad("invalid_type", "'stream_options' must be an object");
    if (has(so, "include_usage")) r.include_usage = boolean(so, "include_usage");
  }
  if (has(j, "ignore_eos")) r.ignore_eos = boolean(j, "ignore_eos");
  if (endpoint == Endpoint::completions) {
    // Legacy completions: `logprobs` is the number of alternatives (0 = the sampled token's only).
    if (has(j, "logprobs")) {
      r.top_logprobs = integer(j, "logprobs", 0, max_top_logprobs);
      r.logprobs = true;
    }
  } else {
    if (has(j, "logprobs")) r.logprobs = boolean(j, "logprobs");
    if (has(j, "top_logprobs")) {
      r.top_logprobs = integer(j, "top_logprobs", 0, max_top_logprobs);
      if (r.top_logprobs > 0 && !r.logprobs)
        bad("invalid_value", "'top_logprobs' needs 'logprobs' set to true");
    }
  }
  if (has(j, "echo")) r.echo = boolean(j, "echo");
  if (r.echo && endpoint == Endpoint::chat)
    bad("invalid_value", "'echo' is only supported on /v1/completions");
  if (r.echo && r.stream) bad("invalid_value", "'echo' with 'stream' is not supported");
  if (r.max_tokens && *r.max_tokens == 0 && !r.echo)
    bad("invalid_value",
        fmt::format("'max_tokens' must be in [1, {}] (0 only with 'echo'), got 0", kMaxInt));
  return r;
}

}  // namespace cai::serve
