#include "cai/io/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>

namespace cai {
namespace {
std::atomic<bool> g_enabled{true};

std::string format_duration(double s) {
  if (s < 0 || s > 1e7) return "?";
  auto t = static_cast<long>(s + 0.5);
  if (t >= 3600) return fmt::format("{}:{:02}:{:02}", t / 3600, (t / 60) % 60, t % 60);
  return fmt::format("{:02}:{:02}", t / 60, t % 60);
}
}  // namespace

void Progress::set_enabled(bool enabled) { g_enabled = enabled; }

Progress::Progress(std::string label, std::uint64_t total, std::string unit)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_),
      tty_(::isatty(STDERR_FILENO) == 1) {}

Progress::~Progress() {
  if (!finished_) finish();
}

void Progress::add(std::uint64_t n) { set(done_ + n); }

void Progress::set(std::uint64_t done) {
  done_ = done;
  auto now = std::chrono::steady_clock::now();
  // A terminal redraws ten times a second; a log gets a line every ten seconds.
  auto period = tty_ ? std::chrono::milliseconds(100) : std::chrono::milliseconds(10000);
  if (now - last_draw_ >= period) {
    last_draw_ = now;
    draw(false);
  }
}

void Progress::set_postfix(std::string text) { postfix_ = std::move(text); }

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  draw(true);
}

void Progress::draw(bool final) {
  if (!g_enabled) return;
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  double rate = elapsed > 0 ? static_cast<double>(done_) / elapsed : 0.0;
  std::string counts = total_ ? fmt::format("{}/{}", done_, total_) : fmt::format("{}", done_);
  std::string eta = (total_ && rate > 0 && done_ <= total_)
                        ? format_duration(static_cast<double>(total_ - done_) / rate)
                        : "?";
  std::string tail =
      fmt::format("{} {} [{}<{}, {:.1f} {}/s]{}{}", counts, unit_, format_duration(elapsed), eta,
                  rate, unit_, postfix_.empty() ? "" : " ", postfix_);
  if (tty_) {
    std::string bar;
    if (total_) {
      const int width = 28;
      int filled = static_cast<int>(width * std::min(1.0, double(done_) / double(total_)));
      bar = fmt::format(" {:3.0f}% |{}{}|", 100.0 * std::min(1.0, double(done_) / double(total_)),
                        std::string(filled, '#'), std::string(width - filled, ' '));
    }
    std::fprintf(stderr, "\r\033[K%s%s %s%s", label_.c_str(), bar.c_str(), tail.c_str(),
                 final ? "\n" : "");
  } else {
    std::fprintf(stderr, "%s: %s%s\n", label_.c_str(), tail.c_str(), final ? " done" : "");
  }
  std::fflush(stderr);
}

}  // namespace cai
