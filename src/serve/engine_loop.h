// The server's engine thread: request threads submit() and cancel(); this thread alone calls
// Engine::step() (and so runs every on_token / on_finish callback), sleeping while idle.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>

#include "cai/generate/engine.h"

namespace cai::serve {

class EngineLoop {
 public:
  explicit EngineLoop(std::unique_ptr<Engine> engine);
  ~EngineLoop();  // finishes what was submitted, then joins the thread
  EngineLoop(const EngineLoop&) = delete;
  EngineLoop& operator=(const EngineLoop&) = delete;

  RequestId submit(GenerationRequest request);  // throws cai::Error for a bad request
  void cancel(RequestId id);
  Engine& engine() { return *engine_; }

 private:
  void run();

  std::unique_ptr<Engine> engine_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::uint64_t submissions_ = 0;  // guarded by mu_; wakes the thread
  bool stop_ = false;              // guarded by mu_
  std::thread thread_;
};

}  // namespace cai::serve
