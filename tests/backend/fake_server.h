// An OpenAI-compatible server for the HTTP backend's tests: httplib on 127.0.0.1 with an
// ephemeral port; every POST to /v1/completions or /v1/chat/completions goes to one handler,
// and the bodies, paths and Authorization headers it received are kept.
#pragma once

#include <httplib.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

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

inline void reply(httplib::Response& res, int status, const nlohmann::json& j) {
  res.status = status;
  res.set_content(j.dump(), "application/json");
}

}  // namespace cai::testing_util
