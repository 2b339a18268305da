// The requests of Phase 1 in either format, with the constitution's worked examples rendered
// in the same format and prepended. The examples come first and in a fixed order (the global
// few-shot transcripts, then the applied principle's own), so every request of a stage shares
// that prefix and a prefix cache computes it once.
//
// transcript: examples as transcript::revision_example texts joined by "\n\n", then
//             transcript::critique_prompt / transcript::revision_prompt of the current
//             conversation.
// chat:       each example as six messages (user prompt, assistant response, user critique
//             request, assistant critique, user revision request, assistant revision), then
//             the conversation so far and the next request (the Hugging Face recipe's shape).
#pragma once

#include <string>
#include <vector>

#include "cai/backend/backend.h"
#include "cai/constitution/constitution.h"
#include "cai/pipeline/common.h"

namespace cai::pipeline {

class FewShot {
 public:
  // enabled = false: no examples (the requests are otherwise the same).
  FewShot(const Constitution& c, PromptFormat format, bool enabled);

  TextRequest response_request(const std::string& prompt) const;
  TextRequest critique_request(const Principle& p, const std::string& prompt,
                               const std::string& response) const;
  TextRequest revision_request(const Principle& p, const std::string& prompt,
                               const std::string& response, const std::string& critique) const;

 private:
  // The examples shown before a request applying principle `p`.
  std::vector<const FewShotExample*> examples(const Principle& p) const;
  const Principle& principle_of(const FewShotExample& e, const Principle& fallback) const;
  std::string transcript_prefix(const Principle& p) const;
  std::vector<ChatMessage> chat_prefix(const Principle& p) const;

  const Constitution& c_;
  PromptFormat format_;
  bool enabled_;
};

}  // namespace cai::pipeline
