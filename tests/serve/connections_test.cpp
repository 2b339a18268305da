// `cai serve` under slow, idle and departing clients, on the tiny fixture model: half-open
// requests do not delay health, models or generation; a client trickling its headers or body
// is dropped at the deadline with 408; keep-alive ends after its request count or idle time;
// pipelined requests are answered in order; past the connection cap the longest-waiting
// connection makes room; a client that drops a stream (or a plain request) mid-generation has
// its sequence cancelled and the engine's active count returns to 0.
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cai/model/loader.h"
#include "cai/serve/server.h"
#include "in_process_server.h"

namespace conn_test {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

struct Served : cai::testing_util::InProcessServer {
  explicit Served(cai::serve::ServeOptions o) : InProcessServer(std::move(o)) {}
  json health() const {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(std::chrono::seconds(30));
    auto r = c.Get("/health");
    EXPECT_TRUE(r);
    return r ? json::parse(r->body) : json();
  }
};

// A raw client socket, for requests httplib's client would not send.
class Raw {
 public:
  explicit Raw(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  }
  ~Raw() { close(); }
  Raw(const Raw&) = delete;
  Raw& operator=(const Raw&) = delete;
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  bool send(const std::string& s) {
    return ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size());
  }
  // Waits up to `timeout` for bytes; appends them to `got`. False once the server has closed.
  bool read(std::string& got, std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return true;
    char buf[65536];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return false;
    got.append(buf, static_cast<std::size_t>(n));
    return true;
  }
  // Reads until `needle` has arrived or the server closed; gives what came.
  std::string read_until(const std::string& needle, std::chrono::seconds limit) {
    std::string got;
    const auto end = Clock::now() + limit;
    while (Clock::now() < end && got.find(needle) == std::string::npos)
      if (!read(got, std::chrono::milliseconds(100))) break;
    return got;
  }
  // True when the server has closed the connection (reading any bytes it sent first).
  bool closed_by_server(std::chrono::seconds limit) {
    std::string ignored;
    const auto end = Clock::now() + limit;
    while (Clock::now() < end)
      if (!read(ignored, std::chrono::milliseconds(100))) return true;
    return false;
  }
  // Still open, with nothing received (no waiting).
  bool open_and_silent() const {
    char c;
    const ssize_t n = ::recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }

 private:
  int fd_ = -1;
};

const std::string kGet = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";

std::string completion_request(const json& body) {
  const std::string b = body.dump();
  return "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
         "Content-Length: " +
         std::to_string(b.size()) + "\r\n\r\n" + b;
}

int count(const std::string& s, const std::string& needle) {
  int n = 0;
  for (std::size_t p = 0; (p = s.find(needle, p)) != std::string::npos; p += needle.size()) ++n;
  return n;
}

// Polls health until `pred` holds (or ~20 s pass); returns the last health.
template <typename Pred>
json wait_for(const Served& s, Pred pred) {
  json h;
  for (int i = 0; i < 200; ++i) {
    h = s.health();
    if (pred(h)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return h;
}

TEST(ServeConnections, HalfOpenRequestsDoNotDelayOtherClients) {
  cai::serve::ServeOptions o;
  o.max_concurrent = 4;  // 12 worker threads: far fewer than the half-open connections
  o.connections.header_timeout_s = 120;
  Served s(o);
  std::vector<std::unique_ptr<Raw>> stalled;
  for (int i = 0; i < 50; ++i) {
    stalled.push_back(std::make_unique<Raw>(s.port));
    ASSERT_TRUE(stalled.back()->send("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Le"));
  }
  // Also a body that never arrives in full.
  Raw partial(s.port);
  ASSERT_TRUE(partial.send("POST /v1/completions HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"pr"));
  httplib::Client c("127.0.0.1", s.port);
  c.set_read_timeout(std::chrono::seconds(60));
  auto h = c.Get("/health");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  EXPECT_GE(json::parse(h->body)["connections"]["open"].get<int>(), 51);
  auto m = c.Get("/v1/models");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->status, 200);
  auto g = c.Post("/v1/completions", R"({"prompt":"Hello","max_tokens":4})", "application/json");
  ASSERT_TRUE(g);
  EXPECT_EQ(g->status, 200) << g->body;
  // Answered while every stalled client still holds its connection: nobody waited for them
  // to be dropped.
  for (const auto& r : stalled) EXPECT_TRUE(r->open_and_silent());
  EXPECT_TRUE(partial.open_and_silent());
}

TEST(ServeConnections, ATricklingClientIsDroppedAtTheDeadline) {
  cai::serve::ServeOptions o;
  o.connections.header_timeout_s = 1.0;
  o.connections.body_timeout_s = 1.0;
  Served s(o);
  // Headers one line every 200 ms, for ever: each read succeeds, only a deadline stops it.
  Raw slow(s.port);
  ASSERT_TRUE(slow.send("GET /health HTTP/1.1\r\n"));
  std::string got;
  bool open = true;
  const auto start = Clock::now();
  for (int i = 0; open && i < 100; ++i) {
    slow.send("X-Slow-" + std::to_string(i) + ": y\r\n");
    open = slow.read(got, std::chrono::milliseconds(200));
  }
  EXPECT_FALSE(open) << "still open after " << 100 * 0.2 << " s";
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(15));
  EXPECT_EQ(got.rfind("HTTP/1.1 408", 0), 0u) << got;
  EXPECT_NE(got.find("request_timeout"), std::string::npos);
  // A body that stops half way.
  Raw body(s.port);
  ASSERT_TRUE(body.send("POST /v1/completions HTTP/1.1\r\nContent-Length: 50\r\n\r\n{\"pro"));
  const std::string r = body.read_until("\r\n\r\n", std::chrono::seconds(15));
  EXPECT_EQ(r.rfind("HTTP/1.1 408", 0), 0u) << r;
  EXPECT_TRUE(body.closed_by_server(std::chrono::seconds(5)));
  // A connection that never sends anything is closed too.
  Raw silent(s.port);
  EXPECT_TRUE(silent.closed_by_server(std::chrono::seconds(15)));
  EXPECT_GE(s.health()["connections"]["timed_out"].get<int>(), 3);
}

TEST(ServeConnections, KeepAliveEndsAfterItsRequestsOrIdleTime) {
  cai::serve::ServeOptions o;
  o.connections.keep_alive_max = 3;
  o.connections.keep_alive_timeout_s = 1.0;
  Served s(o);
  {
    Raw r(s.port);
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(r.send(kGet));
      const std::string resp = r.read_until("\"status\"", std::chrono::seconds(10));
      EXPECT_EQ(resp.rfind("HTTP/1.1 200", 0), 0u) << resp;
      // The last allowed request is told the connection closes.
      EXPECT_EQ(resp.find("Connection: close") != std::string::npos, i == 2) << resp;
    }
    EXPECT_TRUE(r.closed_by_server(std::chrono::seconds(5)));
  }
  {
    Raw r(s.port);
    ASSERT_TRUE(r.send(kGet));
    EXPECT_NE(r.read_until("\"status\"", std::chrono::seconds(10)).find("200 OK"),
              std::string::npos);
    EXPECT_TRUE(r.closed_by_server(std::chrono::seconds(10)));  // idle past 1 s
  }
  {
    // Two requests in one write (pipelined): two answers, in order.
    Raw r(s.port);
    ASSERT_TRUE(r.send(kGet + "GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n"));
    const std::string both = r.read_until("\"object\":\"list\"", std::chrono::seconds(10));
    EXPECT_EQ(count(both, "HTTP/1.1 200"), 2) << both;
    EXPECT_LT(both.find("\"status\""), both.find("\"object\":\"list\""));
  }
}

TEST(ServeConnections, ChunkedAndExpectContinueBodiesAreServed) {
  Served s(cai::serve::ServeOptions{});
  Raw r(s.port);
  const std::string body = R"({"prompt":"Hello","max_tokens":2})";
  ASSERT_TRUE(
      r.send("POST /v1/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
             "5\r\n" +
             body.substr(0, 5) + "\r\n" + fmt::format("{:x}", body.size() - 5) + "\r\n" +
             body.substr(5) + "\r\n0\r\n\r\n"));
  std::string resp = r.read_until("\"usage\"", std::chrono::seconds(20));
  EXPECT_EQ(resp.rfind("HTTP/1.1 200", 0), 0u) << resp;
  // Expect: 100-continue is answered before the body is sent, once.
  Raw e(s.port);
  ASSERT_TRUE(
      e.send("POST /v1/completions HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
             "Content-Length: " +
             std::to_string(body.size()) + "\r\n\r\n"));
  EXPECT_EQ(e.read_until("\r\n\r\n", std::chrono::seconds(10)), "HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_TRUE(e.send(body));
  resp = e.read_until("\"usage\"", std::chrono::seconds(20));
  EXPECT_EQ(resp.rfind("HTTP/1.1 200", 0), 0u) << resp;
  EXPECT_EQ(count(resp, "100 Continue"), 0);
  // Framing errors are answered by the connection layer itself.
  Raw bad(s.port);
  ASSERT_TRUE(
      bad.send("POST /v1/completions HTTP/1.1\r\nContent-Length: 1\r\n"
               "Content-Length: 2\r\n\r\nxx"));
  EXPECT_EQ(bad.read_until("\r\n\r\n", std::chrono::seconds(10)).rfind("HTTP/1.1 400", 0), 0u);
  Raw huge(s.port);
  ASSERT_TRUE(huge.send("GET /health HTTP/1.1\r\nX: " + std::string(70000, 'a') + "\r\n\r\n"));
  EXPECT_EQ(huge.read_until("\r\n\r\n", std::chrono::seconds(10)).rfind("HTTP/1.1 431", 0), 0u);
}

TEST(ServeConnections, PastTheCapTheLongestWaitingConnectionMakesRoom) {
  cai::serve::ServeOptions o;
  o.connections.max_connections = 8;
  o.connections.header_timeout_s = 120;
  Served s(o);
  std::vector<std::unique_ptr<Raw>> idle;
  for (int i = 0; i < 8; ++i) {
    idle.push_back(std::make_unique<Raw>(s.port));
    std::this_thread::sleep_for(std::chrono::milliseconds(30));  // a clear arrival order
  }
  Raw late(s.port);
  ASSERT_TRUE(late.send(kGet));
  const std::string resp = late.read_until("\"status\"", std::chrono::seconds(10));
  EXPECT_EQ(resp.rfind("HTTP/1.1 200", 0), 0u) << resp;
  EXPECT_TRUE(idle[0]->closed_by_server(std::chrono::seconds(10)));
  for (std::size_t i = 2; i < idle.size(); ++i) EXPECT_TRUE(idle[i]->open_and_silent()) << i;
  EXPECT_GE(s.health()["connections"]["evicted"].get<int>(), 1);
}

// Whether a departure beats the end of a 480-token generation depends on scheduling, so each
// case is tried a few times: every try must leave nothing active, and at least one must be a
// cancellation (a server that never cancels fails every try).
TEST(ServeConnections, AClientThatLeavesMidGenerationFreesItsSequence) {
  Served s(cai::serve::ServeOptions{});
  const json body = {{"prompt", "Once upon a time"},
                     {"max_tokens", 480},
                     {"ignore_eos", true},
                     {"temperature", 0},
                     {"stream", true}};
  json plain = body;
  plain["stream"] = false;
  plain["n"] = 2;
  for (const bool stream : {true, false}) {
    const std::int64_t before = s.health()["cancelled"];
    for (int attempt = 0; attempt < 5; ++attempt) {
      {
        Raw r(s.port);
        ASSERT_TRUE(r.send(completion_request(stream ? body : plain)));
        if (stream) {
          // The first token's chunk, then away.
          const std::string first = r.read_until("data: {", std::chrono::seconds(30));
          ASSERT_NE(first.find("data: {"), std::string::npos) << first;
        }
      }
      const json h = wait_for(
          s, [](const json& j) { return j["active_sequences"] == 0 && j["in_flight"] == 0; });
      EXPECT_EQ(h["active_sequences"], 0);
      EXPECT_EQ(h["in_flight"], 0);
      if (h["cancelled"].get<std::int64_t>() > before) break;
    }
    EXPECT_GT(s.health()["cancelled"].get<std::int64_t>(), before)
        << (stream ? "stream" : "plain request") << ": never cancelled";
  }
}

}  // namespace conn_test
