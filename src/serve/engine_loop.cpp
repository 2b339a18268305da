#include "engine_loop.h"

#include <chrono>
#include <cstdio>
#include <exception>

#include "cai/io/log.h"
#include "cai/serve/protocol.h"

namespace cai::serve {

EngineLoop::EngineLoop(MakeEngine make) : make_(std::move(make)) {
  engine_ = make_();
  opts_ = engine_->options();
  thread_ = std::thread([this] { run(); });
}

EngineLoop::~EngineLoop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

RequestId EngineLoop::submit(GenerationRequest request, OnError on_error) {
  {
    std::lock_guard lock(mu_);
    if (!engine_)
      throw ApiError(503, "server_error", "engine_unavailable",
                     "the generation engine is being rebuilt after an error; retry later");
    const RequestId id = next_id_++;
    // Leaves the in-flight table as it finishes; runs on the engine thread, which holds no
    // lock during a step.
    request.on_finish = [this, id, user = std::move(request.on_finish)](const GenerationResult& r) {
      {
        std::lock_guard l(mu_);
        in_flight_.erase(id);
      }
      if (user) user(r);
    };
    const RequestId engine_id = engine_->submit(std::move(request));  // throws for a bad one
    in_flight_[id] = {engine_id, std::move(on_error)};
    ++submissions_;
    cv_.notify_all();
    return id;
  }
}

void EngineLoop::cancel(RequestId id) {
  std::lock_guard lock(mu_);
  const auto it = in_flight_.find(id);
  if (it == in_flight_.end() || !engine_) return;  // finished or failed already
  engine_->cancel(it->second.engine_id);
  ++cancelled_;
  ++submissions_;  // a cancellation is work for the next step
  cv_.notify_all();
}

void EngineLoop::post(std::function<void()> task) {
  std::lock_guard lock(mu_);
  tasks_.push_back(std::move(task));
  ++submissions_;
  cv_.notify_all();
}

std::int64_t EngineLoop::restarts() const {
  std::lock_guard lock(mu_);
  return restarts_;
}

std::int64_t EngineLoop::active() const {
  std::lock_guard lock(mu_);
  return static_cast<std::int64_t>(in_flight_.size());
}

std::int64_t EngineLoop::cancelled() const {
  std::lock_guard lock(mu_);
  return cancelled_;
}

void EngineLoop::fail_all(const std::string& message) {
  std::map<RequestId, InFlight> failed;
  {
    std::lock_guard lock(mu_);
    failed.swap(in_flight_);
    engine_.reset();  // its pending callbacks are dropped, never called
    ++restarts_;
  }
  std::fprintf(
      stderr,
      "cai serve: engine error: %s; failing %zu request(s) in flight and restarting the engine\n",
      message.c_str(), failed.size());
  std::fflush(stderr);
  for (auto& [id, f] : failed)
    if (f.on_error) f.on_error(message);
}

void EngineLoop::run() {
  for (;;) {
    std::uint64_t seen;
    std::deque<std::function<void()>> tasks;
    bool have_engine;
    {
      std::lock_guard lock(mu_);
      if (stop_ && tasks_.empty() && (!engine_ || engine_->idle())) return;
      seen = submissions_;
      tasks.swap(tasks_);
      have_engine = engine_ != nullptr;
    }
    for (auto& t : tasks) {
      try {
        t();
      } catch (const std::exception& e) {
        log_message(LogLevel::warning, "serve", fmt::format("task error: {}", e.what()));
      } catch (...) {
        log_message(LogLevel::warning, "serve", "task error");
      }
    }
    if (!have_engine) {
      // Building the engine failed before (e.g. no memory for its cache): try again shortly.
      std::unique_ptr<Engine> fresh;
      try {
        fresh = make_();
      } catch (const std::exception& e) {
        log_message(LogLevel::warning, "serve",
                    fmt::format("cannot rebuild the engine: {}", e.what()));
        std::this_thread::sleep_for(std::chrono::seconds(1));
        continue;
      }
      std::lock_guard lock(mu_);
      engine_ = std::move(fresh);
      continue;
    }
    bool worked = !tasks.empty();
    try {
      worked = engine_->step() || worked;
    } catch (const std::exception& e) {
      fail_all(e.what());
      continue;
    } catch (...) {
      fail_all("unknown error");
      continue;
    }
    if (!worked) {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] {
        return submissions_ != seen || (stop_ && tasks_.empty() && engine_->idle());
      });
    }
  }
}

}  // namespace cai::serve
