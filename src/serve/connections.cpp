#include "connections.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cai/io/error.h"
#include "cai/serve/protocol.h"
#include "request_framing.h"

namespace cai::serve {

void ConnectionLimits::validate() const {
  CAI_CHECK(max_connections >= 1, "serve: max_connections must be >= 1, got {}", max_connections);
  for (const auto& [name, v] : {std::pair{"header_timeout_s", header_timeout_s},
                                {"body_timeout_s", body_timeout_s},
                                {"keep_alive_timeout_s", keep_alive_timeout_s},
                                {"write_timeout_s", write_timeout_s}})
    CAI_CHECK(v > 0.0 && v <= 86400.0, "serve: {} must be in (0, 86400] seconds, got {}", name, v);
  CAI_CHECK(keep_alive_max >= 1, "serve: keep_alive_max must be >= 1, got {}", keep_alive_max);
  CAI_CHECK(max_header_bytes >= 1024, "serve: max_header_bytes must be >= 1024, got {}",
            max_header_bytes);
}

namespace {

using Clock = std::chrono::steady_clock;

Clock::duration seconds(double s) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

// The connection the current worker thread is serving (-1: none); see client_gone().
thread_local int tl_serving_fd = -1;

// The peer has closed its side (or reset the connection). Bytes still unread (a pipelined
// next request) mean it is there.
bool peer_closed(int fd) {
  char c;
  const ssize_t n = ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n == 0) return true;
  if (n < 0) return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
  return false;
}

void ip_and_port(const sockaddr_storage& a, std::string& ip, int& port) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (a.ss_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(a);
    ::inet_ntop(AF_INET, &v4.sin_addr, buf, sizeof buf);
    port = ntohs(v4.sin_port);
  } else if (a.ss_family == AF_INET6) {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(a);
    ::inet_ntop(AF_INET6, &v6.sin6_addr, buf, sizeof buf);
    port = ntohs(v6.sin6_port);
  }
  ip = buf;
}

// One whole request, already received, for httplib's parser to read; the response goes
// straight to the socket. Reading past the request gives end-of-stream, so httplib never
// waits on the client.
class RequestStream : public httplib::Stream {
 public:
  RequestStream(int fd, std::string request, double write_timeout_s)
      : fd_(fd),
        request_(std::move(request)),
        write_timeout_ms_(static_cast<int>(write_timeout_s * 1000)) {}

  bool is_readable() const override { return pos_ < request_.size(); }
  bool is_writable() const override {
    if (peer_closed(fd_)) return false;
    pollfd p{fd_, POLLOUT, 0};
    return ::poll(&p, 1, write_timeout_ms_) > 0 && (p.revents & (POLLERR | POLLHUP)) == 0;
  }
  ssize_t read(char* ptr, size_t size) override {
    const std::size_t n = std::min(size, request_.size() - pos_);
    std::memcpy(ptr, request_.data() + pos_, n);
    pos_ += n;
    return static_cast<ssize_t>(n);
  }
  ssize_t write(const char* ptr, size_t size) override {
    if (!is_writable()) return -1;
    const ssize_t n = ::send(fd_, ptr, size, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return 0;
    return n;
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage a{};
    socklen_t len = sizeof a;
    if (::getpeername(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0) ip_and_port(a, ip, port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage a{};
    socklen_t len = sizeof a;
    if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0) ip_and_port(a, ip, port);
  }
  socket_t socket() const override { return fd_; }

 private:
  int fd_;
  std::string request_;
  std::size_t pos_ = 0;
  int write_timeout_ms_;
};

// Threads for GET requests (health, models): cheap, so two keep them prompt.
constexpr std::size_t kLightWorkers = 2;

// A short answer the reception writes itself (the connection closes after it).
std::string plain_response(int status, const char* reason, const char* code,
                           const std::string& message) {
  const std::string body =
      dump(error_body(message, status >= 500 ? "server_error" : "invalid_request_error", code));
  return fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n"
      "Connection: close\r\n\r\n{}",
      status, reason, body.size(), body);
}

}  // namespace

// One client connection. Closing is the destructor's: whoever drops the last reference
// (the reception, a worker, a queued task at shutdown) closes it.
struct Conn {
  enum class Phase {
    fresh,      // accepted, nothing received yet
    idle,       // between two requests of a keep-alive connection
    reading,    // a request is arriving
    lingering,  // answered with an error; input is drained until the client closes
  };
  Conn(int fd, std::shared_ptr<void> counters_owner, std::atomic<std::int64_t>* open,
       std::size_t max_header_bytes, std::uint64_t max_body_bytes)
      : fd(fd),
        owner(std::move(counters_owner)),
        open(open),
        framer(max_header_bytes, max_body_bytes) {}
  ~Conn() {
    ::close(fd);
    --*open;
  }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  int fd;
  std::shared_ptr<void> owner;  // keeps the counters alive
  std::atomic<std::int64_t>* open;
  std::string buf;  // received bytes not yet handed to a worker
  RequestFramer framer;
  Phase phase = Phase::fresh;
  Clock::time_point deadline;
  Clock::time_point waiting_since;  // entered the reception
  bool body_phase = false;          // headers complete, body arriving
  bool continued = false;           // "100 Continue" sent
  std::int64_t served = 0;          // requests answered on it
  bool leave = false;               // leaves the reception's list this round
};

class GuardedServer::Reception : public httplib::TaskQueue {
 public:
  explicit Reception(GuardedServer& server)
      : server_(server),
        limits_(server.limits_),
        c_(*server.counters_),
        main_(server.workers_),
        light_(kLightWorkers) {
    wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    CAI_CHECK(wake_fd_ >= 0, "serve: eventfd failed: {}", std::strerror(errno));
    thread_ = std::thread([this] { run(); });
  }
  ~Reception() override {
    if (thread_.joinable()) shutdown();
    ::close(wake_fd_);
    server_.reception_ = nullptr;
  }

  // httplib's accept loop enqueues process_and_close_socket(sock), which calls admit(): cheap
  // enough to run on the accept thread itself.
  void enqueue(std::function<void()> fn) override { fn(); }

  // The accept loop has ended (the server stops): waiting connections close, requests already
  // received are answered (with "Connection: close"), then the workers are joined.
  void shutdown() override {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    wake();
    thread_.join();
    main_.shutdown();
    light_.shutdown();
  }

  void admit(int fd) {
    ++c_.open;
    ++c_.accepted;
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    auto conn = std::make_shared<Conn>(fd, server_.counters_, &c_.open,
                                       static_cast<std::size_t>(limits_.max_header_bytes),
                                       static_cast<std::uint64_t>(server_.max_body_bytes_));
    {
      std::lock_guard lock(mu_);
      if (stop_) return;  // closes it
      arrivals_.push_back(std::move(conn));
    }
    wake();
  }

  bool stopping() {
    std::lock_guard lock(mu_);
    return stop_;
  }

 private:
  void wake() {
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = ::write(wake_fd_, &one, sizeof one);
  }

  // A connection back from a worker for its next request.
  void give_back(std::shared_ptr<Conn> c) {
    {
      std::lock_guard lock(mu_);
      if (stop_) return;
      c->phase = Conn::Phase::idle;
      returns_.push_back(std::move(c));
    }
    wake();
  }

  void run();
  void welcome(std::shared_ptr<Conn> c, Clock::time_point now);
  void make_room();
  void receive(Conn& c, Clock::time_point now);
  void progress(Conn& c, Clock::time_point now);
  void dispatch(Conn& c);
  void reject(Conn& c, int status, const char* reason, const char* code, const std::string& msg,
              Clock::time_point now);
  void serve(std::shared_ptr<Conn> c, std::string request);

  GuardedServer& server_;
  const ConnectionLimits limits_;
  Counters& c_;
  httplib::ThreadPool main_, light_;
  int wake_fd_ = -1;
  std::thread thread_;
  std::mutex mu_;
  bool stop_ = false;                               // guarded by mu_
  std::deque<std::shared_ptr<Conn>> arrivals_;      // guarded by mu_
  std::deque<std::shared_ptr<Conn>> returns_;       // guarded by mu_
  std::vector<std::shared_ptr<Conn>> waiting_;      // reception thread only
  std::vector<std::shared_ptr<Conn>> dispatching_;  // reception thread only
};

void GuardedServer::Reception::run() {
  std::vector<pollfd> fds;
  for (;;) {
    std::deque<std::shared_ptr<Conn>> arrivals, returns;
    {
      std::lock_guard lock(mu_);
      if (stop_) break;
      arrivals.swap(arrivals_);
      returns.swap(returns_);
    }
    Clock::time_point now = Clock::now();
    for (auto& c : returns) welcome(std::move(c), now);
    for (auto& c : arrivals) {
      c->waiting_since = now;
      c->deadline = now + seconds(limits_.header_timeout_s);
      waiting_.push_back(std::move(c));
      if (c_.open.load() > limits_.max_connections) make_room();
    }

    fds.assign(1, pollfd{wake_fd_, POLLIN, 0});
    Clock::time_point next = now + std::chrono::seconds(60);
    for (const auto& c : waiting_) {
      fds.push_back(pollfd{c->fd, POLLIN, 0});
      next = std::min(next, c->deadline);
    }
    const auto wait_ms = std::chrono::ceil<std::chrono::milliseconds>(next - now).count();
    const int n = ::poll(fds.data(), fds.size(), static_cast<int>(std::max<long long>(wait_ms, 0)));
    if (n < 0 && errno != EINTR) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (fds[0].revents) {
      std::uint64_t v;
      [[maybe_unused]] const ssize_t r = ::read(wake_fd_, &v, sizeof v);
    }
    now = Clock::now();
    for (std::size_t i = 0; i < waiting_.size(); ++i) {
      Conn& c = *waiting_[i];
      if (n > 0 && fds[i + 1].revents) receive(c, now);
      if (c.leave || now < c.deadline) continue;
      // Out of time.
      if (c.phase == Conn::Phase::reading || c.phase == Conn::Phase::fresh) {
        ++c_.timed_out;
        if (c.phase == Conn::Phase::reading) {
          const std::string r = plain_response(408, "Request Timeout", "request_timeout",
                                               "the request did not arrive in time");
          [[maybe_unused]] const ssize_t w =
              ::send(c.fd, r.data(), r.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        }
      }
      c.leave = true;
    }
    std::erase_if(waiting_, [](const std::shared_ptr<Conn>& c) { return c->leave; });
    // Handed to workers only now: a worker may give the connection back at once.
    for (auto& c : dispatching_) {
      std::string request = std::move(c->buf);
      c->buf = request.substr(c->framer.request_bytes());
      request.resize(c->framer.request_bytes());
      if (c->continued) request.erase(c->framer.expect_offset(), c->framer.expect_length());
      const std::string& m = c->framer.method();
      auto& pool = m == "GET" || m == "HEAD" || m == "OPTIONS" ? light_ : main_;
      ++c_.requests;
      pool.enqueue([this, c, request = std::move(request)]() mutable {
        serve(std::move(c), std::move(request));
      });
    }
    dispatching_.clear();
  }
  waiting_.clear();  // closes every connection still waiting for its request
}

// A connection back from a worker: idle until its next request, or already holding it
// (pipelined).
void GuardedServer::Reception::welcome(std::shared_ptr<Conn> c, Clock::time_point now) {
  c->framer.reset();
  c->body_phase = c->continued = c->leave = false;
  c->waiting_since = now;
  c->phase = c->buf.empty() ? Conn::Phase::idle : Conn::Phase::reading;
  c->deadline =
      now + seconds(c->buf.empty() ? limits_.keep_alive_timeout_s : limits_.header_timeout_s);
  Conn& ref = *c;
  waiting_.push_back(std::move(c));
  if (ref.phase == Conn::Phase::reading) progress(ref, now);
}

// Past the cap: the connection waiting longest for its request goes (one already answered
// with an error first); with none waiting, the newest is refused. Either way one closes now.
void GuardedServer::Reception::make_room() {
  const std::size_t newest = waiting_.size() - 1;
  std::size_t victim = newest;
  for (std::size_t i = 0; i < newest; ++i) {
    const Conn& c = *waiting_[i];
    if (c.leave) continue;
    const Conn& v = *waiting_[victim];
    const bool a = c.phase == Conn::Phase::lingering;
    const bool b = victim != newest && v.phase == Conn::Phase::lingering;
    if (victim == newest || (a && !b) || (a == b && c.waiting_since < v.waiting_since)) victim = i;
  }
  if (victim != newest) {
    ++c_.evicted;
  } else {
    ++c_.refused;
    const std::string r = plain_response(503, "Service Unavailable", "too_many_connections",
                                         "the server has its limit of open connections");
    [[maybe_unused]] const ssize_t w =
        ::send(waiting_[victim]->fd, r.data(), r.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  }
  waiting_.erase(waiting_.begin() + static_cast<std::ptrdiff_t>(victim));
}

void GuardedServer::Reception::receive(Conn& c, Clock::time_point now) {
  char chunk[64 * 1024];
  for (int round = 0; round < 4; ++round) {
    const ssize_t n = ::recv(c.fd, chunk, sizeof chunk, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      c.leave = true;  // the client closed (or reset) the connection
      return;
    }
    if (n < 0) break;
    if (c.phase == Conn::Phase::lingering) continue;
    if (c.phase != Conn::Phase::reading) {
      c.phase = Conn::Phase::reading;
      c.deadline = now + seconds(limits_.header_timeout_s);
    }
    c.buf.append(chunk, static_cast<std::size_t>(n));
    if (static_cast<std::size_t>(n) < sizeof chunk) break;
  }
  if (c.phase == Conn::Phase::reading) progress(c, now);
}

void GuardedServer::Reception::progress(Conn& c, Clock::time_point now) {
  using S = RequestFramer::State;
  switch (c.framer.scan(c.buf)) {
    case S::incomplete:
      if (c.framer.headers_done() && !c.body_phase) {
        c.body_phase = true;
        c.deadline = now + seconds(limits_.body_timeout_s);
        if (c.framer.expect_continue()) {
          static const char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
          [[maybe_unused]] const ssize_t w =
              ::send(c.fd, kContinue, sizeof kContinue - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
          c.continued = true;
        }
      }
      return;
    case S::complete:
      c.leave = true;
      for (auto& w : waiting_)
        if (w.get() == &c) dispatching_.push_back(w);
      return;
    case S::bad:
      return reject(c, 400, "Bad Request", "bad_request", c.framer.error(), now);
    case S::headers_too_large:
      return reject(c, 431, "Request Header Fields Too Large", "headers_too_large",
                    c.framer.error(), now);
    case S::body_too_large:
      return reject(c, 413, "Payload Too Large", "payload_too_large", c.framer.error(), now);
  }
}

// Answers an error and drains what the client still sends (for a few seconds), so that it
// reads the answer instead of a reset.
void GuardedServer::Reception::reject(Conn& c, int status, const char* reason, const char* code,
                                      const std::string& msg, Clock::time_point now) {
  const std::string r = plain_response(status, reason, code, msg);
  [[maybe_unused]] const ssize_t w = ::send(c.fd, r.data(), r.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  ::shutdown(c.fd, SHUT_WR);
  c.buf.clear();
  c.phase = Conn::Phase::lingering;
  c.deadline = now + std::chrono::seconds(5);
}

void GuardedServer::Reception::serve(std::shared_ptr<Conn> c, std::string request) {
  RequestStream strm(c->fd, std::move(request), limits_.write_timeout_s);
  const bool last = c->served + 1 >= limits_.keep_alive_max || stopping();
  bool closed = false, ok = false;
  tl_serving_fd = c->fd;
  try {
    ok = server_.serve_request(strm, last, closed);
  } catch (...) {
    ok = false;  // httplib failed writing; the connection is in an unknown state
  }
  tl_serving_fd = -1;
  ++c->served;
  if (ok && !closed && !last) give_back(std::move(c));
}

GuardedServer::GuardedServer(ConnectionLimits limits, std::int64_t max_body_bytes,
                             std::size_t workers)
    : limits_(limits),
      max_body_bytes_(max_body_bytes),
      workers_(std::max<std::size_t>(workers, 1)) {
  limits_.validate();
  new_task_queue = [this] {
    auto* r = new Reception(*this);
    reception_ = r;
    return r;
  };
  // What httplib writes in Keep-Alive headers; the reception enforces them.
  set_keep_alive_max_count(static_cast<std::size_t>(limits_.keep_alive_max));
  set_keep_alive_timeout(static_cast<time_t>(std::ceil(limits_.keep_alive_timeout_s)));
  set_payload_max_length(static_cast<std::size_t>(max_body_bytes_));
  const auto us = static_cast<std::int64_t>(limits_.write_timeout_s * 1e6);
  set_write_timeout(static_cast<time_t>(us / 1000000), static_cast<time_t>(us % 1000000));
}

GuardedServer::~GuardedServer() = default;

bool GuardedServer::process_and_close_socket(socket_t sock) {
  if (reception_) {
    reception_->admit(sock);
  } else {
    ::close(sock);
  }
  return true;
}

bool GuardedServer::serve_request(httplib::Stream& strm, bool close_connection,
                                  bool& connection_closed) {
  return process_request(strm, close_connection, connection_closed, nullptr);
}

ConnectionStats GuardedServer::stats() const {
  const Counters& c = *counters_;
  return {c.open.load(),      c.accepted.load(), c.requests.load(),
          c.timed_out.load(), c.evicted.load(),  c.refused.load()};
}

bool client_gone() { return tl_serving_fd >= 0 && peer_closed(tl_serving_fd); }

}  // namespace cai::serve
