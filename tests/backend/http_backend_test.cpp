// The HTTP backend against fake OpenAI-compatible servers run in the test: retries and their
// limits, error reporting, timeouts, bounded concurrency, load spread over base URLs, option
// scoring from top log-probs and log-likelihoods from echoed prompts (checked against
// hand-computed values).
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "cai/backend/factory.h"
#include "cai/io/error.h"
#include "fake_server.h"

namespace {

using cai::testing_util::backend_options;
using cai::testing_util::error_of;
using cai::testing_util::FakeServer;
using cai::testing_util::raw_request;
using cai::testing_util::reply;
using nlohmann::json;

json completion(const std::string& text, const std::string& finish = "stop") {
  return {{"object", "text_completion"},
          {"choices", {{{"index", 0}, {"text", text}, {"finish_reason", finish}}}},
          {"usage", {{"prompt_tokens", 3}, {"completion_tokens", 2}, {"total_tokens", 5}}}};
}

}  // namespace

TEST(HttpBackend, SendsTheOpenAiRequestAndParsesTheAnswer) {
  FakeServer s([](const json& b, const httplib::Request& req, httplib::Response& res) {
    if (req.path == "/v1/chat/completions")
      reply(res, 200,
            {{"choices",
              {{{"message", {{"role", "assistant"}, {"content", "hi STOP there"}}},
                {"finish_reason", "stop"}}}}});
    else
      reply(res, 200, completion("echo:" + b["prompt"].get<std::string>(), "length"));
  });
  setenv("CAI_TEST_FAKE_KEY", "sekret", 1);
  auto be = cai::make_http_backend(backend_options({s.url()}));
  unsetenv("CAI_TEST_FAKE_KEY");
  cai::TextRequest a = raw_request("p0");
  a.params.max_tokens = 7;
  a.params.temperature = 0.5;
  a.params.stop = {"\n\n"};
  a.params.seed = 11;
  a.stream = 3;
  cai::TextRequest c;
  c.chat = true;
  c.messages = {{"system", "be brief"}, {"user", "hello"}};
  c.params.stop = {" STOP"};  // applied again on the client: the fake ignores it
  std::vector<std::size_t> done;
  auto out = be->generate({a, c}, [&](std::size_t i) { done.push_back(i); });
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].text, "echo:p0");
  EXPECT_EQ(out[0].finish_reason, "length");
  EXPECT_EQ(out[0].prompt_tokens, 3);
  EXPECT_EQ(out[0].completion_tokens, 2);
  EXPECT_EQ(out[1].text, "hi");
  EXPECT_EQ(out[1].finish_reason, "stop");
  EXPECT_EQ(done.size(), 2u);
  ASSERT_EQ(s.bodies.size(), 2u);
  for (std::size_t k = 0; k < 2; ++k) {
    const json& b = s.bodies[k];
    EXPECT_EQ(b["model"], "fake");
    EXPECT_EQ(s.auth[k], "Bearer sekret");
    if (s.paths[k] == "/v1/completions") {
      EXPECT_EQ(b["prompt"], "p0");
      EXPECT_EQ(b["max_tokens"], 7);
      EXPECT_DOUBLE_EQ(b["temperature"].get<double>(), 0.5);
      EXPECT_EQ(b["stop"], json({"\n\n"}));
      EXPECT_FALSE(b.contains("top_k"));
      EXPECT_LE(b["seed"].get<std::uint64_t>(), 0x7fffffffULL);
    } else {
      EXPECT_EQ(b["messages"], json({{{"role", "system"}, {"content", "be brief"}},
                                     {{"role", "user"}, {"content", "hello"}}}));
    }
  }
  // Same seed, different streams: different seeds on the wire; same stream: the same seed.
  auto be2 = cai::make_http_backend(backend_options({s.url()}));
  cai::TextRequest a2 = a, a3 = a;
  a3.stream = 4;
  be2->generate({a2, a3});
  // Requests run concurrently, so bodies arrive in either order.
  json first_seed;
  for (std::size_t k = 0; k < 2; ++k)
    if (s.paths[k] == "/v1/completions") first_seed = s.bodies[k]["seed"];
  const json s2 = s.bodies[2]["seed"], s3 = s.bodies[3]["seed"];
  EXPECT_NE(s2, s3);
  EXPECT_TRUE(s2 == first_seed || s3 == first_seed) << s2 << " " << s3 << " " << first_seed;
}

TEST(HttpBackend, Retries429And500ThenSucceeds) {
  std::atomic<int> n = 0;
  FakeServer s([&](const json&, const httplib::Request&, httplib::Response& res) {
    const int k = n++;
    if (k == 0) {
      res.set_header("Retry-After", "0");
      reply(res, 429, {{"error", {{"message", "slow down"}}}});
    } else if (k == 1) {
      reply(res, 500, {{"error", {{"message", "oops"}}}});
    } else if (k == 2) {
      res.status = 502;
    } else {
      reply(res, 200, completion("ok"));
    }
  });
  auto be = cai::make_http_backend(backend_options({s.url()}));
  auto out = be->generate({raw_request("x")});
  EXPECT_EQ(out[0].text, "ok");
  EXPECT_EQ(s.calls.load(), 4);
}

TEST(HttpBackend, GivesUpAfterMaxRetriesWithAClearError) {
  FakeServer s([&](const json&, const httplib::Request&, httplib::Response& res) {
    reply(res, 503, {{"error", {{"message", "overloaded"}}}});
  });
  auto o = backend_options({s.url()});
  o.max_retries = 2;
  auto be = cai::make_http_backend(o);
  const std::string e = error_of([&] { be->generate({raw_request("x")}); });
  EXPECT_NE(e.find("giving up after 3 attempts"), std::string::npos) << e;
  EXPECT_NE(e.find("HTTP 503"), std::string::npos) << e;
  EXPECT_NE(e.find("overloaded"), std::string::npos) << e;
  EXPECT_EQ(s.calls.load(), 3);
}

TEST(HttpBackend, Reports4xxWithTheServersMessageWithoutRetrying) {
  FakeServer s([&](const json&, const httplib::Request&, httplib::Response& res) {
    reply(res, 400,
          {{"error", {{"message", "max_tokens is too large"}, {"type", "invalid_request_error"}}}});
  });
  auto be = cai::make_http_backend(backend_options({s.url()}));
  const std::string e = error_of([&] { be->generate({raw_request("a"), raw_request("b")}); });
  EXPECT_NE(e.find("HTTP 400"), std::string::npos) << e;
  EXPECT_NE(e.find("max_tokens is too large"), std::string::npos) << e;
  EXPECT_LE(s.calls.load(), 2);  // one try per request at most, no retries
}

TEST(HttpBackend, TimeoutsAreRetried) {
  std::atomic<int> n = 0;
  FakeServer s([&](const json&, const httplib::Request&, httplib::Response& res) {
    if (n++ == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    reply(res, 200, completion("late but fine"));
  });
  auto o = backend_options({s.url()});
  o.timeout_s = 0.3;
  auto be = cai::make_http_backend(o);
  auto out = be->generate({raw_request("x")});
  EXPECT_EQ(out[0].text, "late but fine");
  EXPECT_EQ(s.calls.load(), 2);
}

TEST(HttpBackend, ConnectionErrorsAreRetriedThenReported) {
  // A port that was free a moment ago and now has no listener.
  int port = 0;
  {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    close(fd);
  }
  auto o = backend_options({"http://127.0.0.1:" + std::to_string(port) + "/v1"});
  o.max_retries = 1;
  auto be = cai::make_http_backend(o);
  const std::string e = error_of([&] { be->generate({raw_request("x")}); });
  EXPECT_NE(e.find("giving up after 2 attempts"), std::string::npos) << e;
}

TEST(HttpBackend, ConcurrencyIsBoundedAndResultsKeepRequestOrder) {
  std::atomic<int> in_flight = 0, peak = 0;
  FakeServer s([&](const json& b, const httplib::Request&, httplib::Response& res) {
    const int now = ++in_flight;
    int p = peak.load();
    while (now > p && !peak.compare_exchange_weak(p, now)) {}
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    --in_flight;
    reply(res, 200, completion(b["prompt"].get<std::string>() + "!"));
  });
  auto o = backend_options({s.url()});
  o.concurrency = 4;
  auto be = cai::make_http_backend(o);
  std::vector<cai::TextRequest> reqs;
  // Built by appending: "p" + std::to_string(i) draws a false -Wrestrict from GCC 12.
  auto text = [](int i) { return std::string("p").append(std::to_string(i)); };
  for (int i = 0; i < 40; ++i) reqs.push_back(raw_request(text(i)));
  std::size_t done = 0;
  auto out = be->generate(reqs, [&](std::size_t) { ++done; });
  for (int i = 0; i < 40; ++i) EXPECT_EQ(out[i].text, text(i) + "!");
  EXPECT_EQ(done, 40u);
  EXPECT_LE(peak.load(), 4);
  EXPECT_GE(peak.load(), 2);
}

TEST(HttpBackend, LoadIsSpreadOverBaseUrls) {
  auto handler = [](const json&, const httplib::Request&, httplib::Response& res) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    reply(res, 200, completion("ok"));
  };
  FakeServer a(handler), b(handler), c(handler);
  auto o =
      backend_options({a.url() + "," + b.url()});  // comma lists are split by the CLI; not here
  o.base_urls = {a.url(), b.url(), c.url()};
  o.concurrency = 3;
  auto be = cai::make_http_backend(o);
  std::vector<cai::TextRequest> reqs(30, raw_request("x"));
  be->generate(reqs);
  EXPECT_GT(a.calls.load(), 0);
  EXPECT_GT(b.calls.load(), 0);
  EXPECT_GT(c.calls.load(), 0);
  EXPECT_EQ(a.calls + b.calls + c.calls, 30);
}

TEST(HttpBackend, ScoresOptionsFromCompletionTopLogprobs) {
  FakeServer s([&](const json& b, const httplib::Request&, httplib::Response& res) {
    json lp = {{"tokens", {"A"}},
               {"token_logprobs", {-0.5}},
               {"top_logprobs", {{{"A", -0.5}, {" B", -1.5}, {"C", -2.0}, {"\n", -3.0}}}}};
    reply(res, 200,
          {{"choices", {{{"text", "A"}, {"logprobs", lp}, {"finish_reason", "length"}}}}});
  });
  auto be = cai::make_http_backend(backend_options({s.url()}));
  auto out =
      be->score_options({raw_request("Which is better? The answer is:")}, {" (A)", " (B)", " (D)"});
  ASSERT_EQ(s.bodies.size(), 1u);
  EXPECT_EQ(s.bodies[0]["prompt"], "Which is better? The answer is: (");
  EXPECT_EQ(s.bodies[0]["max_tokens"], 1);
  EXPECT_EQ(s.bodies[0]["logprobs"], 20);
  ASSERT_EQ(out[0].raw.size(), 3u);
  EXPECT_DOUBLE_EQ(out[0].raw[0], -0.5);
  EXPECT_DOUBLE_EQ(out[0].raw[1], -1.5);  // " B" matches "B)" without its leading space
  EXPECT_TRUE(std::isinf(out[0].raw[2]) && out[0].raw[2] < 0);
  // log softmax over the present options: -0.5 - log(e^-0.5 + e^-1.5) = -log(1 + e^-1)
  EXPECT_NEAR(out[0].normalised[0], -std::log(1.0 + std::exp(-1.0)), 1e-12);
  EXPECT_NEAR(out[0].normalised[1], -1.0 - std::log(1.0 + std::exp(-1.0)), 1e-12);
  EXPECT_TRUE(std::isinf(out[0].normalised[2]));
}

TEST(HttpBackend, ScoresOptionsFromChatTopLogprobs) {
  FakeServer s([&](const json&, const httplib::Request&, httplib::Response& res) {
    json content = {{{"token", "Yes"},
                     {"logprob", -0.2},
                     {"top_logprobs",
                      {{{"token", "Yes"}, {"logprob", -0.2}},
                       {{"token", " yes"}, {"logprob", -2.0}},
                       {{"token", " No"}, {"logprob", -1.9}},
                       {{"token", "No"}, {"logprob", -2.5}}}}}};
    reply(res, 200,
          {{"choices",
            {{{"message", {{"role", "assistant"}, {"content", "Yes"}}},
              {"logprobs", {{"content", content}}},
              {"finish_reason", "length"}}}}});
  });
  auto o = backend_options({s.url()});
  o.top_logprobs = 5;
  auto be = cai::make_http_backend(o);
  cai::TextRequest r;
  r.chat = true;
  r.messages = {{"user", "Is it? Answer Yes or No."}};
  auto out = be->score_options({r}, {" Yes", " No"});
  EXPECT_EQ(s.bodies[0]["logprobs"], true);
  EXPECT_EQ(s.bodies[0]["top_logprobs"], 5);
  EXPECT_EQ(s.bodies[0]["max_tokens"], 1);
  // "No" and " No" both begin option " No": their probabilities add up.
  const double no = std::log(std::exp(-1.9) + std::exp(-2.5));
  EXPECT_DOUBLE_EQ(out[0].raw[0], -0.2);
  EXPECT_NEAR(out[0].raw[1], no, 1e-12);
  EXPECT_NEAR(out[0].normalised[0], -0.2 - std::log(std::exp(-0.2) + std::exp(no)), 1e-12);
  EXPECT_NEAR(std::exp(out[0].normalised[0]) + std::exp(out[0].normalised[1]), 1.0, 1e-12);
}

TEST(HttpBackend, MissingLogprobsIsAClearError) {
  FakeServer s([&](const json&, const httplib::Request&, httplib::Response& res) {
    reply(res, 200, completion("A"));
  });
  auto be = cai::make_http_backend(backend_options({s.url()}));
  const std::string e = error_of([&] { be->score_options({raw_request("q")}, {" (A)", " (B)"}); });
  EXPECT_NE(e.find("no usable log-probs"), std::string::npos) << e;
}

TEST(HttpBackend, NoOptionAmongTheTopLogprobsIsAClearError) {
  FakeServer s([&](const json&, const httplib::Request&, httplib::Response& res) {
    json lp = {{"tokens", {"Z"}}, {"token_logprobs", {-0.1}}, {"top_logprobs", {{{"Z", -0.1}}}}};
    reply(res, 200, {{"choices", {{{"text", "Z"}, {"logprobs", lp}}}}});
  });
  auto be = cai::make_http_backend(backend_options({s.url()}));
  const std::string e = error_of([&] { be->score_options({raw_request("q")}, {" (A)", " (B)"}); });
  EXPECT_NE(e.find("none of the options"), std::string::npos) << e;
  EXPECT_NE(e.find("'Z'"), std::string::npos) << e;
}

TEST(HttpBackend, OptionsAreValidated) {
  cai::HttpBackendOptions o;
  EXPECT_NE(error_of([&] { o.validate(); }).find("base_urls"), std::string::npos);
  o.base_urls = {"ftp://x"};
  o.model = "m";
  EXPECT_NE(error_of([&] { o.validate(); }).find("http://"), std::string::npos);
  o.base_urls = {"http://x/v1"};
  o.concurrency = 0;
  EXPECT_NE(error_of([&] { o.validate(); }).find("concurrency"), std::string::npos);
  cai::BackendOptions b;
  EXPECT_NE(error_of([&] { b.validate(); }).find("--model"), std::string::npos);
  b.model = "m";
  b.http.base_urls = {"http://x/v1"};
  b.http.model = "m";
  EXPECT_NE(error_of([&] { b.validate(); }).find("not both"), std::string::npos);
  cai::GenParams p;
  p.top_p = 0.0;
  EXPECT_NE(error_of([&] { p.validate(); }).find("top_p"), std::string::npos);
}

namespace {

// An echoing /completions server: the prompt comes back as tokens of two bytes (the last may
// be one), token k >= 1 with log-prob -0.1 k, the first null, then one generated token " Z"
// at log-prob -9.
void echo_reply(const json& b, httplib::Response& res) {
  const std::string p = b["prompt"];
  json toks = json::array(), lps = json::array(), offs = json::array();
  for (std::size_t o = 0, k = 0; o < p.size(); o += 2, ++k) {
    toks.push_back(p.substr(o, 2));
    lps.push_back(k == 0 ? json(nullptr) : json(-0.1 * static_cast<double>(k)));
    offs.push_back(o);
  }
  toks.push_back(" Z");
  lps.push_back(-9.0);
  offs.push_back(p.size());
  json lp = {{"tokens", toks}, {"token_logprobs", lps}, {"text_offset", offs}};
  reply(res, 200,
        {{"choices", {{{"text", p + " Z"}, {"logprobs", lp}, {"finish_reason", "length"}}}}});
}

}  // namespace

TEST(HttpBackend, LoglikelihoodsSumTheEchoedContinuationTokens) {
  FakeServer s(
      [](const json& b, const httplib::Request&, httplib::Response& res) { echo_reply(b, res); });
  auto be = cai::make_http_backend(backend_options({s.url()}));
  // "abcd" + "efg": tokens ab@0 (null), cd@2 (-0.1), ef@4 (-0.2), g@6 (-0.3), " Z"@7 (not
  // the continuation's). "abcd" + "de": de@4 (-0.2). "abc" + "efg": ce@2 starts inside the
  // prompt, so only fg@4 (-0.2) counts; "abc" + "de": cd@2 inside, e@4 (-0.2).
  auto out = be->loglikelihoods({raw_request("abcd"), raw_request("abc")}, {"efg", "de"});
  ASSERT_EQ(out.size(), 2u);
  ASSERT_EQ(out[0].size(), 2u);
  EXPECT_NEAR(out[0][0], -0.5, 1e-12);
  EXPECT_NEAR(out[0][1], -0.2, 1e-12);
  EXPECT_NEAR(out[1][0], -0.2, 1e-12);
  EXPECT_NEAR(out[1][1], -0.2, 1e-12);
  ASSERT_EQ(s.bodies.size(), 4u);
  for (const auto& b : s.bodies) {
    EXPECT_EQ(b["echo"], true);
    EXPECT_EQ(b["max_tokens"], 1);
    EXPECT_EQ(b["logprobs"], 1);
    EXPECT_EQ(b["temperature"], 0.0);
  }
  EXPECT_EQ(s.paths[0], "/v1/completions");
  // "abc" + "e": ab, ce@2: the continuation has no token of its own.
  const std::string e = error_of([&] { be->loglikelihoods({raw_request("abc")}, {"e"}); });
  EXPECT_NE(e.find("no token of its own"), std::string::npos) << e;
}

TEST(HttpBackend, LoglikelihoodsWithoutEchoOrOverChatAreClearErrors) {
  // A server that ignores echo answers with the generated token alone.
  FakeServer s([](const json&, const httplib::Request&, httplib::Response& res) {
    json lp = {{"tokens", {" Z"}}, {"token_logprobs", {-9.0}}, {"text_offset", {0}}};
    reply(res, 200,
          {{"choices", {{{"text", " Z"}, {"logprobs", lp}, {"finish_reason", "length"}}}}});
  });
  auto be = cai::make_http_backend(backend_options({s.url()}));
  std::string e = error_of([&] { be->loglikelihoods({raw_request("q")}, {" a"}); });
  EXPECT_NE(e.find("no log-probs of the prompt"), std::string::npos) << e;
  EXPECT_NE(e.find("echo"), std::string::npos) << e;
  cai::TextRequest chat;
  chat.chat = true;
  chat.messages = {{"user", "hi"}};
  e = error_of([&] { be->loglikelihoods({chat}, {" a"}); });
  EXPECT_NE(e.find("chat requests are not supported"), std::string::npos) << e;
}
