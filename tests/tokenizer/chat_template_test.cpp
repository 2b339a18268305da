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

}  // namespace
