// Tokenising conversations for training: which tokens are targets (see include/cai/train/data.h).
#include "cai/train/data.h"

#include <algorithm>
#include <string_view>

#include "cai/io/error.h"
#include "cai/tokenizer/tokenizer.h"
#include "data_internal.h"

namespace cai::train {

std::int64_t TokenizedSequence::num_targets() const {
  return std::count(target.begin(), target.end(), std::uint8_t{1});
}

namespace detail {

std::vector<std::int32_t> bos_prefix(const Tokenizer& tok, bool add_bos) {
  if (!add_bos || !tok.bos_id()) return {};
  // Ask the tokenizer whether its configuration adds BOS, so training sees what inference
  // (encode with add_special) sees.
  const auto probe = tok.encode("", /*add_special=*/true);
  if (!probe.empty() && probe.front() == *tok.bos_id()) return {*tok.bos_id()};
  return {};
}

void trim_trailing_masked(TokenizedSequence& seq) {
  std::size_t n = seq.target.size();
  while (n > 0 && seq.target[n - 1] == 0) --n;
  seq.tokens.resize(n);
  seq.target.resize(n);
}

namespace {

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

// The end of the template's end-of-turn marker in an assistant segment (after its last stop
// string), or npos when the template closes turns with no marker of its own.
std::size_t end_of_turn(const std::string& segment, const ChatTemplate& tmpl) {
  std::size_t best = std::string::npos;
  for (const auto& stop : tmpl.stop_strings()) {
    const auto p = segment.rfind(stop);
    if (p == std::string::npos) continue;
    const auto end = p + stop.size();
    if (best == std::string::npos || end > best) best = end;
  }
  return best;
}

struct Builder {
  const Tokenizer& tok;
  TokenizedSequence seq;

  void add(const std::string& text, bool target) {
    if (text.empty()) return;
    for (auto id : tok.encode(text, /*add_special=*/false, /*parse_special=*/true))
      add_id(id, target);
  }
  void add_id(std::int32_t id, bool target) {
    seq.tokens.push_back(id);
    // Position 0 has nothing to predict it from.
    seq.target.push_back(target && seq.tokens.size() > 1 ? 1 : 0);
  }
};

}  // namespace

TokenizedSequence tokenize_messages(const std::vector<ChatMessage>& messages,
                                    std::size_t first_target, const Tokenizer& tok,
                                    const ChatTemplate& tmpl, bool add_bos,
                                    std::size_t given_bytes) {
  Builder b{tok, {}};
  for (auto id : bos_prefix(tok, add_bos)) b.add_id(id, false);

  auto head = [&](std::size_t n) {
    return std::vector<ChatMessage>(messages.begin(),
                                    messages.begin() + static_cast<std::ptrdiff_t>(n));
  };
  auto check_prefix = [&](const std::string& text, const std::string& prefix, std::size_t i) {
    CAI_CHECK(starts_with(text, prefix),
              "chat template {}: rendering message {} changes the text before it; it cannot be "
              "tokenised turn by turn",
              tmpl.name(), i);
  };

  std::string prev;    // render(messages[:i]) so far
  std::string masked;  // masked text waiting to be tokenised as one piece
  for (std::size_t i = 0; i < messages.size(); ++i) {
    if (messages[i].role != "assistant" || i < first_target) {
      const std::string full = tmpl.render(head(i + 1), false);
      check_prefix(full, prev, i);
      masked += full.substr(prev.size());
      prev = full;
      continue;
    }
    // The generation prompt ("<|im_start|>assistant\n") is context; the reply and the
    // end-of-turn marker are what the model must produce.
    const std::string gen = tmpl.render(head(i), true);
    check_prefix(gen, prev, i);
    masked += gen.substr(prev.size());
    const std::string full = tmpl.render(head(i + 1), false);
    check_prefix(full, gen, i);
    std::string segment = full.substr(gen.size());
    b.add(masked, false);
    masked.clear();
    if (i == first_target && given_bytes > 0) {
      // Cut where inference cuts a prefill of this start (ChatTemplate::render_continued).
      const std::size_t end = ChatTemplate::start_end(
          segment, std::string_view(messages[i].content).substr(0, given_bytes));
      CAI_CHECK(end != std::string::npos,
                "chat template {}: the rendering of message {} does not hold its given start, so "
                "the response cannot continue it",
                tmpl.name(), i);
      const std::size_t before = b.seq.tokens.size();
      b.add(segment.substr(0, end), false);
      b.seq.continued = static_cast<std::int64_t>(b.seq.tokens.size() - before);
      segment.erase(0, end);
    }
    const std::size_t eot = end_of_turn(segment, tmpl);
    if (eot == std::string::npos) {
      b.add(segment, true);
      // Nothing in the template ends the turn: EOS is what stops generation.
      if (tok.eos_id()) b.add_id(*tok.eos_id(), true);
    } else {
      b.add(segment.substr(0, eot), true);
      masked = segment.substr(eot);  // e.g. chatml's "\n" after <|im_end|>
    }
    prev = full;
  }
  b.add(masked, false);
  return std::move(b.seq);
}

}  // namespace detail

TokenizedSequence tokenize_conversation(const std::vector<ChatMessage>& messages,
                                        const Tokenizer& tok, const ChatTemplate& tmpl,
                                        bool add_bos) {
  return detail::tokenize_messages(messages, 0, tok, tmpl, add_bos);
}

}  // namespace cai::train
