// Quantized models against llama.cpp: the quant fixtures hold a small Llama model in F32 and
// llama-quantize's Q8_0, Q4_0, Q4_K_M, Q5_K_M and Q6_K files of it, each with llama.cpp's
// token ids and per-token log-probabilities of text.txt (no BOS). cai must tokenize the same
// and score within llama.cpp's own activation-quantization noise (0.5 nats summed; a wrong
// dequantization is off by several), keeping the weights quantized in memory; and the files
// cai quantizes itself must score like llama.cpp's.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstring>
#include <filesystem>

#include "cai/formats/gguf.h"
#include "cai/io/file.h"
#include "cai/model/llama.h"
#include "cai/model/loader.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace {

using cai::testing_util::kFixtures;

const fs::path kDir = kFixtures / "quant";

struct Scored {
  std::vector<std::int32_t> ids;
  std::vector<double> logprobs;  // log p(ids[t+1] | ids[..t])
  double sum = 0;
};

Scored score(cai::LoadedModel& m, bool autograd) {
  Scored s;
  s.ids = m.tokenizer->encode(cai::read_file(kDir / "text.txt"));
  std::vector<std::int64_t> v(s.ids.begin(), s.ids.end());
  auto tokens = torch::tensor(v, torch::kInt64).view({1, -1});
  const torch::Tensor logits = cai::testing_util::forward_logits(*m.model, tokens, autograd);
  auto lp = torch::log_softmax(logits.to(torch::kFloat64), -1)[0];
  for (std::size_t t = 0; t + 1 < v.size(); ++t) {
    s.logprobs.push_back(lp[static_cast<std::int64_t>(t)][v[t + 1]].item<double>());
    s.sum += s.logprobs.back();
  }
  return s;
}

nlohmann::json reference(const std::string& name) {
  return nlohmann::json::parse(cai::read_file(kDir / ("tiny-" + name + ".reference.json")));
}

void expect_agrees(const Scored& s, const nlohmann::json& ref, const std::string& what) {
  EXPECT_EQ(std::vector<std::int64_t>(s.ids.begin(), s.ids.end()),
            ref["ids"].get<std::vector<std::int64_t>>())
      << what;
  const auto want = ref["logprobs"].get<std::vector<double>>();
  ASSERT_EQ(s.logprobs.size(), want.size()) << what;
  double worst = 0;
  for (std::size_t i = 0; i < want.size(); ++i)
    worst = std::max(worst, std::abs(s.logprobs[i] - want[i]));
  std::printf("[quant fixture] %-28s sum %.4f vs llama.cpp %.4f (diff %.4f), worst token %.4f\n",
              what.c_str(), s.sum, ref["sum"].get<double>(), s.sum - ref["sum"].get<double>(),
              worst);
  EXPECT_NEAR(s.sum, ref["sum"].get<double>(), 0.5) << what;
}

const char* kTypes[] = {"F32", "Q8_0", "Q4_0", "Q4_K_M", "Q5_K_M", "Q6_K"};

TEST(QuantFixture, LlamaCppFilesScoreLikeLlamaCpp) {
  for (const char* type : kTypes) {
    auto m = cai::load_model(kDir / ("tiny-" + std::string(type) + ".gguf"));
    ASSERT_TRUE(m.tokenizer.has_value());
    const auto bytes = m.model->weight_bytes();
    if (std::string(type) == "F32") {
      EXPECT_FALSE(m.model->packed());
    } else {
      // Kept quantized: the matrices' own types, and far less memory than F32.
      EXPECT_TRUE(m.model->packed()) << type;
      EXPECT_EQ(bytes.count(type == std::string("Q4_K_M")   ? "Q4_K"
                            : type == std::string("Q5_K_M") ? "Q5_K"
                                                            : type),
                1u)
          << type;
      std::uint64_t total = 0;
      for (auto& [t, b] : bytes) total += b;
      EXPECT_LT(total, m.config.num_parameters() * 4 / 3) << type;
    }
    const auto ref = reference(type);
    expect_agrees(score(m, false), ref, std::string(type) + " fused");
    expect_agrees(score(m, true), ref, std::string(type) + " autograd");
  }
}

TEST(QuantFixture, CaiQuantizedFilesScoreLikeLlamaCpps) {
  // cai quantizes the F32 model with llama.cpp's mixes; loaded back, each scores like
  // llama-quantize's file of the same type.
  auto f32 = cai::load_model(kDir / "tiny-F32.gguf");
  const fs::path tmp = fs::path(CAI_TEST_TMPDIR) / "quant-fixture";
  fs::create_directories(tmp);
  const std::pair<cai::GgufType, const char*> types[] = {{cai::GgufType::q8_0, "Q8_0"},
                                                         {cai::GgufType::q4_0, "Q4_0"},
                                                         {cai::GgufType::q4_k_m, "Q4_K_M"},
                                                         {cai::GgufType::q5_k_m, "Q5_K_M"},
                                                         {cai::GgufType::q6_k, "Q6_K"}};
  for (auto [type, name] : types) {
    const fs::path out = tmp / (std::string(name) + ".gguf");
    cai::save_model_gguf(f32, out, type);
    auto back = cai::load_model(out);
    auto theirs = cai::load_model(kDir / ("tiny-" + std::string(name) + ".gguf"));
    EXPECT_EQ(back.stored_dtypes, theirs.stored_dtypes) << name;
    EXPECT_EQ(back.model->weight_bytes(), theirs.model->weight_bytes()) << name;
    expect_agrees(score(back, false), reference(name), std::string("cai ") + name);
    // Saving a packed model in its own type copies the blocks: a second round trip is exact.
    const fs::path again = tmp / (std::string(name) + "-again.gguf");
    cai::save_model_gguf(back, again, type);
    cai::gguf::Reader a(out), b(again);
    ASSERT_EQ(a.tensors().size(), b.tensors().size());
    for (const auto& t : a.tensors()) {
      const auto* u = b.find_tensor(t.name);
      ASSERT_TRUE(u && u->type == t.type && u->nbytes == t.nbytes) << name << " " << t.name;
      EXPECT_EQ(std::memcmp(a.tensor_data(t), b.tensor_data(*u), t.nbytes), 0)
          << name << " " << t.name;
    }
  }
}

}  // namespace
