// Stop strings over a stream of token bytes: finds the earliest stop string as text grows and
// tells a streaming caller which bytes are safe to send (those that can no longer turn out to
// be the start of a stop string, and never half a UTF-8 character).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace cai {

class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops = {});

  // Appends the bytes of one token. Returns true when a stop string now occurs: text() is then
  // cut just before it and later appends are ignored.
  bool append(std::string_view bytes);
  bool stopped() const { return stopped_; }
  const std::string& matched() const { return matched_; }  // the stop string found
  const std::string& text() const { return text_; }

  // Bytes of text() not yet handed out that are safe to stream now.
  std::string take_ready();
  // Everything not yet handed out (at the end of generation).
  std::string take_rest();

 private:
  std::size_t safe_end() const;
  std::vector<std::string> stops_;
  std::size_t max_stop_ = 0;
  std::string text_, matched_;
  std::size_t emitted_ = 0;
  bool stopped_ = false;
};

}  // namespace cai
