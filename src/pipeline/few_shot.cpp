#include "cai/pipeline/few_shot.h"

#include "cai/constitution/transcript.h"

namespace cai::pipeline {

FewShot::FewShot(const Constitution& c, PromptFormat format, bool enabled)
    : c_(c), format_(format), enabled_(enabled) {}

std::vector<const FewShotExample*> FewShot::examples(const Principle& p) const {
  std::vector<const FewShotExample*> out;
  if (!enabled_) return out;
  for (const auto& e : c_.few_shot) out.push_back(&e);
  for (const auto& e : p.examples) out.push_back(&e);
  return out;
}

const Principle& FewShot::principle_of(const FewShotExample& e, const Principle& fallback) const {
  if (!e.principle.empty())
    for (const auto& p : c_.principles)
      if (p.name == e.principle) return p;
  return fallback;
}

std::string FewShot::transcript_prefix(const Principle& p) const {
  std::string out;
  for (const auto* e : examples(p)) {
    const Principle& ep = principle_of(*e, p);
    const auto crit =
        transcript::critique_example(e->prompt, e->response, ep.critique_request, e->critique);
    out += transcript::revision_example(crit, ep.revision_request, e->revision);
    out += "\n\n";
  }
  return out;
}

std::vector<ChatMessage> FewShot::chat_prefix(const Principle& p) const {
  std::vector<ChatMessage> out;
  for (const auto* e : examples(p)) {
    const Principle& ep = principle_of(*e, p);
    out.push_back({"user", e->prompt});
    out.push_back({"assistant", e->response});
    out.push_back({"user", ep.critique_request});
    out.push_back({"assistant", e->critique});
    out.push_back({"user", ep.revision_request});
    out.push_back({"assistant", e->revision});
  }
  return out;
}

TextRequest FewShot::response_request(const std::string& prompt) const {
  TextRequest r;
  if (format_ == PromptFormat::transcript) {
    r.prompt = transcript::conversation_prompt(prompt);
  } else {
    r.chat = true;
    r.messages = {{"user", prompt}};
  }
  return r;
}

TextRequest FewShot::critique_request(const Principle& p, const std::string& prompt,
                                      const std::string& response) const {
  TextRequest r;
  if (format_ == PromptFormat::transcript) {
    r.prompt =
        transcript_prefix(p) + transcript::critique_prompt(prompt, response, p.critique_request);
  } else {
    r.chat = true;
    r.messages = chat_prefix(p);
    r.messages.push_back({"user", prompt});
    r.messages.push_back({"assistant", response});
    r.messages.push_back({"user", p.critique_request});
  }
  return r;
}

TextRequest FewShot::revision_request(const Principle& p, const std::string& prompt,
                                      const std::string& response,
                                      const std::string& critique) const {
  TextRequest r;
  if (format_ == PromptFormat::transcript) {
    const auto crit = transcript::critique_example(prompt, response, p.critique_request, critique);
    r.prompt = transcript_prefix(p) + transcript::revision_prompt(crit, p.revision_request);
  } else {
    r.chat = true;
    r.messages = chat_prefix(p);
    r.messages.push_back({"user", prompt});
    r.messages.push_back({"assistant", response});
    r.messages.push_back({"user", p.critique_request});
    r.messages.push_back({"assistant", critique});
    r.messages.push_back({"user", p.revision_request});
  }
  return r;
}

}  // namespace cai::pipeline
