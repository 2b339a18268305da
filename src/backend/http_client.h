// JSON POSTs to OpenAI-compatible servers: a pool of keep-alive connections per base URL, the
// least-loaded base URL for each attempt, a per-request timeout, and retries with exponential
// backoff and full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter", 2015) on
// 429, 5xx, timeouts and connection errors, honouring Retry-After. Other 4xx answers are not
// retried: they become cai::Error with the status and the server's own message.
//
// Thread-safe: post() is called from many worker threads at once.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cai/io/error.h"

namespace httplib {
class Client;
}

namespace cai::http {

struct ClientOptions {
  std::vector<std::string> base_urls;  // "http://host:port/v1" (scheme, host, optional port
                                       // and path prefix)
  std::string api_key;                 // "" = no Authorization header
  double timeout_s = 120.0;            // connect, read and write timeouts of one attempt
  std::int64_t max_retries = 5;        // attempts after the first
  double backoff_initial_s = 0.5;      // first backoff cap; doubles per retry
  double backoff_max_s = 20.0;         // cap of the backoff (and of a server's Retry-After)
};

// A 4xx answer other than 429 (or llama.cpp's HTTP 500 "Unsupported param: ..."): the server
// refused the request itself, so it is not retried. Callers that can ask another way catch it.
class RequestRefused : public Error {
 public:
  RequestRefused(const std::string& what, int status, std::string server_message)
      : Error(what), status(status), server_message(std::move(server_message)) {}
  int status;
  std::string server_message;
};

// "http://h:8000/v1" -> {"http://h:8000", "/v1"}; throws cai::Error for anything else.
struct BaseUrl {
  std::string origin;  // scheme://host[:port]
  std::string prefix;  // path prefix without a trailing slash ("" or "/v1")
};
BaseUrl parse_base_url(const std::string& url);

// Seconds to wait before retry number `attempt` (0-based): uniform in [0, min(max, initial *
// 2^attempt)], from `u` in [0, 1).
double full_jitter_backoff(double initial_s, double max_s, std::int64_t attempt, double u);

// A Retry-After header value in seconds ("3", "1.5"); negative when absent or not a number
// (HTTP-dates are not parsed: the computed backoff is used then).
double parse_retry_after(const std::string& value);

class Client {
 public:
  explicit Client(ClientOptions opts);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // POSTs `body` to base_url + `path` ("/completions") and returns the parsed JSON answer.
  // Throws RequestRefused for a refused request (see there), cai::Error once retries are
  // exhausted.
  nlohmann::json post(const std::string& path, const nlohmann::json& body);

  // Requests each base URL has received so far (for load-spreading tests and logs).
  std::vector<std::int64_t> requests_per_url() const;

 private:
  struct Endpoint;
  std::size_t pick_endpoint();
  std::unique_ptr<httplib::Client> acquire(std::size_t e);
  void release(std::size_t e, std::unique_ptr<httplib::Client> c);

  ClientOptions opts_;
  std::vector<std::unique_ptr<Endpoint>> endpoints_;
  std::atomic<std::uint64_t> round_robin_ = 0;
  mutable std::mutex mu_;  // guards the endpoints' idle connections
};

}  // namespace cai::http
