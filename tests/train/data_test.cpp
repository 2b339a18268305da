// Datasets: which tokens are targets (checked against hand-written segment texts), the TRL
// formats, errors naming file and line, truncation, held-out splits and epoch plans.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "cai/io/error.h"
#include "cai/train/data.h"
#include "tiny_data.h"

namespace cai::train {
namespace {

using train_test::temp_dir;
using train_test::tiny_tokenizer;
using train_test::write_text;

// The expected sequence built from (text, is_target) pieces, each tokenised on its own.
struct Expect {
  TokenizedSequence seq;
  void bos() {
    seq.tokens.push_back(*tiny_tokenizer().bos_id());
    seq.target.push_back(0);
  }
  void piece(const std::string& text, bool target) {
    for (auto id : tiny_tokenizer().encode(text, false, true)) id_(id, target);
  }
  void eos() { id_(*tiny_tokenizer().eos_id(), true); }
  void id_(std::int32_t id, bool target) {
    seq.tokens.push_back(id);
    seq.target.push_back(target ? 1 : 0);
  }
};

std::vector<ChatMessage> two_turns() {
  return {{"system", "Be kind."},
          {"user", "hello there"},
          {"assistant", "how are you?"},
          {"user", "say something good"},
          {"assistant", "good day"}};
}

TEST(Data, ChatmlMasksExactlyTheAssistantSegments) {
  const auto& tok = tiny_tokenizer();
  const auto seq = tokenize_conversation(two_turns(), tok, ChatTemplate::by_name("chatml"), true);
  Expect e;
  e.bos();
  e.piece(
      "<|im_start|>system\nBe kind.<|im_end|>\n<|im_start|>user\nhello there<|im_end|>\n"
      "<|im_start|>assistant\n",
      false);
  e.piece("how are you?<|im_end|>", true);
  e.piece("\n<|im_start|>user\nsay something good<|im_end|>\n<|im_start|>assistant\n", false);
  e.piece("good day<|im_end|>", true);
  e.piece("\n", false);
  EXPECT_EQ(seq.tokens, e.seq.tokens);
  EXPECT_EQ(seq.target, e.seq.target);
  // The targets decode to the replies and their end-of-turn markers, nothing else.
  std::vector<std::int32_t> tgt;
  for (std::size_t i = 0; i < seq.tokens.size(); ++i)
    if (seq.target[i]) tgt.push_back(seq.tokens[i]);
  EXPECT_EQ(tok.decode(tgt), "how are you?<|im_end|>good day<|im_end|>");
}

TEST(Data, HumanAssistantAppendsEosToEachReply) {
  const auto& tok = tiny_tokenizer();
  const auto seq =
      tokenize_conversation(two_turns(), tok, ChatTemplate::by_name("human-assistant"), true);
  Expect e;
  e.bos();
  e.piece("Be kind.\n\nHuman: hello there\n\nAssistant:", false);
  e.piece(" how are you?", true);
  e.eos();
  e.piece("\n\nHuman: say something good\n\nAssistant:", false);
  e.piece(" good day", true);
  e.eos();
  EXPECT_EQ(seq.tokens, e.seq.tokens);
  EXPECT_EQ(seq.target, e.seq.target);
  EXPECT_EQ(seq.num_targets(), std::count(e.seq.target.begin(), e.seq.target.end(), 1));
}

TEST(Data, Llama3AndLlama2EndOfTurnMarkersAreTargets) {
  const auto& tok = tiny_tokenizer();
  const std::vector<ChatMessage> msgs = {{"user", "hello there"},
                                         {"assistant", "how are you?"},
                                         {"user", "say something good"},
                                         {"assistant", "good day"}};
  {
    const auto seq = tokenize_conversation(msgs, tok, ChatTemplate::by_name("llama3"), false);
    Expect e;
    e.piece(
        "<|start_header_id|>user<|end_header_id|>\n\nhello there<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n",
        false);
    e.piece("how are you?<|eot_id|>", true);
    e.piece(
        "<|start_header_id|>user<|end_header_id|>\n\nsay something good<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n",
        false);
    e.piece("good day<|eot_id|>", true);
    EXPECT_EQ(seq.tokens, e.seq.tokens);
    EXPECT_EQ(seq.target, e.seq.target);
  }
  {
    // "</s>" is this tokenizer's EOS: parsed as the special token and trained on.
    const auto seq = tokenize_conversation(msgs, tok, ChatTemplate::by_name("llama2"), true);
    Expect e;
    e.bos();
    e.piece("[INST] hello there [/INST]", false);
    e.piece(" how are you? </s>", true);
    e.piece("<s>[INST] say something good [/INST]", false);
    e.piece(" good day </s>", true);
    EXPECT_EQ(seq.tokens, e.seq.tokens);
    EXPECT_EQ(seq.target, e.seq.target);
    EXPECT_EQ(seq.tokens.back(), *tok.eos_id());
  }
}

TEST(Data, NoBosWhenNotAsked) {
  const auto seq =
      tokenize_conversation(two_turns(), tiny_tokenizer(), ChatTemplate::by_name("chatml"), false);
  EXPECT_NE(seq.tokens.front(), *tiny_tokenizer().bos_id());
  EXPECT_EQ(seq.target.front(), 0);
}

TEST(Data, LoadSftFormats) {
  const auto dir = temp_dir("data_sft");
  const auto path = write_text(
      dir / "sft.jsonl",
      R"({"messages": [{"role": "user", "content": "hello there"}, {"role": "assistant", "content": "good day"}]})"
      "\n"
      "\n"
      R"({"prompt": "Human: hi", "completion": " good"})"
      "\n"
      R"({"prompt": [{"role": "user", "content": "hi"}], "completion": [{"role": "assistant", "content": "bad"}]})"
      "\n"
      R"({"prompt": [{"role": "user", "content": "hi"}], "completion": [{"role": "assistant", "content": "bad"}, {"role": "user", "content": "why"}, {"role": "assistant", "content": "good"}]})"
      "\n");
  const auto& tok = tiny_tokenizer();
  const auto tmpl = ChatTemplate::by_name("chatml");
  const auto ex = load_sft(path, tok, tmpl, {});
  ASSERT_EQ(ex.size(), 4u);
  EXPECT_EQ(ex[0].line, 1);
  EXPECT_EQ(ex[1].line, 3);
  EXPECT_EQ(ex[2].line, 4);
  // messages: trailing masked "\n" dropped (it cannot change the loss).
  {
    Expect e;
    e.bos();
    e.piece("<|im_start|>user\nhello there<|im_end|>\n<|im_start|>assistant\n", false);
    e.piece("good day<|im_end|>", true);
    EXPECT_EQ(ex[0].seq.tokens, e.seq.tokens);
    EXPECT_EQ(ex[0].seq.target, e.seq.target);
  }
  // Raw text: BOS + prompt, completion + EOS, no template.
  {
    Expect e;
    e.bos();
    e.piece("Human: hi", false);
    e.piece(" good", true);
    e.eos();
    EXPECT_EQ(ex[1].seq.tokens, e.seq.tokens);
    EXPECT_EQ(ex[1].seq.target, e.seq.target);
  }
  // Conversational prompt / completion: the template, loss on the completion only.
  {
    Expect e;
    e.bos();
    e.piece("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n", false);
    e.piece("bad<|im_end|>", true);
    EXPECT_EQ(ex[2].seq.tokens, e.seq.tokens);
    EXPECT_EQ(ex[2].seq.target, e.seq.target);
  }
  // A completion of several turns: its assistant turns only, not the user turn between them.
  {
    Expect e;
    e.bos();
    e.piece("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n", false);
    e.piece("bad<|im_end|>", true);
    e.piece("\n<|im_start|>user\nwhy<|im_end|>\n<|im_start|>assistant\n", false);
    e.piece("good<|im_end|>", true);
    EXPECT_EQ(ex[3].seq.tokens, e.seq.tokens);
    EXPECT_EQ(ex[3].seq.target, e.seq.target);
  }
}

// Runs `fn` and returns the cai::Error message ("" when nothing was thrown).
template <typename F>
std::string error_of(F fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Data, SftErrorsNameFileLineAndField) {
  const auto dir = temp_dir("data_sft_errors");
  const auto& tok = tiny_tokenizer();
  const auto tmpl = ChatTemplate::by_name("chatml");
  const std::string good = R"({"prompt": "a", "completion": "b"})";
  struct Case {
    std::string line, expect;
  };
  const std::vector<Case> cases = {
      {R"({"messages": [{"role": "user", "content": "x"})", "invalid JSON"},
      {R"({"messages": [{"role": "tool", "content": "x"}, {"role": "assistant", "content": "y"}]})",
       "field messages[0].role: unknown role 'tool'"},
      {R"({"messages": [{"role": "user"}, {"role": "assistant", "content": "y"}]})",
       "field messages[0].content: missing"},
      {R"({"messages": [{"role": "user", "content": "x"}]})", "no assistant message"},
      {R"({"messages": "hello"})", "field messages: expected a list of messages"},
      {R"({"prompt": "a"})", "field completion: missing"},
      {R"({"prompt": "a", "completion": ""})", "field completion: empty response"},
      {R"({"prompt": "a", "completion": [{"role": "assistant", "content": "b"}]})",
       "expected both strings or both message lists"},
      {R"({"body": "a"})", "expected a field \"messages\""},
      {R"({"text": 3})", "field text: expected a string"},
      {R"({"text": ""})", "field text: empty"},
      {R"([1, 2])", "expected a JSON object"},
  };
  for (const auto& c : cases) {
    const auto path = write_text(dir / "bad.jsonl", good + "\n" + c.line + "\n");
    const auto msg = error_of([&] { load_sft(path, tok, tmpl, {}); });
    EXPECT_NE(msg.find(path.string() + ":2"), std::string::npos) << c.line << " -> " << msg;
    EXPECT_NE(msg.find(c.expect), std::string::npos) << c.line << " -> " << msg;
  }
}

// TRL's language-modelling rows: BOS + text + EOS, every token after the first a target, and
// special tokens written in the text recognised.
TEST(Data, SftTextRowsTrainOnEveryToken) {
  const auto dir = temp_dir("data_sft_text");
  const auto& tok = tiny_tokenizer();
  const auto tmpl = ChatTemplate::by_name("chatml");
  const auto path = write_text(
      dir / "text.jsonl",
      R"({"text": "hello there, how are you?"})"
      "\n"
      R"({"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]})"
      "\n"
      R"({"text": "good day<|im_end|>"})"
      "\n");
  const auto ex = load_sft(path, tok, tmpl, {});
  ASSERT_EQ(ex.size(), 3u);
  Expect e;
  e.bos();
  e.piece("hello there, how are you?", true);
  e.eos();
  EXPECT_EQ(ex[0].seq.tokens, e.seq.tokens);
  EXPECT_EQ(ex[0].seq.target, e.seq.target);
  EXPECT_EQ(ex[0].seq.num_targets(), static_cast<std::int64_t>(e.seq.tokens.size()) - 1);
  EXPECT_EQ(ex[2].line, 3);
  const auto im_end = tok.encode("<|im_end|>", false, true);
  ASSERT_EQ(im_end.size(), 1u);
  EXPECT_EQ(ex[2].seq.tokens[ex[2].seq.tokens.size() - 2], im_end[0]);
  // Without BOS the first text token has nothing to be predicted from: it is no target.
  DataOptions no_bos;
  no_bos.add_bos = false;
  const auto nb = load_sft(path, tok, tmpl, no_bos);
  EXPECT_EQ(nb[0].seq.tokens.size() + 1, e.seq.tokens.size());
  EXPECT_EQ(nb[0].seq.target[0], 0);
  EXPECT_EQ(nb[0].seq.num_targets(), static_cast<std::int64_t>(nb[0].seq.tokens.size()) - 1);
}

TEST(Data, SftOverlong) {
  const auto dir = temp_dir("data_sft_long");
  const auto& tok = tiny_tokenizer();
  const auto tmpl = ChatTemplate::by_name("chatml");
  const auto path = write_text(
      dir / "sft.jsonl",
      R"({"prompt": "a", "completion": "hello there, how are you? I am fine"})"
      "\n"
      R"({"prompt": "hello there, how are you? I am fine, thank you.", "completion": "b"})"
      "\n"
      R"({"prompt": "a", "completion": "b"})"
      "\n");
  DataOptions o;
  o.max_length = 8;
  o.overlong = Overlong::error;
  EXPECT_NE(error_of([&] { load_sft(path, tok, tmpl, o); }).find(path.string() + ":1: "),
            std::string::npos);
  o.overlong = Overlong::drop;
  std::int64_t dropped = -1;
  auto ex = load_sft(path, tok, tmpl, o, &dropped);
  EXPECT_EQ(dropped, 2);
  ASSERT_EQ(ex.size(), 1u);
  EXPECT_EQ(ex[0].line, 3);
  // Truncation keeps the first 8 tokens; the second line then has no target left.
  o.overlong = Overlong::truncate;
  ex = load_sft(path, tok, tmpl, o, &dropped);
  EXPECT_EQ(dropped, 1);
  ASSERT_EQ(ex.size(), 2u);
  EXPECT_EQ(ex[0].seq.tokens.size(), 8u);
  EXPECT_EQ(ex[0].line, 1);
}

TEST(Data, PreferencesStringsAndMessages) {
  const auto dir = temp_dir("data_pref");
  const auto& tok = tiny_tokenizer();
  const auto tmpl = ChatTemplate::by_name("chatml");
  const auto path = write_text(
      dir / "pref.jsonl",
      R"({"prompt": "Human: hi\n\nAssistant:", "chosen": " good", "rejected": " bad", "p_chosen": 0.75})"
      "\n"
      R"({"prompt": [{"role": "user", "content": "hi"}], "chosen": [{"role": "assistant", "content": "good"}], "rejected": [{"role": "assistant", "content": "bad day"}]})"
      "\n"
      R"({"chosen": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "good"}], "rejected": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "bad"}]})"
      "\n"
      R"({"chosen": "Human: hi\n\nAssistant: good", "rejected": "Human: hi\n\nAssistant: bad"})"
      "\n");
  const auto ex = load_preferences(path, tok, tmpl, {});
  ASSERT_EQ(ex.size(), 4u);
  auto enc = [&](const std::string& s) { return tok.encode(s, false, true); };
  const std::int32_t bos = *tok.bos_id(), eos = *tok.eos_id();
  auto with_bos = [&](std::vector<std::int32_t> v) {
    v.insert(v.begin(), bos);
    return v;
  };
  auto with_eos = [&](std::vector<std::int32_t> v) {
    v.push_back(eos);
    return v;
  };
  EXPECT_EQ(ex[0].prompt, with_bos(enc("Human: hi\n\nAssistant:")));
  EXPECT_EQ(ex[0].chosen, with_eos(enc(" good")));
  EXPECT_EQ(ex[0].rejected, with_eos(enc(" bad")));
  EXPECT_DOUBLE_EQ(ex[0].p_chosen, 0.75);
  EXPECT_EQ(ex[1].prompt, with_bos(enc("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n")));
  EXPECT_EQ(ex[1].chosen, enc("good<|im_end|>"));
  EXPECT_EQ(ex[1].rejected, enc("bad day<|im_end|>"));
  EXPECT_DOUBLE_EQ(ex[1].p_chosen, 1.0);
  // Implicit prompt (TRL): the shared leading messages.
  EXPECT_EQ(ex[2].prompt, ex[1].prompt);
  EXPECT_EQ(ex[2].chosen, enc("good<|im_end|>"));
  // Implicit prompt of text: the shared prefix, without the space that starts the reply.
  EXPECT_EQ(ex[3].prompt, ex[0].prompt);
  EXPECT_EQ(ex[3].chosen, ex[0].chosen);
  EXPECT_EQ(ex[3].rejected, ex[0].rejected);
}

// A prompt ending with an assistant message gives the start of the reply (transformers'
// continue_final_message, as TRL applies it): the start is tokenised on its own after the
// generation prompt, as a prefill is, and only what follows it is a target.
TEST(Data, APromptEndingWithAnAssistantMessageIsContinued) {
  const auto dir = temp_dir("data_continued");
  const auto& tok = tiny_tokenizer();
  const auto path = write_text(
      dir / "rows.jsonl",
      R"({"prompt": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "The clinic"}], "completion": [{"role": "assistant", "content": " - sorry: it opens at nine"}]})"
      "\n");
  auto given = [&](const std::string& start) {
    return static_cast<std::int64_t>(tok.encode(start, false, true).size());
  };
  // The row under one template against its expected pieces: generation prompt, given start,
  // the target rest (and EOS where the template has no end-of-turn text).
  auto check = [&](const char* tmpl, const std::string& gen, const std::string& start,
                   const std::string& rest, bool eos) {
    const auto ex = load_sft(path, tok, ChatTemplate::by_name(tmpl), {});
    ASSERT_EQ(ex.size(), 1u) << tmpl;
    Expect e;
    e.bos();
    e.piece(gen, false);
    e.piece(start, false);
    e.piece(rest, true);
    if (eos) e.eos();
    EXPECT_EQ(ex[0].seq.tokens, e.seq.tokens) << tmpl;
    EXPECT_EQ(ex[0].seq.target, e.seq.target) << tmpl;
    EXPECT_EQ(ex[0].seq.continued, given(start)) << tmpl;
  };
  check("human-assistant", "Human: hi\n\nAssistant:", " The clinic", " - sorry: it opens at nine",
        true);
  check("chatml", "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n", "The clinic",
        " - sorry: it opens at nine<|im_end|>", false);
  // A preference pair continues the same start on both sides; the start is prompt.
  const auto pref = write_text(
      dir / "pref.jsonl",
      R"({"prompt": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "The clinic"}], "chosen": [{"role": "assistant", "content": " - sorry: it opens at nine"}], "rejected": [{"role": "assistant", "content": " opens at ten"}]})"
      "\n");
  const auto p = load_preferences(pref, tok, ChatTemplate::by_name("human-assistant"), {});
  ASSERT_EQ(p.size(), 1u);
  Expect prompt;
  prompt.bos();
  prompt.piece("Human: hi\n\nAssistant:", false);
  prompt.piece(" The clinic", false);
  EXPECT_EQ(p[0].prompt, prompt.seq.tokens);
  EXPECT_EQ(p[0].continued, given(" The clinic"));
  auto with_eos = [&](const std::string& s) {
    auto v = tok.encode(s, false, true);
    v.push_back(*tok.eos_id());
    return v;
  };
  EXPECT_EQ(p[0].chosen, with_eos(" - sorry: it opens at nine"));
  EXPECT_EQ(p[0].rejected, with_eos(" opens at ten"));
  // Without a start the count is 0, and a prompt ending with a user message is unchanged.
  const auto plain =
      tokenize_prompt_response(nlohmann::json::parse(R"([{"role":"user","content":"hi"}])"),
                               nlohmann::json::parse(R"([{"role":"assistant","content":"good"}])"),
                               tok, ChatTemplate::by_name("human-assistant"), {}, "x:1");
  EXPECT_EQ(plain.continued, 0);
  EXPECT_EQ(plain.response, with_eos(" good"));
}

TEST(Data, PreferenceErrors) {
  const auto dir = temp_dir("data_pref_errors");
  const auto& tok = tiny_tokenizer();
  const auto tmpl = ChatTemplate::by_name("chatml");
  const std::string good = R"({"prompt": "a", "chosen": "b", "rejected": "c"})";
  struct Case {
    std::string line, expect;
  };
  const std::vector<Case> cases = {
      {R"({"prompt": "a", "chosen": "b", "rejected": "c", "p_chosen": 1.5})",
       "field p_chosen: 1.5 is outside [0, 1]"},
      {R"({"prompt": "a", "chosen": "b", "rejected": "c", "p_chosen": -0.1})", "outside [0, 1]"},
      {R"({"prompt": "a", "chosen": "b", "rejected": "c", "p_chosen": "high"})",
       "field p_chosen: expected a number"},
      {R"({"prompt": "a", "chosen": "b"})", "field rejected: missing"},
      {R"({"prompt": "a", "chosen": "", "rejected": "c"})", "field chosen: empty response"},
      {R"({"prompt": [{"role": "user", "content": "a"}], "chosen": [{"role": "user", "content": "b"}], "rejected": [{"role": "assistant", "content": "c"}]})",
       "a response must start with an assistant message"},
      {R"({"prompt": [{"role": "robot", "content": "a"}], "chosen": [{"role": "assistant", "content": "b"}], "rejected": [{"role": "assistant", "content": "c"}]})",
       "field prompt[0].role: unknown role 'robot'"},
      {R"({"chosen": "xyz", "rejected": "abc"})", "share no leading text"},
      {R"({"prompt": "a", "chosen": "b", "rejected": 3})",
       "expected both strings or both message lists"},
      {R"({"prompt": "a", "chosen": "b", "rejected": "c")", "invalid JSON"},
  };
  for (const auto& c : cases) {
    const auto path = write_text(dir / "bad.jsonl", good + "\n" + c.line + "\n");
    const auto msg = error_of([&] { load_preferences(path, tok, tmpl, {}); });
    EXPECT_NE(msg.find(path.string() + ":2"), std::string::npos) << c.line << " -> " << msg;
    EXPECT_NE(msg.find(c.expect), std::string::npos) << c.line << " -> " << msg;
  }
}

TEST(Data, PreferenceTruncationKeepsBosAndPromptEnd) {
  const auto dir = temp_dir("data_pref_trunc");
  const auto& tok = tiny_tokenizer();
  const auto tmpl = ChatTemplate::by_name("chatml");
  const std::string prompt = "hello there, how are you? I am fine, thank you. hello there";
  const auto path = write_text(
      dir / "pref.jsonl",
      nlohmann::json{{"prompt", prompt}, {"chosen", " good good good good"}, {"rejected", " bad"}}
              .dump() +
          "\n");
  const auto full = load_preferences(path, tok, tmpl, {});
  ASSERT_EQ(full.size(), 1u);
  DataOptions o;
  o.max_length = 12;
  const auto cut = load_preferences(path, tok, tmpl, o);
  ASSERT_EQ(cut.size(), 1u);
  const auto& p = cut[0];
  EXPECT_LE(p.prompt.size() + std::max(p.chosen.size(), p.rejected.size()), 12u);
  // The prompt keeps BOS and its end (max(12/2, 12 - longest) tokens in all).
  const auto keep = std::max<std::size_t>(6, 12 - std::min<std::size_t>(12, full[0].chosen.size()));
  ASSERT_EQ(p.prompt.size(), keep);
  EXPECT_EQ(p.prompt.front(), *tok.bos_id());
  EXPECT_TRUE(std::equal(p.prompt.begin() + 1, p.prompt.end(), full[0].prompt.end() - (keep - 1)));
  // The responses keep their starts.
  EXPECT_TRUE(std::equal(p.chosen.begin(), p.chosen.end(), full[0].chosen.begin()));
  EXPECT_EQ(p.rejected, full[0].rejected);
}

TEST(Data, TokenizePromptResponse) {
  const auto& tok = tiny_tokenizer();
  const auto tmpl = ChatTemplate::by_name("chatml");
  const auto pr = tokenize_prompt_response(
      nlohmann::json::parse(R"([{"role":"user","content":"hi"}])"),
      nlohmann::json::parse(R"([{"role":"assistant","content":"good"}])"), tok, tmpl, {}, "x:1");
  EXPECT_EQ(pr.response, tok.encode("good<|im_end|>", false, true));
  EXPECT_NE(error_of([&] { tokenize_prompt_response("a", 1, tok, tmpl, {}, "x:7"); }).find("x:7"),
            std::string::npos);
}

TEST(Data, OptionsValidate) {
  DataOptions o;
  o.max_length = 1;
  EXPECT_THROW(o.validate(), Error);
  EXPECT_EQ(opt::parse_enum<Overlong>("drop", "overlong"), Overlong::drop);
  EXPECT_THROW(opt::parse_enum<Overlong>("cut", "overlong"), Error);
}

TEST(Data, SplitHeldOut) {
  const auto [train, held] = split_held_out(100, 0.1, 7);
  EXPECT_EQ(held.size(), 10u);
  EXPECT_EQ(train.size(), 90u);
  std::set<std::int64_t> all(train.begin(), train.end());
  all.insert(held.begin(), held.end());
  EXPECT_EQ(all.size(), 100u);
  EXPECT_TRUE(std::is_sorted(train.begin(), train.end()));
  EXPECT_TRUE(std::is_sorted(held.begin(), held.end()));
  EXPECT_EQ(split_held_out(100, 0.1, 7).second, held);      // deterministic
  EXPECT_NE(split_held_out(100, 0.1, 8).second, held);      // seeded
  EXPECT_EQ(split_held_out(5, 0.01, 1).second.size(), 1u);  // at least one
  EXPECT_EQ(split_held_out(2, 0.9, 1).second.size(), 1u);   // at most n - 1
  EXPECT_TRUE(split_held_out(1, 0.5, 1).second.empty());
  EXPECT_TRUE(split_held_out(10, 0.0, 1).second.empty());
  EXPECT_THROW(split_held_out(10, 1.0, 1), Error);
}

TEST(Data, PlanEpoch) {
  std::vector<std::int64_t> lengths;
  for (int i = 0; i < 50; ++i) lengths.push_back(1 + (i * 37) % 40);
  lengths.push_back(500);  // longer than the budget: a micro-batch of its own
  const std::int64_t budget = 128;
  const auto plan = plan_epoch(lengths, budget, 3, 0);
  std::vector<std::int64_t> seen;
  for (const auto& mb : plan) {
    ASSERT_FALSE(mb.empty());
    std::int64_t longest = 0;
    for (auto i : mb) longest = std::max(longest, lengths[static_cast<std::size_t>(i)]);
    if (mb.size() > 1) {
      EXPECT_LE(static_cast<std::int64_t>(mb.size()) * longest, budget);
    }
    if (longest > budget) {
      EXPECT_EQ(mb.size(), 1u);
    }
    seen.insert(seen.end(), mb.begin(), mb.end());
  }
  std::sort(seen.begin(), seen.end());
  ASSERT_EQ(seen.size(), lengths.size());
  for (std::size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], static_cast<std::int64_t>(i));
  EXPECT_EQ(plan_epoch(lengths, budget, 3, 0), plan);  // deterministic
  EXPECT_NE(plan_epoch(lengths, budget, 3, 1), plan);  // epochs reshuffle
  EXPECT_NE(plan_epoch(lengths, budget, 4, 0), plan);  // seeded
}

}  // namespace
}  // namespace cai::train
