// Chat templates render the exact prompt text of each format.
#include <gtest/gtest.h>

#include <filesystem>

#include "cai/io/error.h"
#include "cai/tokenizer/chat_template.h"
#include "cai/tokenizer/tokenizer.h"

namespace {

const std::vector<cai::ChatMessage> kChat = {
    {"system", "Be kind."}, {"user", "Hi"}, {"assistant", "Hello!"}, {"user", "Bye"}};

TEST(ChatTemplate, Chatml) {
  EXPECT_EQ(cai::ChatTemplate::by_name("chatml").render(kChat, true),
            "<|im_start|>system\nBe kind.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
            "<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n"
            "<|im_start|>assistant\n");
}

TEST(ChatTemplate, Llama3) {
  EXPECT_EQ(cai::ChatTemplate::by_name("llama3").render({{"user", " Hi "}}, true),
            "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

TEST(ChatTemplate, Llama2) {
  EXPECT_EQ(cai::ChatTemplate::by_name("llama2").render(kChat, true),
            "[INST] <<SYS>>\nBe kind.\n<</SYS>>\n\nHi [/INST] Hello! </s><s>[INST] Bye [/INST]");
}

TEST(ChatTemplate, HumanAssistant) {
  const auto t = cai::ChatTemplate::by_name("human-assistant");
  EXPECT_EQ(t.render({{"user", "Hi"}, {"assistant", "Hello!"}, {"user", "Bye"}}, true),
            "Human: Hi\n\nAssistant: Hello!\n\nHuman: Bye\n\nAssistant:");
  EXPECT_EQ(t.stop_strings(), (std::vector<std::string>{"\n\nHuman:"}));
}

// A final assistant message is continued: the generation prompt before it, then its rendered
// text up to its content's end (no end of turn). Other conversations get the plain prompt.
TEST(ChatTemplate, AFinalAssistantMessageIsContinued) {
  const std::vector<cai::ChatMessage> chat = {{"user", "Hi"}, {"assistant", "I'm sorry"}};
  struct Case {
    const char* name;
    const char* prompt;
    const char* prefill;
  };
  for (const Case& c : std::vector<Case>{
           {"chatml", "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", "I'm sorry"},
           {"llama3",
            "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n",
            "I'm sorry"},
           {"llama2", "[INST] Hi [/INST]", " I'm sorry"},
           {"human-assistant", "Human: Hi\n\nAssistant:", " I'm sorry"}}) {
    const auto t = cai::ChatTemplate::by_name(c.name);
    const auto r = t.render_continued(chat);
    EXPECT_EQ(r.prompt, c.prompt) << c.name;
    EXPECT_EQ(r.prefill, c.prefill) << c.name;
    EXPECT_EQ(r.prompt, t.render({chat[0]}, true)) << c.name;
    // Leading whitespace is the template's to render (kept or trimmed), trailing whitespace
    // ends nothing; an empty message is no start.
    const auto spaced = t.render_continued({chat[0], {"assistant", " I'm sorry\n"}});
    EXPECT_EQ(spaced.prompt, c.prompt) << c.name;
    EXPECT_TRUE(spaced.prefill.ends_with("I'm sorry")) << c.name << spaced.prefill;
    const auto empty = t.render_continued({chat[0], {"assistant", " "}});
    EXPECT_EQ(empty.prompt, c.prompt) << c.name;
    EXPECT_EQ(empty.prefill, "") << c.name;
    const auto closed = t.render_continued(kChat);
    EXPECT_EQ(closed.prompt, t.render(kChat, true)) << c.name;
    EXPECT_EQ(closed.prefill, "") << c.name;
  }
}

// Where a given start ends in its rendered turn: its first occurrence, whitespace around it left
// to the template.
TEST(ChatTemplate, StartEndFindsTheStartWithoutItsWhitespace) {
  using cai::ChatTemplate;
  EXPECT_EQ(ChatTemplate::start_end(" The clinic opens at 9. The clinic", "The clinic"), 11u);
  EXPECT_EQ(ChatTemplate::start_end("The clinic opens", " The clinic "), 10u);
  EXPECT_EQ(ChatTemplate::start_end("anything", " \n"), 0u);
  EXPECT_EQ(ChatTemplate::start_end("The clinic", "The hospital"), std::string::npos);
}

TEST(ChatTemplate, DetectAndErrors) {
  EXPECT_EQ(cai::ChatTemplate::detect("{% for m in messages %}<|im_start|>{{m.role}}")->name(),
            "chatml");
  EXPECT_EQ(cai::ChatTemplate::detect("<|start_header_id|>")->name(), "llama3");
  EXPECT_EQ(cai::ChatTemplate::detect("[INST] {{ x }} [/INST]")->name(), "llama2");
  EXPECT_FALSE(cai::ChatTemplate::detect("{{ messages }}").has_value());
  EXPECT_THROW(cai::ChatTemplate::by_name("vicuna"), cai::Error);
  EXPECT_THROW(cai::ChatTemplate::by_name("chatml").render({{"robot", "x"}}, false), cai::Error);
  // Phi-3's GGUF template is not one cai knows natively.
  const auto phi = cai::Tokenizer::load(std::filesystem::path(CAI_FIXTURES_DIR) / "tokenizer" /
                                        "ggml-vocab-phi-3.gguf");
  ASSERT_TRUE(phi.chat_template_source().has_value());
  EXPECT_FALSE(cai::ChatTemplate::detect(*phi.chat_template_source()).has_value());
}

// Each template's Jinja source (written into GGUF exports) renders to the same text as the
// native renderer. The expected strings are what llama.cpp's llama-server gave for jinja()
// (`--jinja --chat-template-file`, POST /apply-template) for these two conversations;
// @huggingface/jinja 0.5.11 renders the same. (llama-server turns an empty message content
// into null, rendered "None", so no conversation here has one.)
TEST(ChatTemplate, JinjaSourceRendersLikeTheNativeTemplate) {
  const std::vector<std::vector<cai::ChatMessage>> chats = {
      {{"system", "Be kind."}, {"user", " Hello there \n"}, {"assistant", "Hi! "}, {"user", "Bye"}},
      {{"user", "q"}, {"system", "late sys"}, {"user", "q2"}}};
  struct Rendered {
    std::string name, first, second;
  };
  const std::vector<Rendered> by_llama_cpp = {
      {"chatml",
       "<|im_start|>system\nBe kind.<|im_end|>\n<|im_start|>user\n Hello there "
       "\n<|im_end|>\n<|im_start|>assistant\nHi! "
       "<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n",
       "<|im_start|>user\nq<|im_end|>\n<|im_start|>system\nlate "
       "sys<|im_end|>\n<|im_start|>user\nq2<|im_end|>\n<|im_start|>assistant\n"},
      {"llama3",
       "<|start_header_id|>system<|end_header_id|>\n\nBe "
       "kind.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHello "
       "there<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHi!<|eot_id|><|start_"
       "header_id|>user<|end_header_id|>\n\nBye<|eot_id|><|start_header_id|>assistant<|end_header_"
       "id|>\n\n",
       "<|start_header_id|>user<|end_header_id|>\n\nq<|eot_id|><|start_header_id|>system<|end_"
       "header_id|>\n\nlate "
       "sys<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nq2<|eot_id|><|start_header_id|>"
       "assistant<|end_header_id|>\n\n"},
      {"llama2",
       "[INST] <<SYS>>\nBe kind.\n<</SYS>>\n\nHello there [/INST] Hi! </s><s>[INST] Bye [/INST]",
       "[INST] q [/INST]<s>[INST] <<SYS>>\nlate sys\n<</SYS>>\n\nq2 [/INST]"},
      {"human-assistant",
       "Be kind.\n\nHuman:  Hello there \n\n\nAssistant: Hi! \n\nHuman: Bye\n\nAssistant:",
       "Human: q\n\nlate sys\n\nHuman: q2\n\nAssistant:"},
  };
  for (const auto& r : by_llama_cpp) {
    const auto t = cai::ChatTemplate::by_name(r.name);
    EXPECT_EQ(t.render(chats[0], true), r.first) << r.name;
    EXPECT_EQ(t.render(chats[1], true), r.second) << r.name;
    // Read back from a model file, the source names the same template again.
    ASSERT_TRUE(cai::ChatTemplate::detect(t.jinja()).has_value()) << r.name;
    EXPECT_EQ(cai::ChatTemplate::detect(t.jinja())->name(), r.name);
  }
}

}  // namespace
