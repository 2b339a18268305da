// `cai serve` in-process on the tiny fixture model: greedy answers equal the engine's own,
// streaming concatenates to the same text, logprobs match the engine's, bad requests get the
// right 4xx with JSON error bodies (a prompt longer than the context included), 200
// concurrent requests through the HTTP backend all come back right, echo returns the prompt's
// own log-probs, top lists longer than the engine's come from the model, and option scores and
// log-likelihoods through the HTTP backend equal the local backend's.
#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cai/backend/factory.h"
#include "cai/generate/chat.h"
#include "cai/generate/engine.h"
#include "cai/generate/scorer.h"
#include "cai/model/llama.h"
#include "cai/model/loader.h"
#include "cai/serve/server.h"

namespace {

using nlohmann::json;
const std::string kModel = std::string(CAI_FIXTURES_DIR) + "/hf-model";
const std::string kKey = "test-key";

struct Fixture {
  std::shared_ptr<cai::LoadedModel> lm;
  std::unique_ptr<cai::serve::Server> server;
  std::thread thread;
  int port = 0;
  std::string name;

  explicit Fixture(cai::serve::ServeOptions o) {
    lm = std::make_shared<cai::LoadedModel>(cai::load_model(kModel));
    o.port = 0;
    server = std::make_unique<cai::serve::Server>(lm, o);
    port = server->bind();
    name = server->model_name();
    thread = std::thread([this] { server->run(); });
  }
  ~Fixture() {
    server->stop();
    thread.join();
  }
  std::unique_ptr<httplib::Client> client(bool auth = true) const {
    auto c = std::make_unique<httplib::Client>("127.0.0.1", port);
    c->set_read_timeout(std::chrono::seconds(60));
    if (auth) c->set_bearer_token_auth(kKey.c_str());
    return c;
  }
};

Fixture& server() {
  static Fixture f([] {
    cai::serve::ServeOptions o;
    o.api_key = kKey;
    o.max_body_bytes = 64 * 1024;
    o.max_tokens = 64;
    o.max_batch = 16;
    o.max_top_logprobs = 512;  // more than the fixture's vocabulary: every token's log-prob
    return o;
  }());
  return f;
}

// The engine run directly on the same model: the reference for greedy answers.
cai::GenerationResult reference_ids(std::vector<std::int32_t> ids, std::int64_t max_tokens,
                                    bool logprobs = false, std::vector<std::string> stop = {}) {
  auto& f = server();
  const cai::Tokenizer& tok = *f.lm->tokenizer;
  cai::EngineOptions eo;
  eo.max_batch = 1;
  cai::Engine engine(*f.lm->model, eo, &tok);
  cai::GenerationRequest r;
  r.prompt = std::move(ids);
  r.sampling.temperature = 0.0;
  r.sampling.max_new_tokens = max_tokens;
  r.sampling.logprobs = logprobs;
  r.sampling.stop = std::move(stop);
  return engine.generate({r})[0];
}

cai::GenerationResult reference(const std::string& text, std::int64_t max_tokens,
                                bool logprobs = false, std::vector<std::string> stop = {}) {
  return reference_ids(server().lm->tokenizer->encode(text, true, true), max_tokens, logprobs,
                       std::move(stop));
}

// Text as it travels in JSON: bytes that are not UTF-8 (a random model emits many) become U+FFFD.
std::string wire(const std::string& s) {
  return json::parse(json(s).dump(-1, ' ', false, json::error_handler_t::replace))
      .get<std::string>();
}

json post(const std::string& path, const json& body, int want_status = 200, bool auth = true) {
  auto c = server().client(auth);
  auto res = c->Post(path.c_str(), body.dump(), "application/json");
  EXPECT_TRUE(res) << path;
  if (!res) return json();
  EXPECT_EQ(res->status, want_status) << res->body;
  return json::parse(res->body);
}

// Concatenated deltas of an SSE stream, and whether it ended with [DONE].
std::string stream_text(const std::string& path, const json& body, std::string* finish,
                        bool* done) {
  auto c = server().client();
  std::string raw;
  auto res = c->Post(path.c_str(), body.dump(), "application/json");
  EXPECT_TRUE(res);
  if (!res) return "";
  EXPECT_EQ(res->status, 200);
  EXPECT_NE(res->get_header_value("Content-Type").find("text/event-stream"), std::string::npos);
  std::string text;
  *done = false;
  std::size_t pos = 0;
  const std::string& s = res->body;
  while ((pos = s.find("data: ", pos)) != std::string::npos) {
    const std::size_t end = s.find("\n\n", pos);
    const std::string payload = s.substr(pos + 6, end - pos - 6);
    pos = end + 2;
    if (payload == "[DONE]") {
      *done = true;
      break;
    }
    const json j = json::parse(payload);
    if (j["choices"].empty()) continue;
    const json& ch = j["choices"][0];
    if (ch.contains("text")) text += ch["text"].get<std::string>();
    if (ch.contains("delta") && ch["delta"].contains("content"))
      text += ch["delta"]["content"].get<std::string>();
    if (!ch["finish_reason"].is_null()) *finish = ch["finish_reason"];
  }
  return text;
}

}  // namespace

TEST(Serve, HealthAndModels) {
  auto c = server().client(false);
  auto h = c->Get("/health");  // open without a key
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(json::parse(h->body)["status"], "ok");
  auto m = server().client()->Get("/v1/models");
  ASSERT_TRUE(m);
  EXPECT_EQ(json::parse(m->body)["data"][0]["id"], server().name);
}

TEST(Serve, GreedyCompletionEqualsTheEngine) {
  for (const std::string prompt : {"Hello world", "The cat sat on", "a"}) {
    const auto ref = reference(prompt, 24);
    json j = post(
        "/v1/completions",
        {{"model", server().name}, {"prompt", prompt}, {"max_tokens", 24}, {"temperature", 0}});
    EXPECT_EQ(j["choices"][0]["text"], wire(ref.text)) << prompt;
    EXPECT_EQ(j["choices"][0]["finish_reason"], to_string(ref.finish)) << prompt;
    EXPECT_EQ(j["usage"]["completion_tokens"], ref.tokens.size());
    EXPECT_EQ(j["usage"]["prompt_tokens"], ref.prompt_tokens);
  }
}

TEST(Serve, GreedyChatEqualsTheEngineOnTheRenderedTemplate) {
  const auto& f = server();
  const cai::ChatTemplate tmpl = cai::pick_chat_template(&*f.lm->tokenizer);
  std::vector<cai::ChatMessage> msgs = {{"user", "What is up?"}};
  const auto ref = reference(tmpl.render(msgs, true), 20, false, tmpl.stop_strings());
  json j =
      post("/v1/chat/completions", {{"messages", {{{"role", "user"}, {"content", "What is up?"}}}},
                                    {"max_tokens", 20},
                                    {"temperature", 0}});
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(j["choices"][0]["message"]["content"], wire(ref.text));
}

// A chat ending with an assistant message is continued from it: the generation prompt, then
// that message tokenised on its own (as training reads a given start). With prefill_assistant
// off it is a closed turn and the reply starts a new one.
TEST(Serve, AFinalAssistantMessageIsContinued) {
  const auto& f = server();
  const cai::Tokenizer& tok = *f.lm->tokenizer;
  const cai::ChatTemplate tmpl = cai::pick_chat_template(&tok);
  const std::vector<cai::ChatMessage> msgs = {{"user", "What is up?"}, {"assistant", "Not much"}};
  const auto c = tmpl.render_continued(msgs);
  ASSERT_FALSE(c.prefill.empty());
  // By hand: the prompt with its BOS, then the prefill's own tokens.
  auto ids = tok.encode(c.prompt, tok.prompt_wants_bos(c.prompt), true);
  for (const auto id : tok.encode(c.prefill, false, true)) ids.push_back(id);
  EXPECT_EQ(tok.encode_prompt(c.prompt, c.prefill), ids);
  const auto continued = reference_ids(ids, 20, false, tmpl.stop_strings());
  const json body = {{"messages",
                      {{{"role", "user"}, {"content", "What is up?"}},
                       {{"role", "assistant"}, {"content", "Not much"}}}},
                     {"max_tokens", 20},
                     {"temperature", 0}};
  const json j = post("/v1/chat/completions", body);
  EXPECT_EQ(j["choices"][0]["message"]["content"], wire(continued.text));
  EXPECT_EQ(j["usage"]["prompt_tokens"], ids.size());
  // The local backend (the loop's) continues it alike.
  auto local = cai::make_local_backend(f.lm, {});
  cai::TextRequest rq;
  rq.chat = true;
  rq.messages = msgs;
  rq.params.max_tokens = 20;
  rq.params.stop = tmpl.stop_strings();
  EXPECT_EQ(local->generate({rq}, {})[0].text, wire(continued.text));

  cai::serve::ServeOptions o;
  o.prefill_assistant = false;
  Fixture closed(o);
  const auto res =
      closed.client(false)->Post("/v1/chat/completions", body.dump(), "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const auto turn = reference(tmpl.render(msgs, true), 20, false, tmpl.stop_strings());
  EXPECT_EQ(json::parse(res->body)["choices"][0]["message"]["content"], wire(turn.text));
}

TEST(Serve, StreamingConcatenatesToTheSameText) {
  for (const char* path : {"/v1/completions", "/v1/chat/completions"}) {
    json body = {{"max_tokens", 30}, {"temperature", 0}};
    if (std::string(path) == "/v1/completions")
      body["prompt"] = "Once upon a time";
    else
      body["messages"] = {{{"role", "user"}, {"content", "Once upon a time"}}};
    json whole = post(path, body);
    body["stream"] = true;
    std::string finish;
    bool done = false;
    const std::string streamed = stream_text(path, body, &finish, &done);
    const json& ch = whole["choices"][0];
    const std::string text = ch.contains("text") ? ch["text"] : ch["message"]["content"];
    EXPECT_EQ(streamed, text) << path;
    EXPECT_EQ(finish, ch["finish_reason"]) << path;
    EXPECT_TRUE(done) << path;
  }
}

TEST(Serve, LogprobsMatchTheEngine) {
  const auto ref = reference("Hello", 8, true);
  json j = post("/v1/completions",
                {{"prompt", "Hello"}, {"max_tokens", 8}, {"temperature", 0}, {"logprobs", 3}});
  const json& lp = j["choices"][0]["logprobs"];
  ASSERT_EQ(lp["token_logprobs"].size(), ref.logprobs.size());
  for (std::size_t k = 0; k < ref.logprobs.size(); ++k)
    EXPECT_NEAR(lp["token_logprobs"][k].get<double>(), ref.logprobs[k], 1e-5);
  json c = post("/v1/chat/completions", {{"messages", {{{"role", "user"}, {"content", "Hi"}}}},
                                         {"max_tokens", 4},
                                         {"temperature", 0},
                                         {"logprobs", true},
                                         {"top_logprobs", 2}});
  EXPECT_TRUE(c["choices"][0]["logprobs"]["content"].is_array());
}

TEST(Serve, BadRequestsGetTheRight4xx) {
  auto c = server().client();
  auto check = [&](const httplib::Result& res, int status, const std::string& code) {
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, status) << res->body;
    const json j = json::parse(res->body);  // always a JSON error body
    EXPECT_EQ(j["error"]["code"], code) << res->body;
    EXPECT_TRUE(j["error"]["message"].is_string());
  };
  check(c->Post("/v1/completions", "{\"prompt\": ", "application/json"), 400, "invalid_json");
  check(c->Post("/v1/completions", R"({"prompt":"x","max_tokens":"5"})", "application/json"), 400,
        "invalid_type");
  check(c->Post("/v1/completions", R"({"prompt":"x","max_tokens":100000})", "application/json"),
        400, "invalid_value");
  check(c->Post("/v1/completions", R"({"prompt":[1,99999]})", "application/json"), 400,
        "invalid_value");
  check(c->Post("/v1/completions", R"({"prompt":"x","model":"gpt-4"})", "application/json"), 404,
        "model_not_found");
  check(c->Post("/v1/chat/completions", R"({"messages":[{"role":"user"}]})", "application/json"),
        400, "invalid_value");
  check(c->Post("/v1/completions", std::string(100 * 1024, ' '), "application/json"), 413,
        "payload_too_large");
  check(c->Get("/v1/nothing"), 404, "not_found");
  auto anon = server().client(false);
  check(anon->Post("/v1/completions", R"({"prompt":"x"})", "application/json"), 401,
        "invalid_api_key");
  auto wrong = server().client(false);
  wrong->set_bearer_token_auth("test-kez");
  check(wrong->Post("/v1/completions", R"({"prompt":"x"})", "application/json"), 401,
        "invalid_api_key");
  check(anon->Get("/v1/models"), 401, "invalid_api_key");
  // Binary junk and deeply nested JSON are answered, not crashed on.
  check(c->Post("/v1/completions", std::string("\xff\xfe\x00\x01", 4), "application/json"), 400,
        "invalid_json");
  check(c->Post("/v1/completions", std::string(5000, '[') + std::string(5000, ']'),
                "application/json"),
        400, "invalid_json");
  // Still serving.
  json ok = post("/v1/completions", {{"prompt", "x"}, {"max_tokens", 2}});
  EXPECT_EQ(ok["choices"].size(), 1u);
}

TEST(Serve, TwoHundredConcurrentRequestsThroughTheHttpBackend) {
  const std::vector<std::string> prompts = {"Hello", "The", "A long time ago", "x y z", "Once"};
  std::map<std::string, std::string> want;
  for (const auto& p : prompts) want[p] = wire(reference(p, 12).text);
  setenv("CAI_TEST_SERVE_KEY", kKey.c_str(), 1);
  cai::HttpBackendOptions o;
  o.base_urls = {"http://127.0.0.1:" + std::to_string(server().port) + "/v1"};
  o.model = server().name;
  o.api_key_env = "CAI_TEST_SERVE_KEY";
  o.concurrency = 200;
  o.max_retries = 0;  // every request must be answered the first time
  auto be = cai::make_http_backend(o);
  std::vector<cai::TextRequest> reqs(200);
  for (std::size_t i = 0; i < reqs.size(); ++i) {
    reqs[i].prompt = prompts[i % prompts.size()];
    reqs[i].params.max_tokens = 12;
    reqs[i].params.temperature = 0.0;
  }
  std::size_t done = 0;
  auto out = be->generate(reqs, [&](std::size_t) { ++done; });
  EXPECT_EQ(done, 200u);
  for (std::size_t i = 0; i < reqs.size(); ++i) EXPECT_EQ(out[i].text, want[reqs[i].prompt]) << i;
}

TEST(Serve, OptionScoresThroughTheHttpBackendMatchTheModel) {
  // Options whose distinguishing pieces are single tokens of this vocabulary: their raw score
  // must be the model's log-prob of that token after prompt + common prefix.
  auto& f = server();
  const cai::Tokenizer& tok = *f.lm->tokenizer;
  const std::string prompt = "The answer is";
  json probe =
      post("/v1/completions",
           {{"prompt", prompt + " ("}, {"max_tokens", 1}, {"temperature", 0}, {"logprobs", 5}});
  const json& top = probe["choices"][0]["logprobs"]["top_logprobs"][0];
  if (top.empty()) GTEST_SKIP() << "the engine does not report top log-probs yet";
  // Take the two most likely non-blank tokens as the options' distinguishing pieces.
  std::vector<std::pair<std::string, double>> cands;
  for (auto& [t, v] : top.items())
    if (t.find_first_not_of(" \n\t") != std::string::npos && t.find('(') == std::string::npos)
      cands.emplace_back(t, v.get<double>());
  ASSERT_GE(cands.size(), 2u);
  std::sort(cands.begin(), cands.end(), [](auto& a, auto& b) { return a.second > b.second; });
  if (cands[0].first.rfind(cands[1].first, 0) == 0 || cands[1].first.rfind(cands[0].first, 0) == 0)
    GTEST_SKIP() << "top tokens overlap";
  setenv("CAI_TEST_SERVE_KEY", kKey.c_str(), 1);
  cai::HttpBackendOptions o;
  o.base_urls = {"http://127.0.0.1:" + std::to_string(f.port) + "/v1"};
  o.model = f.name;
  o.api_key_env = "CAI_TEST_SERVE_KEY";
  o.top_logprobs = 5;
  auto be = cai::make_http_backend(o);
  cai::TextRequest r;
  r.prompt = prompt;
  auto s = be->score_options({r}, {" (" + cands[0].first, " (" + cands[1].first})[0];
  // The backend sums tokens that begin an option; with distinct pieces each gets its own.
  EXPECT_NEAR(s.raw[0], cands[0].second, 1e-6);
  EXPECT_NEAR(s.raw[1], cands[1].second, 1e-6);
  const double z = std::log(std::exp(cands[0].second) + std::exp(cands[1].second));
  EXPECT_NEAR(s.normalised[0], cands[0].second - z, 1e-6);
  (void)tok;
}

TEST(Serve, EchoReturnsThePromptsOwnLogprobs) {
  auto& f = server();
  const cai::Tokenizer& tok = *f.lm->tokenizer;
  const std::string prompt = "The cat sat on the mat";
  const auto ids = tok.encode(prompt, true, true);
  const auto ref = cai::score_tokens(*f.lm->model, ids);  // teacher forcing, tokens 1..
  // max_tokens 0: the prompt alone is scored.
  json j = post("/v1/completions",
                {{"prompt", prompt}, {"echo", true}, {"max_tokens", 0}, {"logprobs", 2}});
  const json& ch = j["choices"][0];
  EXPECT_EQ(ch["text"], prompt);
  EXPECT_EQ(j["usage"]["completion_tokens"], 0);
  EXPECT_EQ(j["usage"]["prompt_tokens"], ids.size());
  const json& lp = ch["logprobs"];
  ASSERT_EQ(lp["tokens"].size(), ids.size());
  EXPECT_TRUE(lp["token_logprobs"][0].is_null());
  EXPECT_TRUE(lp["top_logprobs"][0].is_null());
  std::string joined;
  for (std::size_t k = 0; k < ids.size(); ++k) {
    EXPECT_EQ(lp["text_offset"][k], joined.size()) << k;
    joined += lp["tokens"][k].get<std::string>();
    if (k == 0) continue;
    EXPECT_NEAR(lp["token_logprobs"][k].get<double>(), ref.token_logprobs[k - 1], 1e-4) << k;
    // A dict keyed by token text: byte tokens that are not valid UTF-8 alone all read "\ufffd"
    // and collapse into one key (as with OpenAI's and vLLM's legacy completions).
    EXPECT_GE(lp["top_logprobs"][k].size(), 1u) << k;
    EXPECT_LE(lp["top_logprobs"][k].size(), 2u) << k;
  }
  EXPECT_EQ(joined, prompt);
  // With generated tokens: the text and the log-probs continue past the prompt.
  const auto gen = reference(prompt, 3, true);
  json g = post(
      "/v1/completions",
      {{"prompt", prompt}, {"echo", true}, {"max_tokens", 3}, {"temperature", 0}, {"logprobs", 0}});
  const json& gl = g["choices"][0]["logprobs"];
  EXPECT_EQ(g["choices"][0]["text"], prompt + wire(gen.text));
  ASSERT_EQ(gl["tokens"].size(), ids.size() + gen.tokens.size());
  EXPECT_EQ(gl["text_offset"][ids.size()], prompt.size());
  for (std::size_t k = 0; k < gen.tokens.size(); ++k)
    EXPECT_NEAR(gl["token_logprobs"][ids.size() + k].get<double>(), gen.logprobs[k], 1e-4) << k;
  // Echo is for completions only, and not streamed; max_tokens 0 needs it.
  post("/v1/completions", {{"prompt", prompt}, {"echo", true}, {"stream", true}}, 400);
  post("/v1/chat/completions",
       {{"messages", {{{"role", "user"}, {"content", "x"}}}}, {"echo", true}}, 400);
  post("/v1/completions", {{"prompt", prompt}, {"max_tokens", 0}}, 400);
}

TEST(Serve, TopLogprobsBeyondTheEnginesTwentyComeFromTheModel) {
  const auto ref = reference("Hello", 3, true);
  json j = post("/v1/completions",
                {{"prompt", "Hello"}, {"max_tokens", 3}, {"temperature", 0}, {"logprobs", 100}});
  const json& lp = j["choices"][0]["logprobs"];
  ASSERT_EQ(lp["token_logprobs"].size(), ref.logprobs.size());
  for (std::size_t k = 0; k < ref.logprobs.size(); ++k) {
    EXPECT_NEAR(lp["token_logprobs"][k].get<double>(), ref.logprobs[k], 1e-4) << k;
    // Up to 100 distinct keys (invalid-UTF-8 byte tokens collapse, see above); greedy decoding
    // picked the most likely token, so it heads the list.
    EXPECT_GT(lp["top_logprobs"][k].size(), 20u) << k;
    EXPECT_LE(lp["top_logprobs"][k].size(), 100u) << k;
    double best = -1e300;
    for (const auto& [tok, v] : lp["top_logprobs"][k].items())
      best = std::max(best, v.get<double>());
    EXPECT_NEAR(best, ref.logprobs[k], 1e-4) << k;
  }
  post("/v1/completions", {{"prompt", "Hello"}, {"logprobs", 100}, {"stream", true}}, 400);
  post("/v1/completions", {{"prompt", "Hello"}, {"logprobs", 513}},
       400);  // over --max-top-logprobs
}

TEST(Serve, PromptsLongerThanTheContextGet400AndServingGoesOn) {
  // "x" is a token of its own in the fixture's vocabulary: 1000 of them overflow its 512.
  const std::string longp(1000, 'x');
  json a = post("/v1/completions", {{"prompt", longp}, {"max_tokens", 2}}, 400);
  EXPECT_EQ(a["error"]["code"], "context_length_exceeded");
  json b = post("/v1/completions", {{"prompt", longp}, {"max_tokens", 0}, {"echo", true}}, 400);
  EXPECT_EQ(b["error"]["code"], "context_length_exceeded");
  json c = post("/v1/completions", {{"prompt", std::vector<int>(600, 5)}, {"max_tokens", 1}}, 400);
  EXPECT_EQ(c["error"]["code"], "context_length_exceeded");
  json d =
      post("/v1/chat/completions", {{"messages", {{{"role", "user"}, {"content", longp}}}}}, 400);
  EXPECT_EQ(d["error"]["code"], "context_length_exceeded");
  json ok = post("/v1/completions", {{"prompt", "x"}, {"max_tokens", 2}});
  EXPECT_EQ(ok["choices"].size(), 1u);
  auto h = server().client()->Get("/health");
  ASSERT_TRUE(h);
  EXPECT_EQ(json::parse(h->body)["engine_restarts"], 0);
}

TEST(Serve, OptionScoresAndLoglikelihoodsOverHttpEqualTheLocalBackend) {
  auto& f = server();
  auto local = cai::make_local_backend(f.lm, {});
  setenv("CAI_TEST_SERVE_KEY", kKey.c_str(), 1);
  cai::HttpBackendOptions o;
  o.base_urls = {"http://127.0.0.1:" + std::to_string(f.port) + "/v1"};
  o.model = f.name;
  o.api_key_env = "CAI_TEST_SERVE_KEY";
  o.top_logprobs = 300;  // the whole vocabulary: no option falls outside the list
  auto remote = cai::make_http_backend(o);
  std::vector<cai::TextRequest> reqs(3);
  reqs[0].prompt = "Which is kinder?\n\nThe answer is:";
  reqs[1].prompt = "Human: hi\n\nAssistant: hello\n\nThe answer is:";
  reqs[2].prompt = "Once upon a time";
  const std::vector<std::string> options = {" (A)", " (B)", " (C)"};
  const auto ls = local->score_options(reqs, options), hs = remote->score_options(reqs, options);
  ASSERT_EQ(ls.size(), reqs.size());
  for (std::size_t i = 0; i < reqs.size(); ++i)
    for (std::size_t k = 0; k < options.size(); ++k) {
      EXPECT_NEAR(ls[i].raw[k], hs[i].raw[k], 1e-4) << i << ":" << k;
      EXPECT_NEAR(ls[i].normalised[k], hs[i].normalised[k], 1e-4) << i << ":" << k;
    }
  const std::vector<std::string> conts = {" (A)", " the cat sat", " upon", "\n\nHuman: what?"};
  const auto ll = local->loglikelihoods(reqs, conts), hl = remote->loglikelihoods(reqs, conts);
  ASSERT_EQ(ll.size(), reqs.size());
  for (std::size_t i = 0; i < reqs.size(); ++i)
    for (std::size_t k = 0; k < conts.size(); ++k) {
      EXPECT_NEAR(ll[i][k], hl[i][k], 1e-4) << i << ":" << k;
      EXPECT_LT(ll[i][k], 0.0);
    }
  // A whole continuation is the sum over its tokens: the first of " (A)" alone is less likely
  // than 1, and the option score is one of those tokens' log-probs.
  EXPECT_LT(ll[0][0], ls[0].raw[0]);
}
