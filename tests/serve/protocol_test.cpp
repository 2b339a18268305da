// The OpenAI wire format on its own: request parsing (types, ranges, defaults, the legacy
// and chat log-prob fields) and the shapes of responses and stream chunks.
#include <gtest/gtest.h>

#include <string>

#include "cai/serve/protocol.h"

using cai::serve::ApiError;
using cai::serve::Endpoint;
using cai::serve::parse_request;
using nlohmann::json;

namespace {

ApiError error_of(const std::string& body, Endpoint e = Endpoint::completions) {
  try {
    parse_request(body, e);
  } catch (const ApiError& err) {
    return err;
  }
  return ApiError(0, "", "", "(no error)");
}

}  // namespace

TEST(ServeProtocol, ParsesACompletionRequest) {
  auto r = parse_request(
      R"({"model":"m","prompt":"Hi","max_tokens":5,"temperature":0,"top_p":0.9,"top_k":3,
          "seed":7,"stop":"\n","stream":true,"stream_options":{"include_usage":true},
          "logprobs":2,"ignore_eos":true,"user":"ignored"})",
      Endpoint::completions);
  EXPECT_EQ(r.model, "m");
  EXPECT_EQ(r.prompt, "Hi");
  EXPECT_EQ(*r.max_tokens, 5);
  EXPECT_EQ(r.temperature, 0.0);
  EXPECT_DOUBLE_EQ(r.top_p, 0.9);
  EXPECT_EQ(r.top_k, 3);
  EXPECT_EQ(*r.seed, 7u);
  EXPECT_EQ(r.stop, std::vector<std::string>{"\n"});
  EXPECT_TRUE(r.stream && r.include_usage && r.ignore_eos && r.logprobs);
  EXPECT_EQ(r.top_logprobs, 2);
  auto ids = parse_request(R"({"prompt":[1,2,3]})", Endpoint::completions);
  ASSERT_TRUE(ids.prompt_ids.has_value());
  EXPECT_EQ(*ids.prompt_ids, (std::vector<std::int32_t>{1, 2, 3}));
  EXPECT_FALSE(ids.max_tokens.has_value());
  EXPECT_EQ(ids.temperature, 1.0);  // OpenAI's default
  EXPECT_EQ(ids.n, 1);
  EXPECT_EQ(parse_request(R"({"prompt":"x","n":3})", Endpoint::completions).n, 3);
}

TEST(ServeProtocol, ParsesAChatRequest) {
  auto r = parse_request(
      R"({"messages":[{"role":"system","content":"s"},
                      {"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}],
          "logprobs":true,"top_logprobs":4,"max_completion_tokens":9,"stop":["x","y"]})",
      Endpoint::chat);
  ASSERT_EQ(r.messages.size(), 2u);
  EXPECT_EQ(r.messages[1].content, "ab");
  EXPECT_TRUE(r.logprobs);
  EXPECT_EQ(r.top_logprobs, 4);
  EXPECT_EQ(*r.max_tokens, 9);
  EXPECT_EQ(r.stop.size(), 2u);
}

TEST(ServeProtocol, RejectsMalformedRequestsNamingTheField) {
  struct Case {
    const char* body;
    Endpoint e;
    const char* needle;
  };
  const Case cases[] = {
      {"{not json", Endpoint::completions, "not valid JSON"},
      {"[1,2]", Endpoint::completions, "JSON object"},
      {R"({"max_tokens":3})", Endpoint::completions, "'prompt' is required"},
      {R"({"prompt":5})", Endpoint::completions, "'prompt'"},
      {R"({"prompt":["a","b"]})", Endpoint::completions, "several prompts"},
      {R"({"prompt":[1,-2]})", Endpoint::completions, "token ids"},
      {R"({"prompt":"x","max_tokens":"10"})", Endpoint::completions,
       "'max_tokens' must be an integer"},
      {R"({"prompt":"x","max_tokens":0})", Endpoint::completions, "'max_tokens' must be in"},
      {R"({"prompt":"x","max_tokens":1e30})", Endpoint::completions,
       "'max_tokens' must be an integer"},
      {R"({"prompt":"x","temperature":-1})", Endpoint::completions, "'temperature'"},
      {R"({"prompt":"x","top_p":"a"})", Endpoint::completions, "'top_p' must be a number"},
      {R"({"prompt":"x","stop":[""]})", Endpoint::completions, "'stop'"},
      {R"({"prompt":"x","stop":7})", Endpoint::completions, "'stop'"},
      {R"({"prompt":"x","logprobs":21})", Endpoint::completions, "'logprobs'"},
      {R"({"prompt":"x","stream":"yes"})", Endpoint::completions, "'stream' must be a boolean"},
      {R"({"prompt":"x","n":0})", Endpoint::completions, "'n' must be in [1,"},
      {R"({"prompt":"x","n":"2"})", Endpoint::completions, "'n' must be an integer"},
      {R"({"prompt":"x","model":3})", Endpoint::completions, "'model' must be a string"},
      {R"({"messages":[]})", Endpoint::chat, "'messages'"},
      {R"({"messages":"hi"})", Endpoint::chat, "'messages'"},
      {R"({"messages":[{"content":"x"}]})", Endpoint::chat, "no role"},
      {R"({"messages":[{"role":"wizard","content":"x"}]})", Endpoint::chat, "role"},
      {R"({"messages":[{"role":"user","content":5}]})", Endpoint::chat, "content"},
      {R"({"messages":[{"role":"user","content":"x"}],"top_logprobs":2})", Endpoint::chat,
       "needs 'logprobs'"},
      {R"({"messages":[{"role":"user","content":"x"}],"logprobs":1})", Endpoint::chat,
       "'logprobs' must be a boolean"},
  };
  for (const auto& c : cases) {
    const ApiError e = error_of(c.body, c.e);
    EXPECT_EQ(e.status, 400) << c.body;
    EXPECT_EQ(e.type, "invalid_request_error") << c.body;
    EXPECT_NE(std::string(e.what()).find(c.needle), std::string::npos)
        << c.body << " -> " << e.what();
  }
}

TEST(ServeProtocol, FormatsResponsesAndChunks) {
  cai::serve::ResponseMeta m{"cmpl-1", 123, "tiny"};
  std::vector<cai::serve::TokenLogprob> lp = {{"He", -0.5f, {{"He", -0.5f}, {"Hi", -1.0f}}, {}},
                                              {"llo", -0.25f, {}, {}}};
  using Choice = cai::serve::Choice;
  auto c =
      cai::serve::make_response(Endpoint::completions, m, {Choice{"Hello", "length", lp}}, {3, 2});
  EXPECT_EQ(c["object"], "text_completion");
  EXPECT_EQ(c["choices"][0]["text"], "Hello");
  EXPECT_EQ(c["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(c["usage"]["total_tokens"], 5);
  EXPECT_EQ(c["choices"][0]["logprobs"]["tokens"], json({"He", "llo"}));
  EXPECT_EQ(c["choices"][0]["logprobs"]["text_offset"], json({0, 2}));
  EXPECT_DOUBLE_EQ(c["choices"][0]["logprobs"]["top_logprobs"][0]["Hi"].get<double>(), -1.0);
  auto chat = cai::serve::make_response(Endpoint::chat, m, {Choice{"Hello", "stop", lp}}, {3, 2});
  EXPECT_EQ(chat["object"], "chat.completion");
  EXPECT_EQ(chat["choices"][0]["message"]["content"], "Hello");
  EXPECT_EQ(chat["choices"][0]["logprobs"]["content"][0]["top_logprobs"][1]["token"], "Hi");
  EXPECT_EQ(chat["choices"][0]["logprobs"]["content"][1]["bytes"], json({'l', 'l', 'o'}));
  auto first = cai::serve::make_chunk(Endpoint::chat, m, 0, "", "", true, nullptr);
  EXPECT_EQ(first["object"], "chat.completion.chunk");
  EXPECT_EQ(first["choices"][0]["delta"]["role"], "assistant");
  EXPECT_TRUE(first["choices"][0]["finish_reason"].is_null());
  auto last = cai::serve::make_chunk(Endpoint::completions, m, 2, "!", "stop", false, nullptr);
  EXPECT_EQ(last["choices"][0]["text"], "!");
  EXPECT_EQ(last["choices"][0]["index"], 2);
  EXPECT_EQ(last["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(cai::serve::sse_event(json{{"a", 1}}), "data: {\"a\":1}\n\n");
  // Partial UTF-8 from a token boundary never throws.
  EXPECT_NO_THROW(cai::serve::sse_event(json{{"t", std::string("\xe2\x82")}}));
  // Several choices: each with its index, in order; logprobs null where not asked.
  auto many = cai::serve::make_response(
      Endpoint::chat, m, {Choice{"a", "stop", std::nullopt}, Choice{"b", "length", std::nullopt}},
      {3, 4});
  ASSERT_EQ(many["choices"].size(), 2u);
  EXPECT_EQ(many["choices"][1]["index"], 1);
  EXPECT_EQ(many["choices"][1]["message"]["content"], "b");
  EXPECT_EQ(many["choices"][1]["finish_reason"], "length");
  EXPECT_TRUE(many["choices"][0]["logprobs"].is_null());
  EXPECT_EQ(many["usage"]["total_tokens"], 7);
  auto err = cai::serve::error_body("bad", "invalid_request_error", "invalid_value");
  EXPECT_EQ(err["error"]["message"], "bad");
  EXPECT_EQ(err["error"]["code"], "invalid_value");
}
