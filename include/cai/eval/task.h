// Evaluation tasks in the spirit of lm-evaluation-harness: a YAML file naming a JSONL dataset
// and how each record becomes a prompt, choices and a target.
//
//   task: world-quiz                # name in the results
//   dataset: quiz.jsonl             # JSONL, relative to the data directory (default: the
//                                   # task file's directory)
//   output_type: multiple_choice    # or generate_until
//   doc_to_text: "{{question}}"     # {{field}} placeholders filled from the record
//   doc_to_choice: choices          # multiple_choice: the field holding the list of choices
//   doc_to_target: answer           # field: choice index (multiple_choice) or the expected
//                                   # text / list of accepted texts (generate_until)
//   target_delimiter: " "           # between the prompt and a choice / few-shot target
//   fewshot: 0                      # examples prepended, drawn (seeded) from the other records
//   fewshot_delimiter: "\n\n"
//   limit: 0                        # records evaluated (0 = all)
//   chat: false                     # send the prompt as a user message (chat template)
//   generation: {until: ["\n\n"], max_tokens: 64}
//   metrics: [acc, acc_norm]        # multiple_choice: acc, acc_norm;
//                                   # generate_until: exact_match, contains, regex
//   regex: "answer is (\\w+)"       # for `regex`: the first group must equal a target
//
// acc is the share of records whose highest log p(choice | prompt) is the target; acc_norm
// divides each choice's log-likelihood by its length in bytes first (lm-evaluation-harness).
// Errors name the file, line and field.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace cai::eval {

enum class OutputType { multiple_choice, generate_until };

struct TaskSpec {
  std::string name;
  std::filesystem::path dataset;  // resolved path
  OutputType output_type = OutputType::multiple_choice;
  std::string doc_to_text;
  std::string doc_to_choice;
  std::string doc_to_target;
  std::string target_delimiter = " ";
  std::int64_t fewshot = 0;
  std::string fewshot_delimiter = "\n\n";
  std::int64_t limit = 0;
  bool chat = false;
  std::vector<std::string> until = {"\n\n"};
  std::int64_t max_tokens = 64;
  std::vector<std::string> metrics;
  std::string regex;
  std::filesystem::path source;  // the task file
  void validate() const;
};

// Reads a task file; `data_dir` (when non-empty) is where relative datasets are found.
TaskSpec load_task(const std::filesystem::path& path, const std::filesystem::path& data_dir = {});

// Fills {{field}} placeholders from a record (strings as is, numbers printed); an unknown field
// is an error naming `where`.
std::string render_template(const std::string& tmpl, const nlohmann::json& doc,
                            const std::string& where);

}  // namespace cai::eval
