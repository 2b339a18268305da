#include "cai/generate/stop.h"

#include <algorithm>

namespace cai {

StopMatcher::StopMatcher(std::vector<std::string> stops) : stops_(std::move(stops)) {
  for (const auto& s : stops_) max_stop_ = std::max(max_stop_, s.size());
}

bool StopMatcher::append(std::string_view bytes) {
  if (stopped_) return true;
  const std::size_t old = text_.size();
  text_.append(bytes);
  if (stops_.empty()) return false;
  // A new match must end inside the appended bytes, so it starts at most max_stop_-1 earlier.
  const std::size_t from = old >= max_stop_ ? old - max_stop_ + 1 : 0;
  std::size_t best = std::string::npos;
  for (const auto& s : stops_) {
    const std::size_t p = text_.find(s, from);
    if (p < best) best = p, matched_ = s;
  }
  if (best == std::string::npos) return false;
  text_.resize(best);
  emitted_ = std::min(emitted_, text_.size());
  stopped_ = true;
  return true;
}

std::size_t StopMatcher::safe_end() const {
  std::size_t end = text_.size();
  if (!stopped_) {
    // Hold back a suffix that is a proper prefix of some stop string.
    const std::size_t lo = end >= max_stop_ ? end - max_stop_ + 1 : 0;
    for (std::size_t j = std::max(lo, emitted_); j < end; ++j) {
      std::string_view tail(text_.data() + j, end - j);
      bool prefix = std::any_of(stops_.begin(), stops_.end(), [&](const std::string& s) {
        return s.size() > tail.size() && std::string_view(s).substr(0, tail.size()) == tail;
      });
      if (prefix) {
        end = j;
        break;
      }
    }
  }
  // Never end inside a UTF-8 character: back off over an incomplete trailing sequence.
  for (std::size_t back = 1; back <= 4 && back <= end; ++back) {
    const auto c = static_cast<unsigned char>(text_[end - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte: keep looking for the lead
    std::size_t len = c < 0x80           ? 1
                      : (c >> 5) == 0x6  ? 2
                      : (c >> 4) == 0xE  ? 3
                      : (c >> 3) == 0x1E ? 4
                                         : 1;
    if (len > back) end -= back;
    break;
  }
  return std::max(end, emitted_);
}

std::string StopMatcher::take_ready() {
  const std::size_t end = safe_end();
  std::string out = text_.substr(emitted_, end - emitted_);
  emitted_ = end;
  return out;
}

std::string StopMatcher::take_rest() {
  std::string out = text_.substr(emitted_);
  emitted_ = text_.size();
  return out;
}

}  // namespace cai
