// `n` choices from `cai serve`, through the HTTP backend's client: choice i equals the same
// request with n = 1 and seed + i, in the shape OpenAI's client reads (choices[i].index in
// order); usage counts every choice's tokens and the prompt once; a stream carries each
// choice's index and concatenates to the same texts; n past --max-n is a 400 naming 'n'.
#include <gtest/gtest.h>
#include <httplib.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "../../src/backend/http_client.h"
#include "cai/io/error.h"
#include "cai/model/loader.h"
#include "cai/serve/server.h"
#include "in_process_server.h"

namespace choices_test {

using nlohmann::json;

// The server of every test here, allowing four choices.
struct Served : cai::testing_util::InProcessServer {
  Served()
      : InProcessServer([] {
          cai::serve::ServeOptions o;
          o.max_n = 4;
          return o;
        }()) {}
};

Served& served() {
  static Served s;
  return s;
}

cai::http::Client& client() {
  static cai::http::Client c([] {
    cai::http::ClientOptions o;
    o.base_urls = {"http://127.0.0.1:" + std::to_string(served().port) + "/v1"};
    o.max_retries = 0;
    return o;
  }());
  return c;
}

std::string text_of(const json& choice) {
  return choice.contains("text") ? choice["text"].get<std::string>()
                                 : choice["message"]["content"].get<std::string>();
}

TEST(ServeChoices, ChoiceIEqualsOneRequestWithSeedPlusI) {
  for (const std::string path : {"/completions", "/chat/completions"}) {
    json body = {{"max_tokens", 12}, {"temperature", 1.0}, {"seed", 7}};
    if (path == "/completions")
      body["prompt"] = "Once upon a time";
    else
      body["messages"] = {{{"role", "user"}, {"content", "Tell me a story"}}};
    json many = body;
    many["n"] = 3;
    const json j = client().post(path, many);
    ASSERT_EQ(j["choices"].size(), 3u) << path;
    std::int64_t completion = 0, prompt = 0;
    std::set<std::string> distinct;
    for (int i = 0; i < 3; ++i) {
      json one = body;
      one["seed"] = 7 + i;
      const json r = client().post(path, one);
      const json& ch = j["choices"][i];
      EXPECT_EQ(ch["index"], i) << path;
      EXPECT_EQ(text_of(ch), text_of(r["choices"][0])) << path << " choice " << i;
      EXPECT_EQ(ch["finish_reason"], r["choices"][0]["finish_reason"]) << path;
      completion += r["usage"]["completion_tokens"].get<std::int64_t>();
      prompt = r["usage"]["prompt_tokens"];
      distinct.insert(text_of(ch));
    }
    EXPECT_EQ(j["usage"]["completion_tokens"], completion) << path;
    EXPECT_EQ(j["usage"]["prompt_tokens"], prompt) << path;  // the prompt once
    EXPECT_EQ(j["usage"]["total_tokens"], completion + prompt) << path;
    EXPECT_GT(distinct.size(), 1u) << path;  // different seeds, different samples
  }
}

TEST(ServeChoices, StreamedChoicesCarryTheirIndex) {
  const json body = {{"prompt", "The cat"},
                     {"max_tokens", 10},
                     {"temperature", 1.0},
                     {"seed", 3},
                     {"n", 2},
                     {"stream", true},
                     {"stream_options", {{"include_usage", true}}}};
  httplib::Client c("127.0.0.1", served().port);
  c.set_read_timeout(std::chrono::seconds(60));
  auto res = c.Post("/v1/completions", body.dump(), "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  std::map<int, std::string> text, finish;
  std::int64_t usage = -1;
  bool done = false;
  for (std::size_t pos = 0; (pos = res->body.find("data: ", pos)) != std::string::npos;) {
    const std::size_t end = res->body.find("\n\n", pos);
    const std::string payload = res->body.substr(pos + 6, end - pos - 6);
    pos = end + 2;
    if (payload == "[DONE]") {
      done = true;
      break;
    }
    const json j = json::parse(payload);
    if (j.contains("usage") && !j["usage"].is_null())
      usage = j["usage"]["completion_tokens"].get<std::int64_t>();
    for (const auto& ch : j["choices"]) {
      const int i = ch["index"];
      text[i] += ch["text"].get<std::string>();
      if (!ch["finish_reason"].is_null()) finish[i] = ch["finish_reason"];
    }
  }
  EXPECT_TRUE(done);
  json whole = body;
  whole.erase("stream");
  whole.erase("stream_options");
  const json w = client().post("/completions", whole);
  ASSERT_EQ(text.size(), 2u);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(text[i], text_of(w["choices"][i])) << i;
    EXPECT_EQ(finish[i], w["choices"][i]["finish_reason"]) << i;
  }
  EXPECT_EQ(usage, w["usage"]["completion_tokens"]);
}

TEST(ServeChoices, TooManyChoicesIsA400NamingTheField) {
  try {
    client().post("/completions", {{"prompt", "x"}, {"n", 5}});
    ADD_FAILURE() << "n = 5 was accepted past max_n = 4";
  } catch (const cai::Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("400"), std::string::npos) << m;
    EXPECT_NE(m.find("'n'"), std::string::npos) << m;
  }
  EXPECT_THROW(client().post("/completions", {{"prompt", "x"}, {"n", 0}}), cai::Error);
  // Greedy choices are all the greedy answer.
  const json g = client().post("/completions", {{"prompt", "x"}, {"n", 4}, {"temperature", 0}});
  ASSERT_EQ(g["choices"].size(), 4u);
  for (int i = 1; i < 4; ++i) EXPECT_EQ(g["choices"][i]["text"], g["choices"][0]["text"]);
}

}  // namespace choices_test
