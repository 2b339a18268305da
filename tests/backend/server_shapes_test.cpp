// The HTTP backend reads log-probs in every shape servers answer in. Answer bodies are kept as
// files under responses/ and replayed by a fake server:
//  - llamacpp_*.json were recorded from llama.cpp's llama-server serving a GGUF exported by
//    `cai model convert` (see responses/README.md for the requests);
//  - vllm_*.json and openai_*.json are written from the formats vLLM (its OpenAI-compatible
//    server: completions logprobs, echo, the prompt_logprobs extension) and OpenAI (the
//    legacy completions and chat completions API reference) document; no such server was
//    reachable to record from.
// The expected numbers are read off the files by hand and written out here.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "../../src/backend/logprob_shapes.h"
#include "fake_server.h"

namespace {

using cai::testing_util::chat_request;
using cai::testing_util::error_of;
using cai::testing_util::FakeServer;
using cai::testing_util::raw_request;
using cai::testing_util::reply;

cai::HttpBackendOptions shape_options(const std::string& url) {
  return cai::testing_util::backend_options({url});
}
using nlohmann::json;

json recorded(const std::string& name) {
  std::ifstream f(std::string(CAI_TEST_SOURCE_DIR) + "/responses/" + name);
  EXPECT_TRUE(f.good()) << name;
  std::stringstream ss;
  ss << f.rdbuf();
  return json::parse(ss.str());
}

// A server that answers every request with one recorded body.
FakeServer replaying(const std::string& name, int status = 200) {
  return FakeServer(
      [body = recorded(name), status](const json&, const httplib::Request&,
                                      httplib::Response& res) { reply(res, status, body); });
}

double logaddexp(double a, double b) {
  const double m = std::max(a, b);
  return m + std::log(std::exp(a - m) + std::exp(b - m));
}

}  // namespace

TEST(ServerShapes, OpenAiLegacyCompletions) {
  auto s = replaying("openai_completions_logprobs.json");
  auto be = cai::make_http_backend(shape_options(s.url()));
  const auto out =
      be->score_options({raw_request("Which is kinder? The answer is:")}, {" (A)", " (B)"});
  // "A" and " A" both begin "A)"; "B" begins "B)"; the partial character written
  // "bytes:\xe2\x80" fits neither.
  EXPECT_NEAR(out[0].raw[0], logaddexp(-0.2876821, -3.912023), 1e-12);
  EXPECT_NEAR(out[0].raw[1], -1.6094379, 1e-12);
}

TEST(ServerShapes, OpenAiChatContentList) {
  auto s = replaying("openai_chat_logprobs.json");
  auto be = cai::make_http_backend(shape_options(s.url()));
  const auto out =
      be->score_options({chat_request("Is the response kind? Answer Yes or No.")}, {" Yes", " No"});
  EXPECT_NEAR(out[0].raw[0], logaddexp(-0.0142, -6.1), 1e-12);
  EXPECT_NEAR(out[0].raw[1], -4.26, 1e-12);
}

TEST(ServerShapes, VllmLegacyCompletions) {
  auto s = replaying("vllm_completions_logprobs.json");
  auto be = cai::make_http_backend(shape_options(s.url()));
  const auto out =
      be->score_options({raw_request("Does it violate the principle?")}, {" Yes", " No"});
  // " yes" is another word: case counts.
  EXPECT_NEAR(out[0].raw[0], -0.105, 1e-12);
  EXPECT_NEAR(out[0].raw[1], -2.41, 1e-12);
  EXPECT_NEAR(std::exp(out[0].normalised[0]) + std::exp(out[0].normalised[1]), 1.0, 1e-12);
}

TEST(ServerShapes, VllmEchoGivesPromptLogprobs) {
  auto s = replaying("vllm_completions_echo.json");
  auto be = cai::make_http_backend(shape_options(s.url()));
  // The echo is "Café au lait" then the generated ","; a continuation's tokens are those that
  // start at or after the prompt's end (é is two bytes, one character).
  const auto out = be->loglikelihoods({raw_request("Café au")}, {" lait"});
  EXPECT_NEAR(out[0][0], -0.75, 1e-12);
  const auto two = be->loglikelihoods({raw_request("Café")}, {" au lait"});
  EXPECT_NEAR(two[0][0], -3.5 - 0.75, 1e-12);
  for (const auto& b : s.bodies) EXPECT_EQ(b["echo"], true);
}

TEST(ServerShapes, VllmPromptLogprobsWhenEchoIsRefused) {
  const json answer = recorded("vllm_prompt_logprobs.json");
  FakeServer s([&](const json& b, const httplib::Request&, httplib::Response& res) {
    if (b.contains("echo"))
      reply(res, 400, {{"error", {{"message", "echo is not supported here"}}}});
    else
      reply(res, 200, answer);
  });
  auto be = cai::make_http_backend(shape_options(s.url()));
  // The first prompt token (here BOS) has no log-prob; the others spell "The sky is blue".
  EXPECT_NEAR(be->loglikelihoods({raw_request("The sky is")}, {" blue"})[0][0], -2.1875, 1e-12);
  EXPECT_EQ(s.calls.load(), 2);  // echo refused, then prompt_logprobs
  EXPECT_EQ(s.bodies[1]["prompt_logprobs"], 0);
  EXPECT_NEAR(be->loglikelihoods({raw_request("The sky")}, {" is blue"})[0][0], -1.3125 - 2.1875,
              1e-12);
  EXPECT_EQ(s.calls.load(), 3);  // remembered: straight to prompt_logprobs
}

// Offsets from text_offset when the tokens do not spell the text (a server listing its raw
// vocabulary pieces, "Ġ" for a space), counted in characters or in bytes.
TEST(ServerShapes, TextOffsetsInCharactersOrBytes) {
  using cai::http::LogprobShape;
  cai::http::Logprobs lp;
  lp.shape = LogprobShape::legacy;
  const std::vector<std::string> pieces = {"Caf", "é", "Ġau", "Ġlait", ","};
  const std::vector<std::int64_t> chars = {0, 3, 4, 7, 12}, bytes = {0, 3, 5, 8, 13};
  const std::string text = "Café au lait";
  for (const auto* offs : {&chars, &bytes}) {
    lp.tokens.clear();
    for (std::size_t k = 0; k < pieces.size(); ++k) {
      cai::http::TokenLogprob t;
      t.token = pieces[k];
      t.text_offset = (*offs)[k];
      lp.tokens.push_back(t);
    }
    EXPECT_EQ(cai::http::text_token_offsets(lp, text), (std::vector<std::size_t>{0, 3, 5, 8}));
  }
  // Offsets that end elsewhere than the text does are refused, not guessed.
  lp.tokens[4].text_offset = 14;
  const std::string e = error_of([&] { cai::http::text_token_offsets(lp, text); });
  EXPECT_NE(e.find("do not line up"), std::string::npos) << e;
}

// vLLM's prompt_logprobs asked for more than 0 alternatives: the prompt's own token is the one
// prompt_token_ids names.
TEST(ServerShapes, PromptLogprobsWithAlternatives) {
  const json answer = {
      {"choices",
       {{{"text", "."},
         {"prompt_token_ids", {1, 50, 60}},
         {"prompt_logprobs",
          {nullptr,
           {{"50", {{"logprob", -1.5}, {"rank", 2}, {"decoded_token", "ab"}}},
            {"51", {{"logprob", -0.5}, {"rank", 1}, {"decoded_token", "a"}}}},
           {{"60", {{"logprob", -2.0}, {"rank", 1}, {"decoded_token", "c"}}}}}}}}}};
  const auto lp = cai::http::prompt_logprobs(answer);
  ASSERT_EQ(lp.tokens.size(), 3u);
  EXPECT_EQ(lp.tokens[1].token, "ab");
  EXPECT_EQ(lp.tokens[1].logprob, -1.5);
  EXPECT_EQ(cai::http::text_token_offsets(lp, "abc"), (std::vector<std::size_t>{0, 0, 2}));
  json no_ids = answer;
  no_ids["choices"][0].erase("prompt_token_ids");
  const std::string e = error_of([&] { cai::http::prompt_logprobs(no_ids); });
  EXPECT_NE(e.find("prompt_token_ids"), std::string::npos) << e;
}

TEST(ServerShapes, LlamaCppCompletionsAnswerWithAContentList) {
  auto s = replaying("llamacpp_completions_logprobs.json");
  auto be = cai::make_http_backend(shape_options(s.url()));
  // llama.cpp cuts `token` back to whole characters ("" for the lead byte 0xC9 of "ɐ", 0xC4
  // of "Ġ"), so only `bytes` tells those tokens apart; "A" is not among the 24 listed.
  const auto out = be->score_options({raw_request("Café crème brûlée? The answer is:")},
                                     {" (x)", " (\u0250)", " (\u0120)", " (A)"});
  EXPECT_NEAR(out[0].raw[0], -1.4873443841934204, 1e-12);
  EXPECT_NEAR(out[0].raw[1], -2.4775328636169434, 1e-12);
  EXPECT_NEAR(out[0].raw[2], -4.1805243492126465, 1e-12);
  EXPECT_TRUE(std::isinf(out[0].raw[3]) && out[0].raw[3] < 0);
  EXPECT_EQ(s.bodies[0]["logprobs"], 20);
}

TEST(ServerShapes, LlamaCppChat) {
  auto s = replaying("llamacpp_chat_logprobs.json");
  auto be = cai::make_http_backend(shape_options(s.url()));
  // The control token listed with empty text and no bytes counts for nothing.
  const auto out =
      be->score_options({chat_request("Is the response kind? Answer Yes or No.")}, {" :", " $"});
  EXPECT_NEAR(out[0].raw[0], -1.1022816896438599, 1e-12);
  EXPECT_NEAR(out[0].raw[1], -2.687394380569458, 1e-12);
}

TEST(ServerShapes, LlamaCppNativeCompletionProbabilities) {
  auto s = replaying("llamacpp_native_completion.json");
  auto be = cai::make_http_backend(shape_options(s.url()));
  const auto out =
      be->score_options({raw_request("Does it violate the principle? Answer")}, {" :", " ^", " '"});
  EXPECT_NEAR(out[0].raw[0], -0.2380387783050537, 1e-12);
  EXPECT_NEAR(out[0].raw[1], -2.721613645553589, 1e-12);
  EXPECT_NEAR(out[0].raw[2], -5.20961856842041, 1e-12);
}

TEST(ServerShapes, LlamaCppOffersNoPromptLogprobs) {
  const json refused = recorded("llamacpp_echo_refused.json");
  const json ignored = recorded("llamacpp_prompt_logprobs_ignored.json");
  FakeServer s([&](const json& b, const httplib::Request&, httplib::Response& res) {
    if (b.contains("echo"))
      reply(res, 500, refused);  // llama.cpp's status for an unsupported parameter
    else
      reply(res, 200, ignored);  // unknown parameters are ignored
  });
  auto be = cai::make_http_backend(shape_options(s.url()));
  const std::string e =
      error_of([&] { be->loglikelihoods({raw_request("The sky is")}, {" blue"}); });
  EXPECT_NE(e.find("offers no log-probs of the prompt"), std::string::npos) << e;
  EXPECT_NE(e.find("Unsupported param: echo"), std::string::npos) << e;
  EXPECT_EQ(s.calls.load(), 2);  // the 500 is not retried
}
