#include "cai/io/jsonl.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "cai/io/error.h"
#include "cai/io/file.h"

namespace cai {
namespace fs = std::filesystem;

void for_each_jsonl(std::istream& in, const std::string& source,
                    const std::function<void(const nlohmann::json&, std::size_t)>& fn) {
  std::string line;
  std::size_t lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      // Not only parse_error: a number too large for a double is out_of_range (406).
      throw_error("{}:{}: invalid JSON: {}", source, lineno, e.what());
    }
    fn(j, lineno);
  }
  if (in.bad()) throw_error("{}: read failed", source);
}

void for_each_jsonl(const fs::path& path,
                    const std::function<void(const nlohmann::json&, std::size_t)>& fn) {
  std::ifstream in(path);
  if (!in) throw_error("{}: cannot open for reading: {}", path.string(), std::strerror(errno));
  for_each_jsonl(in, path.string(), fn);
}

JsonlWriter::JsonlWriter(const fs::path& path, bool append, bool durable)
    : path_(path), durable_(durable) {
  if (path.has_parent_path()) fs::create_directories(path.parent_path());
  int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC);
  fd_ = detail::open_for_write(path.c_str(), flags);
  if (fd_ < 0) throw_error("{}: cannot open for writing: {}", path.string(), std::strerror(errno));
}

JsonlWriter::~JsonlWriter() {
  if (fd_ >= 0) ::close(fd_);
}

void JsonlWriter::write(const nlohmann::json& record) {
  // One write() call per line: with O_APPEND the line lands whole or (if killed) torn at the end.
  std::string s = record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  s.push_back('\n');
  // A line cut short by a full disk has no '\n': recover_jsonl() drops it on the next run.
  if (detail::write_all(fd_, s.data(), s.size()) < 0)
    throw_error("{}: write failed: {}", path_.string(), std::strerror(errno));
  if (durable_ && ::fdatasync(fd_) != 0)
    throw_error("{}: fsync failed: {}", path_.string(), std::strerror(errno));
}

std::size_t recover_jsonl(const fs::path& path) {
  if (!fs::exists(path)) return 0;
  std::string data = read_file(path);
  std::size_t complete = data.rfind('\n');
  std::size_t keep = complete == std::string::npos ? 0 : complete + 1;
  if (keep != data.size()) fs::resize_file(path, keep);
  std::size_t lines = 0;
  for (std::size_t i = 0; i < keep; ++i) lines += data[i] == '\n';
  return lines;
}

std::string json_safe_utf8(const std::string& text) {
  return nlohmann::json::parse(
             nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace))
      .get<std::string>();
}

}  // namespace cai
