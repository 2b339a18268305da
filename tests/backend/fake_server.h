// An OpenAI-compatible server for the HTTP backend's tests: httplib on 127.0.0.1 with an
// ephemeral port; every POST to /v1/completions or /v1/chat/completions goes to one handler,
// and the bodies, paths and Authorization headers it received are kept. Also the helpers the
// backend's tests share: client options with short backoffs, requests, the error a call throws.
#pragma once

#include <httplib.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "cai/backend/factory.h"
#include "cai/io/error.h"

namespace cai::testing_util {

using Handler =
    std::function<void(const nlohmann::json& body, const httplib::Request&, httplib::Response&)>;

class FakeServer {
 public:
  explicit FakeServer(Handler handler) : handler_(std::move(handler)) {
    svr_.new_task_queue = [] { return new httplib::ThreadPool(16); };
    auto route = [this](const httplib::Request& req, httplib::Response& res) {
      ++calls;
      {
        std::lock_guard lock(mu);
        bodies.push_back(nlohmann::json::parse(req.body));
        paths.push_back(req.path);
        auth.push_back(req.get_header_value("Authorization"));
      }
      handler_(nlohmann::json::parse(req.body), req, res);
    };
    // A handler that throws answers 500 with the exception's text, so a failing test says why.
    svr_.set_exception_handler([](const httplib::Request&, httplib::Response& res,
                                  std::exception_ptr ep) {
      std::string what = "unknown exception";
      try {
        std::rethrow_exception(ep);
      } catch (const std::exception& e) {
        what = e.what();
      } catch (...) {}
      res.status = 500;
      res.set_content(nlohmann::json{{"error", {{"message", what}}}}.dump(), "application/json");
    });
    svr_.Post("/v1/completions", route);
    svr_.Post("/v1/chat/completions", route);
    port_ = svr_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { svr_.listen_after_bind(); });
  }
  ~FakeServer() {
    svr_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }

  std::atomic<int> calls = 0;
  std::mutex mu;
  std::vector<nlohmann::json> bodies;
  std::vector<std::string> paths, auth;

 private:
  Handler handler_;
  httplib::Server svr_;
  int port_ = 0;
  std::thread thread_;
};

// Options for a backend on `urls`: model "fake", key from CAI_TEST_FAKE_KEY, quick retries.
inline cai::HttpBackendOptions backend_options(const std::vector<std::string>& urls) {
  cai::HttpBackendOptions o;
  o.base_urls = urls;
  o.model = "fake";
  o.api_key_env = "CAI_TEST_FAKE_KEY";
  o.backoff_initial_s = 0.001;
  o.backoff_max_s = 0.01;
  o.timeout_s = 10.0;
  return o;
}

inline cai::TextRequest raw_request(const std::string& prompt) {
  cai::TextRequest r;
  r.prompt = prompt;
  return r;
}

inline cai::TextRequest chat_request(const std::string& user) {
  cai::TextRequest r;
  r.chat = true;
  r.messages = {{"user", user}};
  return r;
}

// The message of the cai::Error `f` throws, or "(no error)".
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const cai::Error& e) {
    return e.what();
  }
  return "(no error)";
}

// Invalid UTF-8 in a string (a lone byte token) becomes U+FFFD, as llama.cpp's server sends it.
inline void reply(httplib::Response& res, int status, const nlohmann::json& j) {
  res.status = status;
  res.set_content(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                  "application/json");
}

}  // namespace cai::testing_util
