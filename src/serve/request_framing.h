// Where an HTTP/1.1 request ends in the bytes received so far, found without parsing it: the
// connection layer (connections.h) keeps a connection until its whole request has arrived and
// only then gives it to a worker, which lets httplib parse it. Framing follows RFC 9112
// section 6.3: Transfer-Encoding chunked, else Content-Length, else no body. Lines are
// counted as httplib reads them: the header block ends at the first line that is exactly
// CRLF after the request line.
//
// Incremental: scan() is called with every byte of the request received so far and only
// looks at what is new, so a client trickling bytes costs linear time, not quadratic.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace cai::serve {

class RequestFramer {
 public:
  enum class State {
    incomplete,         // more bytes needed
    complete,           // request_bytes() bytes form the request
    bad,                // cannot be framed (400; error() says why)
    headers_too_large,  // the header block exceeds max_header_bytes (431)
    body_too_large,     // the body exceeds max_body_bytes (413)
  };

  RequestFramer(std::size_t max_header_bytes, std::uint64_t max_body_bytes)
      : max_header_(max_header_bytes), max_body_(max_body_bytes) {}

  // `buf` holds the request's bytes from its first one; earlier calls saw a prefix of it.
  // Once complete or failed, the state stays.
  State scan(std::string_view buf);
  // Forgets the request, for the next one on the same connection.
  void reset() { *this = RequestFramer(max_header_, max_body_); }

  State state() const { return state_; }
  bool headers_done() const { return header_bytes_ > 0; }
  std::size_t header_bytes() const { return header_bytes_; }  // through the empty line
  std::size_t request_bytes() const { return request_bytes_; }
  const std::string& method() const { return method_; }
  // "Expect: 100-continue" was sent: the line's offset and length in the header block, so
  // a connection that answers it itself can drop the line before httplib answers it again.
  bool expect_continue() const { return expect_len_ > 0; }
  std::size_t expect_offset() const { return expect_off_; }
  std::size_t expect_length() const { return expect_len_; }
  const std::string& error() const { return error_; }

 private:
  State fail(State s, std::string why);
  State scan_headers(std::string_view buf);
  State header_line(std::string_view line, std::size_t offset);
  State scan_chunked(std::string_view buf);

  std::size_t max_header_;
  std::uint64_t max_body_;
  State state_ = State::incomplete;
  std::string error_;
  std::size_t pos_ = 0;  // bytes of buf already scanned
  // Header block.
  bool have_request_line_ = false;
  std::string method_;
  std::size_t header_bytes_ = 0;
  bool chunked_ = false;
  bool have_length_ = false;
  std::uint64_t content_length_ = 0;
  std::size_t expect_off_ = 0, expect_len_ = 0;
  // Chunked body.
  enum class Chunk { size_line, data, data_end, trailer };
  Chunk chunk_ = Chunk::size_line;
  std::uint64_t chunk_left_ = 0;
  std::uint64_t body_bytes_ = 0;
  std::size_t trailer_start_ = 0;
  std::size_t request_bytes_ = 0;
};

}  // namespace cai::serve
