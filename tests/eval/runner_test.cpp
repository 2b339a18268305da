#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "cai/backend/backend.h"
#include "cai/eval/runner.h"
#include "cai/eval/task.h"
#include "cai/io/error.h"
#include "cai/io/file.h"

namespace {

namespace fs = std::filesystem;
using namespace cai;

fs::path tmp(const std::string& name) {
  auto d = fs::path(CAI_TEST_TMPDIR) / "eval_runner" / name;
  fs::create_directories(d);
  return d;
}

// A backend with hand-set answers: an option's raw log-prob is minus its length in bytes,
// except the option equal to `favourite` (after the delimiter) which gets -1; generation echoes
// a scripted reply chosen by the prompt's last word.
class FakeBackend : public Backend {
 public:
  std::string favourite;
  std::map<std::string, std::string> replies;
  std::vector<std::string> seen_prompts;
  std::string describe() const override { return "fake"; }
  std::vector<TextResult> generate(const std::vector<TextRequest>& reqs,
                                   const std::function<void(std::size_t)>& on_done) override {
    std::vector<TextResult> out;
    for (std::size_t i = 0; i < reqs.size(); ++i) {
      const auto& p = reqs[i].prompt;
      seen_prompts.push_back(p);
      const auto w = p.substr(p.find_last_of(' ') + 1);
      out.push_back({replies.count(w) ? replies[w] : "?", "stop", 1, 1});
      if (on_done) on_done(i);
    }
    return out;
  }
  std::vector<OptionScores> score_options(const std::vector<TextRequest>& reqs,
                                          const std::vector<std::string>& options) override {
    std::vector<OptionScores> out;
    for (const auto& r : reqs) {
      seen_prompts.push_back(r.prompt);
      OptionScores s;
      for (const auto& o : options)
        s.raw.push_back(o == " " + favourite ? -1.0 : -static_cast<double>(o.size()));
      double m = -1e30, z = 0;
      for (double x : s.raw) m = std::max(m, x);
      for (double x : s.raw) z += std::exp(x - m);
      for (double x : s.raw) s.normalised.push_back(x - m - std::log(z));
      out.push_back(s);
    }
    return out;
  }
  std::vector<std::vector<double>> loglikelihoods(const std::vector<TextRequest>& reqs,
                                                  const std::vector<std::string>& conts) override {
    std::vector<std::vector<double>> out;
    for (const auto& s : score_options(reqs, conts)) out.push_back(s.raw);
    return out;
  }
};

TEST(EvalTask, RenderTemplate) {
  nlohmann::json doc = {{"q", "When?"}, {"n", 3}};
  EXPECT_EQ(eval::render_template("Q: {{q}} ({{ n }})", doc, "x"), "Q: When? (3)");
  EXPECT_THROW(eval::render_template("{{missing}}", doc, "x"), Error);
  EXPECT_THROW(eval::render_template("{{q", doc, "x"), Error);
}

TEST(EvalTask, LoadErrorsNameFileLineField) {
  auto d = tmp("load");
  write_file_atomic(d / "t.yaml",
                    "task: t\ndataset: d.jsonl\noutput_type: multiple_choice\n"
                    "doc_to_text: \"{{q}}\"\ndoc_to_choice: c\ndoc_to_target: a\n"
                    "metrics: [acc]\nfewshots: 2\n");
  try {
    eval::load_task(d / "t.yaml");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("t.yaml:8: fewshots"), std::string::npos) << e.what();
  }
  write_file_atomic(d / "t2.yaml",
                    "task: t\ndataset: d.jsonl\noutput_type: generate_until\n"
                    "doc_to_text: x\ndoc_to_target: a\nmetrics: [acc]\n");
  EXPECT_THROW(eval::load_task(d / "t2.yaml"), Error);  // acc needs multiple_choice
  write_file_atomic(d / "t3.yaml", "task: t\ndataset: d.jsonl\noutput_type: maybe\n");
  EXPECT_THROW(eval::load_task(d / "t3.yaml"), Error);
}

TEST(EvalRunner, MultipleChoiceAccAndAccNorm) {
  auto d = tmp("mc");
  // Record 1: the favourite is the answer (acc 1). Record 2: nothing favoured; raw log-prob is
  // -len, so the shortest choice wins acc while all tie per byte under acc_norm (the first
  // choice then wins). Record 3: answer is the shortest choice.
  write_file_atomic(d / "d.jsonl",
                    "{\"q\": \"a\", \"c\": [\"xx\", \"yyyy\", \"zzz\"], \"a\": 1}\n"
                    "{\"q\": \"b\", \"c\": [\"aaaa\", \"bb\"], \"a\": 0}\n"
                    "{\"q\": \"c\", \"c\": [\"long one\", \"s\"], \"a\": 1}\n");
  write_file_atomic(d / "t.yaml",
                    "task: mc\ndataset: d.jsonl\noutput_type: multiple_choice\n"
                    "doc_to_text: \"Q {{q}}\"\ndoc_to_choice: c\ndoc_to_target: a\n"
                    "metrics: [acc, acc_norm]\n");
  FakeBackend b;
  b.favourite = "yyyy";
  auto r = eval::run_task(b, eval::load_task(d / "t.yaml"), {});
  EXPECT_EQ(r.n, 3);
  // acc: rec1 yes (favourite), rec2 no (bb shorter), rec3 yes (s shorter) -> 2/3.
  EXPECT_NEAR(r.metrics["acc"], 2.0 / 3, 1e-12);
  // acc_norm: rec1 yes (-1/4 best); rec2 raw/len = -(5/4) vs -(3/2): aaaa wins -> yes;
  // rec3: -(9/8) vs -(2/1): "long one" wins -> no. 2/3.
  EXPECT_NEAR(r.metrics["acc_norm"], 2.0 / 3, 1e-12);
  // stderr of a mean of (1,1,0): sd = sqrt(1/3), / sqrt(3) = 1/3.
  EXPECT_NEAR(r.stderrs["acc"], 1.0 / 3, 1e-12);
  EXPECT_EQ(r.primary, "acc");
  auto j = r.to_json();
  EXPECT_EQ(j["n"], 3);
  EXPECT_NEAR(j["acc_stderr"].get<double>(), 1.0 / 3, 1e-12);
}

TEST(EvalRunner, GenerationMetricsAndFewShot) {
  auto d = tmp("gen");
  write_file_atomic(d / "d.jsonl",
                    "{\"q\": \"one\", \"t\": \"Paris\"}\n"
                    "{\"q\": \"two\", \"t\": [\"4\", \"four\"]}\n"
                    "{\"q\": \"three\", \"t\": \"blue\"}\n");
  write_file_atomic(d / "t.yaml",
                    "task: g\ndataset: d.jsonl\noutput_type: generate_until\n"
                    "doc_to_text: \"Q: {{q}}\"\ndoc_to_target: t\nfewshot: 1\n"
                    "metrics: [exact_match, contains, regex]\n"
                    "regex: \"answer is (\\\\w+)\"\n");
  FakeBackend b;
  b.replies = {{"one", " Paris"}, {"two", "the answer is four"}, {"three", "Blue sky"}};
  auto r = eval::run_task(b, eval::load_task(d / "t.yaml"), {});
  EXPECT_NEAR(r.metrics["exact_match"], 1.0 / 3, 1e-12);  // only " Paris" after trimming
  EXPECT_NEAR(r.metrics["contains"], 1.0, 1e-12);         // case-insensitive containment
  EXPECT_NEAR(r.metrics["regex"], 1.0 / 3, 1e-12);        // "four" extracted
  // Each prompt carries one other record as a shot: "Q: x <target>\n\nQ: own".
  ASSERT_EQ(b.seen_prompts.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i)
    EXPECT_NE(b.seen_prompts[i].find("\n\nQ: "), std::string::npos);
  EXPECT_EQ(b.seen_prompts[0].find("Q: one "), std::string::npos);  // never its own record
}

TEST(EvalRunner, BadRecordsNameLine) {
  auto d = tmp("bad");
  write_file_atomic(d / "d.jsonl",
                    "{\"q\": \"a\", \"c\": [\"x\", \"y\"], \"a\": 0}\n"
                    "{\"q\": \"b\", \"c\": [\"x\", \"y\"], \"a\": 5}\n");
  write_file_atomic(d / "t.yaml",
                    "task: mc\ndataset: d.jsonl\noutput_type: multiple_choice\n"
                    "doc_to_text: \"{{q}}\"\ndoc_to_choice: c\ndoc_to_target: a\n"
                    "metrics: [acc]\n");
  FakeBackend b;
  try {
    eval::run_task(b, eval::load_task(d / "t.yaml"), {});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("d.jsonl:2"), std::string::npos) << e.what();
  }
}

TEST(EvalRunner, MeanStderr) {
  auto [m, se] = eval::mean_stderr({1, 0, 1, 1});
  EXPECT_DOUBLE_EQ(m, 0.75);
  // sample variance = (3 * 0.0625 + 0.5625) / 3 = 0.25; se = sqrt(0.25 / 4) = 0.25
  EXPECT_NEAR(se, 0.25, 1e-12);
}

}  // namespace
