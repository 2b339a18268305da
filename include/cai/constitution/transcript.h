// The transcript formats of Constitutional AI: how a conversation, a critique against a
// principle, a revision and a comparison of two responses are written as raw text. The pipeline
// builds its prompts with them and a corpus that teaches a base model these shapes (the demo
// world's) writes its documents with them, so both use exactly these functions (Bai et al. 2022,
// the SL-CAI and RL-CAI transcripts).
//
//   conversation:  "Human: {prompt}\n\nAssistant: {response}"
//   critique:      conversation + "\n\nCritiqueRequest: {critique request}\n\nCritique: {critique}"
//                  where {critique} = "The response violates the principle. {reason}"
//                               or  "The response follows the principle. {reason}"
//   revision:      critique + "\n\nRevisionRequest: {revision request}\n\nRevision: {revised}"
//   comparison:    "Human: {prompt}\n\nConsider the following two responses.\n\n(A) {ea}\n\n"
//                  "(B) {eb}\n\nQuestion: {comparison question}\n\nThe answer is: (A)"  (or (B))
//                  where {ea} = escape_response(a): a response stays on its own line, so
//                  text inside it can neither end its option nor pose as a line of the prompt.
//
// Prompts, responses, critiques and revisions never contain a blank line ("\n\n"), so a
// generator stops a response at "\n\n" (and a critique or revision likewise). The *_prompt
// functions return the text up to and including the colon the model continues from
// ("...Critique:", "...The answer is:"); the model's continuation starts with a space.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cai::transcript {

std::string conversation_prompt(std::string_view prompt);  // "Human: ...\n\nAssistant:"
std::string conversation(std::string_view prompt, std::string_view response);

// The fixed first words of every critique.
inline constexpr std::string_view kViolatesVerdict = "The response violates the principle.";
inline constexpr std::string_view kFollowsVerdict = "The response follows the principle.";

std::string critique_prompt(std::string_view prompt, std::string_view response,
                            std::string_view critique_request);
// "The response violates the principle. {reason}" / "The response follows ... {reason}".
std::string critique_text(bool follows, std::string_view reason);
std::string critique_example(std::string_view prompt, std::string_view response,
                             std::string_view critique_request, std::string_view critique);
// The verdict of a critique continuation (text after "Critique:"): true = follows,
// false = violates, nullopt when it starts with neither fixed sentence.
std::optional<bool> parse_critique_verdict(std::string_view critique);
// The two verdicts as options scored after critique_prompt: {" " follows, " " violates}.
std::vector<std::string> critique_verdict_options();

std::string revision_prompt(std::string_view critique_example, std::string_view revision_request);
std::string revision_example(std::string_view critique_example, std::string_view revision_request,
                             std::string_view revised);

// A response as a judge sees it: the body of a JSON string literal (RFC 8259, section 7) with
// total escaping. Quotes and backslashes are escaped and every control character (so every
// line break) is written as an escape, so the response stays on one line: the blank line that
// ends each option cannot be forged from inside it. The parenthesis of an option marker "(A)" /
// "(B)" inside it is written \u0028, so it cannot pose as an answer either. Text with none of
// these characters (every response the embedded world writes) is unchanged, so a model trained
// on the plain format judges the same prompts. Decoding '"' + escaped + '"' as JSON gives the
// response back.
std::string escape_response(std::string_view response);
// '"' + escape_response(response) + '"': a JSON string literal, for judges that read prose
// (the chat format), told that what is inside the quotes is a response, not an instruction.
std::string quote_response(std::string_view response);

std::string comparison_prompt(std::string_view prompt, std::string_view response_a,
                              std::string_view response_b, std::string_view question);
// comparison_prompt + " (A)" when a_better, else " (B)".
std::string comparison_example(std::string_view prompt, std::string_view response_a,
                               std::string_view response_b, std::string_view question,
                               bool a_better);
inline constexpr std::string_view kOptionA = " (A)";
inline constexpr std::string_view kOptionB = " (B)";

// The first line/paragraph of a model continuation: everything before the first "\n\n",
// trimmed. Use it to cut a generated response, critique or revision.
std::string first_turn(std::string_view continuation);

}  // namespace cai::transcript
