#include "http_client.h"

#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <random>
#include <thread>

#include "cai/io/error.h"

namespace cai::http {

BaseUrl parse_base_url(const std::string& url) {
  const auto scheme_end = url.find("://");
  CAI_CHECK(scheme_end != std::string::npos, "http: base URL '{}' has no scheme (http://...)", url);
  const std::string scheme = url.substr(0, scheme_end);
  CAI_CHECK(scheme == "http" || scheme == "https",
            "http: base URL '{}' must use http or https, not '{}'", url, scheme);
  const auto host_begin = scheme_end + 3;
  const auto slash = url.find('/', host_begin);
  BaseUrl b;
  b.origin = url.substr(0, slash);
  CAI_CHECK(b.origin.size() > host_begin, "http: base URL '{}' has no host", url);
  if (slash != std::string::npos) b.prefix = url.substr(slash);
  while (!b.prefix.empty() && b.prefix.back() == '/') b.prefix.pop_back();
  return b;
}

double full_jitter_backoff(double initial_s, double max_s, std::int64_t attempt, double u) {
  const double cap = std::min(max_s, initial_s * std::pow(2.0, static_cast<double>(attempt)));
  return cap * u;
}

double parse_retry_after(const std::string& value) {
  if (value.empty()) return -1.0;
  char* end = nullptr;
  const double s = std::strtod(value.c_str(), &end);
  if (end == value.c_str() || !std::isfinite(s) || s < 0.0) return -1.0;
  while (*end == ' ') ++end;
  return *end == '\0' ? s : -1.0;
}

struct Client::Endpoint {
  BaseUrl url;
  std::vector<std::unique_ptr<httplib::Client>> idle;  // keep-alive connections not in use
  std::atomic<std::int64_t> in_flight = 0;
  std::atomic<std::int64_t> requests = 0;
};

Client::Client(ClientOptions opts) : opts_(std::move(opts)) {
  CAI_CHECK(!opts_.base_urls.empty(), "http: at least one base URL is needed");
  for (const auto& u : opts_.base_urls) {
    auto e = std::make_unique<Endpoint>();
    e->url = parse_base_url(u);
    endpoints_.push_back(std::move(e));
  }
}

Client::~Client() = default;

std::vector<std::int64_t> Client::requests_per_url() const {
  std::vector<std::int64_t> r;
  for (const auto& e : endpoints_) r.push_back(e->requests.load());
  return r;
}

// Least in-flight requests; ties go round robin so idle servers share the load evenly.
std::size_t Client::pick_endpoint() {
  const std::size_t n = endpoints_.size();
  const std::size_t start = round_robin_.fetch_add(1) % n;
  std::size_t best = start;
  for (std::size_t k = 1; k < n; ++k) {
    const std::size_t i = (start + k) % n;
    if (endpoints_[i]->in_flight.load() < endpoints_[best]->in_flight.load()) best = i;
  }
  return best;
}

std::unique_ptr<httplib::Client> Client::acquire(std::size_t e) {
  {
    std::lock_guard lock(mu_);
    auto& idle = endpoints_[e]->idle;
    if (!idle.empty()) {
      auto c = std::move(idle.back());
      idle.pop_back();
      return c;
    }
  }
  auto c = std::make_unique<httplib::Client>(endpoints_[e]->url.origin);
  const auto t = std::chrono::duration<double>(opts_.timeout_s);
  c->set_connection_timeout(t);
  c->set_read_timeout(t);
  c->set_write_timeout(t);
  c->set_keep_alive(true);
  return c;
}

void Client::release(std::size_t e, std::unique_ptr<httplib::Client> c) {
  std::lock_guard lock(mu_);
  endpoints_[e]->idle.push_back(std::move(c));
}

namespace {

// The server's own explanation: OpenAI's {"error": {"message": ...}}, else the body itself.
std::string server_message(const std::string& body) {
  try {
    const auto j = nlohmann::json::parse(body);
    if (j.is_object() && j.contains("error")) {
      const auto& e = j["error"];
      if (e.is_object() && e.contains("message") && e["message"].is_string())
        return e["message"].get<std::string>();
      if (e.is_string()) return e.get<std::string>();
    }
    if (j.is_object() && j.contains("message") && j["message"].is_string())
      return j["message"].get<std::string>();
  } catch (const nlohmann::json::exception&) {}
  std::string s = body.substr(0, 500);
  return s.empty() ? "(empty body)" : s;
}

double thread_uniform() {
  thread_local std::mt19937_64 gen{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(gen);
}

}  // namespace

nlohmann::json Client::post(const std::string& path, const nlohmann::json& body) {
  const std::string payload = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  httplib::Headers headers;
  if (!opts_.api_key.empty()) headers.emplace("Authorization", "Bearer " + opts_.api_key);
  std::string last_error;
  for (std::int64_t attempt = 0;; ++attempt) {
    const std::size_t e = pick_endpoint();
    Endpoint& ep = *endpoints_[e];
    const std::string url = ep.url.origin + ep.url.prefix + path;
    double retry_after = -1.0;
    ++ep.in_flight;
    ++ep.requests;
    auto conn = acquire(e);
    httplib::Result res =
        conn->Post((ep.url.prefix + path).c_str(), headers, payload, "application/json");
    --ep.in_flight;
    if (!res) {
      // Connection refused, reset or timed out: the connection is dropped, the request retried.
      last_error = fmt::format("POST {}: {}", url, httplib::to_string(res.error()));
    } else {
      release(e, std::move(conn));
      const int status = res->status;
      if (status >= 200 && status < 300) {
        try {
          return nlohmann::json::parse(res->body);
        } catch (const nlohmann::json::exception& ex) {
          throw_error("http: POST {}: the server's answer is not JSON ({}): {}", url, ex.what(),
                      res->body.substr(0, 200));
        }
      }
      const std::string msg = server_message(res->body);
      // llama.cpp's server answers a parameter it does not support ("echo", "best_of") with
      // HTTP 500 "Unsupported param: ..."; retrying cannot change that.
      if (status >= 500 && msg.rfind("Unsupported param", 0) == 0)
        throw RequestRefused(fmt::format("http: POST {}: HTTP {}: {}", url, status, msg), status,
                             msg);
      if (status != 429 && status < 500)
        throw RequestRefused(fmt::format("http: POST {}: HTTP {}: {}", url, status, msg), status,
                             msg);
      last_error = fmt::format("POST {}: HTTP {}: {}", url, status, msg);
      retry_after = parse_retry_after(res->get_header_value("Retry-After"));
    }
    if (attempt >= opts_.max_retries)
      throw_error("http: giving up after {} attempt{}; last error: {}", attempt + 1,
                  attempt == 0 ? "" : "s", last_error);
    const double wait = retry_after >= 0.0
                            ? std::min(retry_after, opts_.backoff_max_s)
                            : full_jitter_backoff(opts_.backoff_initial_s, opts_.backoff_max_s,
                                                  attempt, thread_uniform());
    std::this_thread::sleep_for(std::chrono::duration<double>(wait));
  }
}

}  // namespace cai::http
