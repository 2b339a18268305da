// The server's engine thread: request threads submit() and cancel(); this thread alone calls
// Engine::step() (and so runs every on_token / on_finish callback) and runs posted tasks
// (model work that must not overlap a step), sleeping while idle.
//
// An exception out of a step (a forward pass that fails, an allocation failure, a callback
// that throws) leaves the engine in an unknown state: every request then in flight is failed
// through its on_error, the engine is replaced by a fresh one, and serving goes on.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "cai/generate/engine.h"

namespace cai::serve {

class EngineLoop {
 public:
  using MakeEngine = std::function<std::unique_ptr<Engine>()>;
  using OnError = std::function<void(const std::string& message)>;

  // `make` builds the engine now and again after a failure.
  explicit EngineLoop(MakeEngine make);
  ~EngineLoop();  // finishes what was submitted, then joins the thread
  EngineLoop(const EngineLoop&) = delete;
  EngineLoop& operator=(const EngineLoop&) = delete;

  // Queues a request; its id is the loop's own (stable across engine replacements). If the
  // engine fails while the request is in flight, `on_error` is called (on the engine thread)
  // instead of its on_finish. Throws cai::Error for a bad request, ApiError 503 while no
  // engine could be built.
  RequestId submit(GenerationRequest request, OnError on_error);
  void cancel(RequestId id);
  // Runs `task` on the engine thread before the next step. A task handles its own errors
  // (one that escapes is logged and dropped).
  void post(std::function<void()> task);
  // Runs f() on the engine thread before the next step and waits for it: its value is
  // returned, its exception rethrown here.
  template <typename F>
  auto call(F f) -> decltype(f());

  const EngineOptions& options() const { return opts_; }
  std::int64_t restarts() const;   // engines replaced after a failure
  std::int64_t active() const;     // requests submitted and not yet finished
  std::int64_t cancelled() const;  // requests cancelled while in flight

 private:
  struct InFlight {
    RequestId engine_id = 0;
    OnError on_error;
  };
  void run();
  void fail_all(const std::string& message);

  MakeEngine make_;
  EngineOptions opts_;
  std::unique_ptr<Engine> engine_;  // replaced only by the engine thread, under mu_
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<RequestId, InFlight> in_flight_;  // guarded by mu_
  std::deque<std::function<void()>> tasks_;  // guarded by mu_
  RequestId next_id_ = 0;                    // guarded by mu_
  std::uint64_t submissions_ = 0;            // guarded by mu_; wakes the thread
  std::int64_t restarts_ = 0;                // guarded by mu_
  std::int64_t cancelled_ = 0;               // guarded by mu_
  bool stop_ = false;                        // guarded by mu_
  std::thread thread_;
};

template <typename F>
auto EngineLoop::call(F f) -> decltype(f()) {
  using R = decltype(f());
  struct Box {
    std::mutex mu;
    std::condition_variable cv;
    std::optional<R> value;
    std::exception_ptr error;
    bool done = false;
  };
  auto box = std::make_shared<Box>();
  post([box, f = std::move(f)]() mutable {
    std::optional<R> v;
    std::exception_ptr err;
    try {
      v.emplace(f());
    } catch (...) {
      err = std::current_exception();
    }
    std::lock_guard lock(box->mu);
    box->value = std::move(v);
    box->error = err;
    box->done = true;
    box->cv.notify_all();
  });
  std::unique_lock lock(box->mu);
  box->cv.wait(lock, [&] { return box->done; });
  if (box->error) std::rethrow_exception(box->error);
  return std::move(*box->value);
}

}  // namespace cai::serve
