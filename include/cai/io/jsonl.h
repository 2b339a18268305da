// JSON Lines: reading with line numbers for errors, and an append-only writer whose lines
// reach the disk one at a time so a killed run loses at most the line being written.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <istream>
#include <memory>
#include <string>

namespace cai {

// Calls `fn(record, line_number)` for each non-blank line of `in`. A line that is not valid
// JSON throws cai::Error "<source>:<line>: ...". `source` names the input in errors.
void for_each_jsonl(std::istream& in, const std::string& source,
                    const std::function<void(const nlohmann::json&, std::size_t)>& fn);
void for_each_jsonl(const std::filesystem::path& path,
                    const std::function<void(const nlohmann::json&, std::size_t)>& fn);

// Appends one JSON object per line. Each write is flushed (and fsync'ed when `durable`),
// so the file always ends with a whole line or a torn last line that readers can drop.
class JsonlWriter {
 public:
  JsonlWriter(const std::filesystem::path& path, bool append, bool durable = true);
  ~JsonlWriter();
  JsonlWriter(const JsonlWriter&) = delete;
  JsonlWriter& operator=(const JsonlWriter&) = delete;
  void write(const nlohmann::json& record);

 private:
  std::filesystem::path path_;
  int fd_ = -1;
  bool durable_;
};

// Counts the complete lines of a JSONL file written by JsonlWriter and truncates a torn
// final line (one without '\n') left by a killed run. Returns 0 when the file is missing.
std::size_t recover_jsonl(const std::filesystem::path& path);

// Text as a JSON encoder writes it: invalid UTF-8 (a model can emit half a character) replaced
// by U+FFFD, so text reads the same whether it crossed a server or not, and two byte strings
// that a JSON object would merge under one key are equal here too.
std::string json_safe_utf8(const std::string& text);

}  // namespace cai
