// The server's engine thread when the engine fails: an exception out of a step (here a fake
// model that throws on a poisoned token) fails exactly the requests in flight through their
// on_error, a fresh engine is built, and the next requests are served. Also: a throwing task
// or a bad request leaves the loop serving.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "../../src/serve/engine_loop.h"
#include "cai/io/error.h"

namespace {

using namespace cai;
using cai::serve::EngineLoop;

constexpr std::int64_t kVocab = 11;
constexpr std::int32_t kPoison = 7;  // a prompt holding this id makes forward() throw

// Uniform logits; forward() waits while the gate is closed, so the test decides what is in
// flight when the poisoned request is admitted.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = true;
  void set(bool o) {
    std::lock_guard l(mu);
    open = o;
    cv.notify_all();
  }
  void pass() {
    std::unique_lock l(mu);
    cv.wait(l, [&] { return open; });
  }
};

class FailingModel : public StepModel {
 public:
  FailingModel(std::int64_t slots, Gate& gate) : slots_(slots), gate_(gate) {}
  std::int64_t vocab_size() const override { return kVocab; }
  std::int64_t max_batch() const override { return slots_; }
  std::int64_t max_len() const override { return 64; }
  torch::Tensor forward(const StepBatch& b) override {
    gate_.pass();
    for (auto t : b.tokens)
      if (t == kPoison) throw std::runtime_error("poisoned batch");
    std::int64_t rows = 0;
    for (auto l : b.last) rows += l >= 0;
    return torch::zeros({rows, kVocab}, torch::kFloat);
  }
  void move_slot(std::int64_t, std::int64_t, std::int64_t) override {}

 private:
  std::int64_t slots_;
  Gate& gate_;
};

// Counts outcomes; wait_for(n) blocks until n requests have finished or failed.
struct Outcomes {
  std::mutex mu;
  std::condition_variable cv;
  int finished = 0, failed = 0;
  std::vector<std::string> messages;
  void wait_for(int n) {
    std::unique_lock l(mu);
    cv.wait(l, [&] { return finished + failed >= n; });
  }
};

GenerationRequest request(std::vector<std::int32_t> prompt, std::int64_t tokens, Outcomes& o) {
  GenerationRequest g;
  g.prompt = std::move(prompt);
  g.sampling.temperature = 0.0;
  g.sampling.max_new_tokens = tokens;
  g.sampling.ignore_eos = true;
  g.on_finish = [&o](const GenerationResult&) {
    std::lock_guard l(o.mu);
    ++o.finished;
    o.cv.notify_all();
  };
  return g;
}

EngineLoop::OnError on_error(Outcomes& o) {
  return [&o](const std::string& m) {
    std::lock_guard l(o.mu);
    ++o.failed;
    o.messages.push_back(m);
    o.cv.notify_all();
  };
}

}  // namespace

TEST(EngineLoop, AFailingStepFailsTheRequestsInFlightAndAFreshEngineServesOn) {
  Gate gate;
  std::atomic<int> built = 0;
  EngineLoop loop([&] {
    ++built;
    EngineOptions eo;
    eo.max_batch = 4;
    eo.max_seq_len = 64;
    return std::make_unique<Engine>(std::make_unique<FailingModel>(4, gate), eo, TokenBytesFn{},
                                    std::vector<std::int32_t>{});
  });
  Outcomes o;
  // Three long requests are admitted and held at the gate; the poisoned one joins them.
  gate.set(false);
  for (int i = 0; i < 3; ++i) loop.submit(request({1, 2}, 40, o), on_error(o));
  loop.submit(request({3, kPoison}, 40, o), on_error(o));
  gate.set(true);
  o.wait_for(4);
  EXPECT_EQ(o.failed, 4);
  EXPECT_EQ(o.finished, 0);
  ASSERT_FALSE(o.messages.empty());
  EXPECT_NE(o.messages[0].find("poisoned batch"), std::string::npos) << o.messages[0];
  EXPECT_EQ(loop.restarts(), 1);

  // Serving goes on with a fresh engine: requests submitted now finish normally.
  Outcomes after;
  for (int i = 0; i < 2; ++i) {
    // The engine is rebuilt on the loop's next turn; until then a submission may get a 503.
    for (;;) {
      try {
        loop.submit(request({1, 2, 3}, 5, after), on_error(after));
        break;
      } catch (const Error&) {
        std::this_thread::yield();
      }
    }
  }
  after.wait_for(2);
  EXPECT_EQ(after.finished, 2);
  EXPECT_EQ(after.failed, 0);
  EXPECT_EQ(built.load(), 2);
}

TEST(EngineLoop, ThrowingTasksAndBadRequestsLeaveTheLoopServing) {
  Gate gate;
  EngineLoop loop([&] {
    EngineOptions eo;
    eo.max_batch = 2;
    eo.max_seq_len = 64;
    return std::make_unique<Engine>(std::make_unique<FailingModel>(2, gate), eo, TokenBytesFn{},
                                    std::vector<std::int32_t>{});
  });
  loop.post([] { throw std::runtime_error("task failure"); });
  Outcomes o;
  EXPECT_THROW(loop.submit(request({1, 99}, 3, o), on_error(o)),
               Error);  // id outside the vocabulary
  std::mutex mu;
  std::condition_variable cv;
  bool ran = false;
  loop.post([&] {
    std::lock_guard l(mu);
    ran = true;
    cv.notify_all();
  });
  {
    std::unique_lock l(mu);
    cv.wait(l, [&] { return ran; });
  }
  loop.submit(request({1, 2}, 3, o), on_error(o));
  o.wait_for(1);
  EXPECT_EQ(o.finished, 1);
  EXPECT_EQ(loop.restarts(), 0);
}
