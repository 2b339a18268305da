// The message hook (include/cai/io/log.h).
#include "cai/io/log.h"

#include <mutex>

namespace cai {
namespace {

std::mutex& sink_mutex() {
  static std::mutex m;
  return m;
}

LogSink& sink() {
  static LogSink s;
  return s;
}

}  // namespace

void set_log_sink(LogSink s) {
  std::lock_guard<std::mutex> lock(sink_mutex());
  sink() = std::move(s);
}

void log_message(LogLevel level, std::string_view component, std::string_view text) {
  std::lock_guard<std::mutex> lock(sink_mutex());
  if (sink()) sink()({level, component, text});
}

}  // namespace cai
