// A constitution: the principles a person writes instead of labelling examples. Each
// principle carries the request the model critiques against, the request it revises by, and
// the question a feedback model answers when comparing two responses (Bai et al. 2022).
//
// The native file format is YAML:
//
//   name: telehealth
//   description: Principles for a patient-facing clinic assistant.
//   principles:
//     - name: cite-source
//       critique: Identify factual claims in the response that do not name their source ...
//       revision: Rewrite the response so every factual claim names its source ...
//       comparison: Which response names a source for each factual claim?
//       weight: 1.0            # optional, relative sampling / ensembling weight
//       examples:              # optional few-shot worked examples for this principle
//         - prompt: ...
//           response: ...
//           critique: ...
//           revision: ...
//   few_shot:                  # optional global few-shot transcripts (same fields)
//     - prompt: ...
//       response: ...
//       critique: ...
//       revision: ...
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace cai {

struct FewShotExample {
  std::string prompt;
  std::string response;
  std::string critique;
  std::string revision;
  std::string principle;  // name of the principle the critique applies (global examples)

  bool operator==(const FewShotExample&) const = default;
};

struct Principle {
  std::string name;
  std::string critique_request;
  std::string revision_request;
  std::string comparison_question;
  double weight = 1.0;
  std::vector<FewShotExample> examples;

  bool operator==(const Principle&) const = default;
};

struct Constitution {
  std::string name;
  std::string description;
  std::vector<Principle> principles;
  std::vector<FewShotExample> few_shot;
  std::vector<std::string> system_chat;  // kept from an imported HF recipe file, if any
  // (one entry per transcript: a compact JSON array of {"role", "content"} messages)

  // Throws cai::Error naming `source` and the field for an empty list, a duplicate name, an
  // empty request, a non-positive weight.
  void validate(const std::string& source) const;
  const Principle& principle(const std::string& name) const;  // throws naming the name
  // Hash of the canonical content (hex), recorded with every dataset made from it.
  std::string hash() const;

  bool operator==(const Constitution&) const = default;
};

// Reads a YAML constitution, or the JSON format of the Hugging Face open CAI recipe
// ({"constitutions": [{"critic": ..., "revision": ...}], "system_chat": [...]}), chosen by
// content. Errors name the file, the line and the field (for the HF JSON: the file and the
// JSON pointer). YAML keys outside the format above are errors, so a typo never passes
// silently. An HF import names its principles hf-1, hf-2, ..., derives each comparison with
// comparison_from_critique(), keeps system_chat, and turns transcripts of the recipe's
// user / assistant / critique request / critique / revision request / revision shape into
// few_shot examples (the full mapping is described in src/constitution/hf_import.cpp).
Constitution load_constitution(const std::filesystem::path& path);
Constitution parse_constitution(const std::string& text, const std::string& source);
// Writes the YAML form (atomic); load_constitution reads it back equal.
void save_constitution(const Constitution& c, const std::filesystem::path& path);

// The YAML text save_constitution writes (block scalars for long or multi-line text).
std::string to_yaml(const Constitution& c);

// The judge question given to a principle imported from the HF recipe, which has none:
//   Which response gives less reason for this critique: "<critic>"?
// (the better response is the one the critique would find less fault with).
std::string comparison_from_critique(const std::string& critique_request);

}  // namespace cai
