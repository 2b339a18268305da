// Connection handling for `cai serve`, in front of httplib's request parsing, so that slow or
// idle clients cannot starve the server.
//
// httplib (Debian's 0.11) gives each accepted socket to a pool thread that then blocks reading
// the request with only a per-read timeout: a few hundred clients that start a request and
// never finish it hold every thread, and one that sends a byte every few seconds holds a
// thread for ever. Here one reception thread polls every connection that is waiting for a
// request; a connection reaches a worker thread only once its whole request (headers and body,
// framed by request_framing.h) has arrived, and comes back to the reception after the response
// while keep-alive lasts. httplib still parses requests, routes them and writes responses.
//
// Limits (ConnectionLimits, server.h): a request's headers must arrive within header_timeout_s of
// its first byte (of the connection, for a new one) and its body within body_timeout_s of the
// headers, else 408 and the connection closes; an idle keep-alive connection closes after
// keep_alive_timeout_s, and after keep_alive_max requests. At most max_connections are open:
// a new one past the cap takes the place of the connection that has waited longest for its
// request (a client still sending one after so long is the likeliest to be stalling), or gets
// 503 when every open connection is being served. GET requests (health, models) have a small
// pool of their own, so they are answered while every generation thread is busy.
#pragma once

#include <httplib.h>

#include <atomic>
#include <cstdint>
#include <memory>

#include "cai/serve/server.h"

namespace cai::serve {

// Counters since the server started (health reports them).
struct ConnectionStats {
  std::int64_t open = 0;       // connections open now
  std::int64_t accepted = 0;   // connections accepted
  std::int64_t requests = 0;   // requests handed to workers
  std::int64_t timed_out = 0;  // closed for a request not received in time
  std::int64_t evicted = 0;    // closed to make room for a new connection past the cap
  std::int64_t refused = 0;    // new connections answered 503 at the cap
};

class GuardedServer : public httplib::Server {
 public:
  // `workers` threads serve requests other than GET (generation holds one per request); GET
  // requests have two of their own. Bodies over `max_body_bytes` get 413 unread.
  GuardedServer(ConnectionLimits limits, std::int64_t max_body_bytes, std::size_t workers);
  ~GuardedServer() override;
  GuardedServer(const GuardedServer&) = delete;
  GuardedServer& operator=(const GuardedServer&) = delete;

  ConnectionStats stats() const;

  class Reception;  // connections.cpp

 private:
  // httplib's accept loop calls this (inline, see Reception) for every accepted socket.
  bool process_and_close_socket(socket_t sock) override;
  friend class Reception;
  // Runs httplib's parser, router and response writer on one received request.
  bool serve_request(httplib::Stream& strm, bool close_connection, bool& connection_closed);

  ConnectionLimits limits_;
  std::int64_t max_body_bytes_;
  std::size_t workers_;
  Reception* reception_ = nullptr;  // owned by httplib's accept loop while it runs
  struct Counters {
    std::atomic<std::int64_t> open{0}, accepted{0}, requests{0}, timed_out{0}, evicted{0},
        refused{0};
  };
  std::shared_ptr<Counters> counters_ = std::make_shared<Counters>();
};

// Whether the client of the request this thread is serving has closed its connection, so a
// handler waiting for generation can cancel it. False on a thread serving no request.
bool client_gone();

}  // namespace cai::serve
