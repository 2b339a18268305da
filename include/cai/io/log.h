// The library's messages (notes and warnings) go through one hook instead of straight to
// stderr: the program that links the library decides where they go. `cai` installs a sink
// that prints "cai[ <component>]: [warning: ]<text>" on stderr; without a sink they are
// dropped. Progress bars are io/progress.h's, which owns the terminal.
#pragma once

#include <fmt/format.h>

#include <functional>
#include <string>
#include <string_view>

namespace cai {

enum class LogLevel { info, warning };

struct LogRecord {
  LogLevel level = LogLevel::info;
  std::string_view component;  // "loop", "train", ... ("" = the toolkit as a whole)
  std::string_view text;
};

using LogSink = std::function<void(const LogRecord&)>;

// Replaces the sink (nullptr: drop messages); safe to call from any thread.
void set_log_sink(LogSink sink);
void log_message(LogLevel level, std::string_view component, std::string_view text);

template <typename... Args>
void log_info(std::string_view component, fmt::format_string<Args...> f, Args&&... args) {
  log_message(LogLevel::info, component, fmt::format(f, std::forward<Args>(args)...));
}

template <typename... Args>
void log_warning(fmt::format_string<Args...> f, Args&&... args) {
  log_message(LogLevel::warning, "", fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace cai
