#include "engine_loop.h"

#include <cstdio>
#include <exception>

namespace cai::serve {

EngineLoop::EngineLoop(std::unique_ptr<Engine> engine)
    : engine_(std::move(engine)), thread_([this] { run(); }) {}

EngineLoop::~EngineLoop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

RequestId EngineLoop::submit(GenerationRequest request) {
  const RequestId id = engine_->submit(std::move(request));
  {
    std::lock_guard lock(mu_);
    ++submissions_;
  }
  cv_.notify_all();
  return id;
}

void EngineLoop::cancel(RequestId id) {
  engine_->cancel(id);
  {
    std::lock_guard lock(mu_);
    ++submissions_;  // a cancellation is work for the next step
  }
  cv_.notify_all();
}

void EngineLoop::run() {
  for (;;) {
    std::uint64_t seen;
    {
      std::lock_guard lock(mu_);
      if (stop_ && engine_->idle()) return;
      seen = submissions_;
    }
    bool worked = false;
    try {
      worked = engine_->step();
    } catch (const std::exception& e) {
      // A failing forward pass leaves the engine in an unknown state; waiting clients would
      // hang, so the server stops loudly instead.
      std::fprintf(stderr, "cai serve: engine error: %s\n", e.what());
      std::fflush(stderr);
      std::terminate();
    }
    if (!worked) {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return submissions_ != seen || (stop_ && engine_->idle()); });
    }
  }
}

}  // namespace cai::serve
