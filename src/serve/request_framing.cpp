#include "request_framing.h"

#include <algorithm>
#include <cctype>

namespace cai::serve {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// A chunk-size line longer than this is not a chunk size (extensions included).
constexpr std::size_t kMaxChunkLine = 1024;

}  // namespace

RequestFramer::State RequestFramer::fail(State s, std::string why) {
  state_ = s;
  error_ = std::move(why);
  return s;
}

RequestFramer::State RequestFramer::scan(std::string_view buf) {
  if (state_ != State::incomplete) return state_;
  if (!headers_done()) {
    if (scan_headers(buf) != State::incomplete || !headers_done()) return state_;
  }
  if (chunked_) return scan_chunked(buf);
  if (buf.size() >= request_bytes_) state_ = State::complete;
  return state_;
}

RequestFramer::State RequestFramer::scan_headers(std::string_view buf) {
  for (;;) {
    const std::size_t nl = buf.find('\n', pos_);
    if (nl == std::string_view::npos) {
      if (buf.size() > max_header_)
        return fail(State::headers_too_large, "the request's header block is too large");
      return state_;
    }
    if (nl + 1 > max_header_)
      return fail(State::headers_too_large, "the request's header block is too large");
    const std::string_view line = buf.substr(pos_, nl + 1 - pos_);
    const std::size_t offset = pos_;
    pos_ = nl + 1;
    if (!have_request_line_) {
      have_request_line_ = true;
      const std::size_t sp = line.find(' ');
      if (sp == 0 || sp == std::string_view::npos)
        return fail(State::bad, "malformed request line");
      method_ = std::string(line.substr(0, sp));
      continue;
    }
    if (line == "\r\n") {
      header_bytes_ = pos_;
      break;
    }
    if (header_line(line, offset) != State::incomplete) return state_;
  }
  if (chunked_ && have_length_)
    return fail(State::bad, "both Transfer-Encoding and Content-Length are given");
  if (have_length_ && content_length_ > max_body_)
    return fail(State::body_too_large, "the request body is too large");
  request_bytes_ = header_bytes_ + static_cast<std::size_t>(chunked_ ? 0 : content_length_);
  return state_;
}

RequestFramer::State RequestFramer::header_line(std::string_view line, std::size_t offset) {
  // httplib skips lines that do not end in CRLF; so does the framing.
  if (line.size() < 2 || line[line.size() - 2] != '\r') return state_;
  const std::string_view content = line.substr(0, line.size() - 2);
  const std::size_t colon = content.find(':');
  if (colon == std::string_view::npos) return state_;
  const std::string_view name = content.substr(0, colon);
  const std::string_view value = trim(content.substr(colon + 1));
  if (iequals(name, "Content-Length")) {
    if (value.empty() || value.size() > 18 ||
        !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return fail(State::bad, "malformed Content-Length");
    std::uint64_t n = 0;
    for (char c : value) n = n * 10 + static_cast<std::uint64_t>(c - '0');
    if (have_length_ && n != content_length_)
      return fail(State::bad, "conflicting Content-Length headers");
    have_length_ = true;
    content_length_ = n;
  } else if (iequals(name, "Transfer-Encoding")) {
    if (!iequals(value, "chunked"))
      return fail(State::bad, "unsupported Transfer-Encoding (only chunked)");
    chunked_ = true;
  } else if (iequals(name, "Expect") && iequals(value, "100-continue")) {
    expect_off_ = offset;
    expect_len_ = line.size();
  }
  return state_;
}

RequestFramer::State RequestFramer::scan_chunked(std::string_view buf) {
  if (pos_ < header_bytes_) pos_ = header_bytes_;
  for (;;) {
    switch (chunk_) {
      case Chunk::size_line: {
        const std::size_t nl = buf.find('\n', pos_);
        if (nl == std::string_view::npos) {
          if (buf.size() - pos_ > kMaxChunkLine) return fail(State::bad, "malformed chunk size");
          return state_;
        }
        const std::string_view line = buf.substr(pos_, nl + 1 - pos_);
        if (line.size() < 3 || line.size() > kMaxChunkLine || line[line.size() - 2] != '\r')
          return fail(State::bad, "malformed chunk size");
        std::uint64_t size = 0;
        std::size_t i = 0;
        for (; i < line.size() - 2 && hex_digit(line[i]) >= 0; ++i) {
          if (i == 15) return fail(State::bad, "malformed chunk size");
          size = size * 16 + static_cast<std::uint64_t>(hex_digit(line[i]));
        }
        if (i == 0 || (i < line.size() - 2 && line[i] != ';'))
          return fail(State::bad, "malformed chunk size");
        body_bytes_ += size;
        if (body_bytes_ > max_body_)
          return fail(State::body_too_large, "the request body is too large");
        pos_ = nl + 1;
        chunk_left_ = size;
        chunk_ = size == 0 ? Chunk::trailer : Chunk::data;
        trailer_start_ = pos_;
        break;
      }
      case Chunk::data: {
        const std::uint64_t take = std::min<std::uint64_t>(buf.size() - pos_, chunk_left_);
        pos_ += static_cast<std::size_t>(take);
        chunk_left_ -= take;
        if (chunk_left_ > 0) return state_;
        chunk_ = Chunk::data_end;
        break;
      }
      case Chunk::data_end:
        if (buf.size() - pos_ < 2) return state_;
        if (buf.substr(pos_, 2) != "\r\n") return fail(State::bad, "a chunk does not end in CRLF");
        pos_ += 2;
        chunk_ = Chunk::size_line;
        break;
      case Chunk::trailer: {
        const std::size_t nl = buf.find('\n', pos_);
        if ((nl == std::string_view::npos ? buf.size() : nl + 1) - trailer_start_ > max_header_)
          return fail(State::headers_too_large, "the request's trailer is too large");
        if (nl == std::string_view::npos) return state_;
        const bool end = buf.substr(pos_, nl + 1 - pos_) == "\r\n";
        pos_ = nl + 1;
        if (end) {
          request_bytes_ = pos_;
          state_ = State::complete;
          return state_;
        }
        break;
      }
    }
  }
}

}  // namespace cai::serve
