// Progress reporting for long steps: a redrawn bar with rate and ETA when stderr is a
// terminal, plain periodic lines when it is not (logs, CI).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace cai {

class Progress {
 public:
  // `total` may be 0 when unknown; `unit` names what is counted ("tok", "prompts").
  Progress(std::string label, std::uint64_t total, std::string unit = "it");
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void add(std::uint64_t n = 1);
  void set(std::uint64_t done);
  void set_postfix(std::string text);  // shown after the rate, e.g. "loss 2.31"
  void finish();

  // Disables all output (tests, --quiet).
  static void set_enabled(bool enabled);

 private:
  void draw(bool final);
  std::string label_, unit_, postfix_;
  std::uint64_t total_, done_ = 0;
  std::chrono::steady_clock::time_point start_, last_draw_;
  bool tty_, finished_ = false;
};

}  // namespace cai
