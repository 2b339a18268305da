// Config parsing, rotary frequencies, the GGUF Q/K permutation, save/load round trips and
// the errors a broken config or checkpoint produces.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <functional>

#include "cai/formats/gguf.h"
#include "cai/formats/safetensors.h"
#include "cai/io/error.h"
#include "cai/io/file.h"
#include "cai/model/config.h"
#include "cai/model/llama.h"
#include "cai/model/loader.h"
#include "cai/model/rope.h"
#include "cai/tokenizer/chat_template.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace {

using cai::testing_util::kFixtures;
using cai::testing_util::max_diff;

fs::path tmp_dir(const std::string& name) {
  fs::path d = fs::path(CAI_TEST_TMPDIR) / "model" / name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const cai::Error& e) {
    return e.what();
  }
  return "(no error)";
}

nlohmann::json base_config() {
  return nlohmann::json::parse(cai::read_file(kFixtures / "hf-model" / "config.json"));
}

torch::Tensor logits_of(cai::LlamaModel& m, const torch::Tensor& tokens) {
  torch::InferenceMode g;
  return m.forward(tokens).clone();
}

// ------------------------------------------------------------------------------------------
// Config

TEST(ModelConfig, ParsesHfFields) {
  auto j = base_config();
  j["eos_token_id"] = {3, 7};
  j["head_dim"] = 32;
  auto c = cai::ModelConfig::from_hf_json(j, "config.json");
  EXPECT_EQ(c.hidden_size, 64);
  EXPECT_EQ(c.num_kv_heads, 2);
  EXPECT_EQ(c.head_dim, 32);
  EXPECT_EQ(c.eos_token_ids, (std::vector<std::int64_t>{3, 7}));
  EXPECT_FALSE(c.bos_token_id.has_value());
  EXPECT_TRUE(c.tie_word_embeddings);
  j.erase("tie_word_embeddings");
  EXPECT_FALSE(cai::ModelConfig::from_hf_json(j, "config.json").tie_word_embeddings);
  // Round trip through to_hf_json.
  auto back = cai::ModelConfig::from_hf_json(c.to_hf_json(), "again");
  EXPECT_EQ(back.head_dim, 32);
  EXPECT_EQ(back.eos_token_ids, c.eos_token_ids);
  EXPECT_EQ(back.num_parameters(), c.num_parameters());
}

TEST(ModelConfig, ErrorsNameFileAndField) {
  auto j = base_config();
  j["architectures"] = {"GPT2LMHeadModel"};
  auto e = error_of([&] { cai::ModelConfig::from_hf_json(j, "dir/config.json"); });
  EXPECT_NE(e.find("dir/config.json"), std::string::npos) << e;
  EXPECT_NE(e.find("architectures"), std::string::npos) << e;
  EXPECT_NE(e.find("GPT2LMHeadModel"), std::string::npos) << e;

  j = base_config();
  j.erase("hidden_size");
  e = error_of([&] { cai::ModelConfig::from_hf_json(j, "dir/config.json"); });
  EXPECT_NE(e.find("dir/config.json"), std::string::npos) << e;
  EXPECT_NE(e.find("hidden_size"), std::string::npos) << e;

  j = base_config();
  j["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}};
  e = error_of([&] { cai::ModelConfig::from_hf_json(j, "dir/config.json"); });
  EXPECT_NE(e.find("rope_scaling"), std::string::npos) << e;
  EXPECT_NE(e.find("yarn"), std::string::npos) << e;

  j = base_config();
  j["num_key_value_heads"] = 3;
  e = error_of([&] { cai::ModelConfig::from_hf_json(j, "dir/config.json"); });
  EXPECT_NE(e.find("num_key_value_heads"), std::string::npos) << e;
}

TEST(ModelConfig, ParameterCountMatchesTheModel) {
  for (bool tie : {false, true}) {
    auto c = cai::ModelConfig::from_hf_json(base_config(), "config.json");
    c.tie_word_embeddings = tie;
    cai::LlamaModel m(c);
    std::int64_t n = 0;
    for (auto& p : m.parameters()) n += p.numel();
    EXPECT_EQ(n, c.num_parameters());
  }
}

// ------------------------------------------------------------------------------------------
// Rotary frequencies

TEST(ModelRope, Llama3ScalingMatchesHandComputedValues) {
  cai::ModelConfig c;
  c.head_dim = 8;
  c.rope_theta = 10000.0;
  // Unscaled: theta^(-2i/8) = 1, 0.1, 0.01, 0.001.
  auto plain = cai::rope_inv_freq(c);
  ASSERT_EQ(plain.size(), 4u);
  const double want_plain[] = {1.0, 0.1, 0.01, 0.001};
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(plain[i], want_plain[i], 1e-6 * want_plain[i]);
  // llama3 with factor 8, low 1, high 4, original context 1024: wavelengths 2*pi/f are
  // 6.28 and 62.8 (< 1024/4: kept), 628.3 (between: smoothed), 6283 (> 1024: divided by 8).
  c.rope_scaling.type = "llama3";
  c.rope_scaling.factor = 8.0;
  c.rope_scaling.low_freq_factor = 1.0;
  c.rope_scaling.high_freq_factor = 4.0;
  c.rope_scaling.original_max_position_embeddings = 1024;
  auto scaled = cai::rope_inv_freq(c);
  // smooth = (1024 / 628.3185 - 1) / 3 = 0.2099155; (1 - smooth) * 0.01 / 8 + smooth * 0.01.
  const double want[] = {1.0, 0.1, 0.003086760967011274, 0.000125};
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(scaled[i], want[i], 1e-6 * want[i]) << i;
}

TEST(ModelRope, Llama3ConfigParsesAndRoundTrips) {
  auto j = base_config();
  j["rope_scaling"] = {{"rope_type", "llama3"},
                       {"factor", 32.0},
                       {"low_freq_factor", 1.0},
                       {"high_freq_factor", 4.0},
                       {"original_max_position_embeddings", 128}};
  auto c = cai::ModelConfig::from_hf_json(j, "config.json");
  EXPECT_EQ(c.rope_scaling.type, "llama3");
  EXPECT_EQ(c.rope_scaling.original_max_position_embeddings, 128);
  auto back = cai::ModelConfig::from_hf_json(c.to_hf_json(), "again");
  EXPECT_EQ(back.rope_scaling.type, "llama3");
  EXPECT_DOUBLE_EQ(back.rope_scaling.factor, 32.0);
  // Through GGUF (cai keys + llama.cpp's rope_freqs tensor).
  torch::manual_seed(3);
  cai::LoadedModel m;
  m.config = c;
  m.model = std::make_shared<cai::LlamaModel>(c);
  auto path = tmp_dir("llama3") / "m.gguf";
  cai::save_model_gguf(m, path, cai::DType::F32);
  auto loaded = cai::load_model(path);
  EXPECT_EQ(loaded.config.rope_scaling.type, "llama3");
  EXPECT_DOUBLE_EQ(loaded.config.rope_scaling.factor, 32.0);
  auto tokens = torch::randint(0, c.vocab_size, {1, 20}, torch::kInt64);
  EXPECT_LT(max_diff(logits_of(*loaded.model, tokens), logits_of(*m.model, tokens)), 1e-6);
}

// ------------------------------------------------------------------------------------------
// GGUF Q/K permutation

TEST(ModelGguf, QkPermutationMatchesLlamaCppAndInverts) {
  // One head, D = 4, one column: HF rows (0, 1, 2, 3) -> GGUF rows (0, 2, 1, 3).
  std::vector<float> w = {0, 1, 2, 3};
  EXPECT_EQ(cai::permute_qk_to_gguf(w, 1, 4, 1), (std::vector<float>{0, 2, 1, 3}));
  // Two heads, D = 6, two columns; round trip is the identity.
  std::vector<float> big(12 * 2);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<float>(i);
  auto g = cai::permute_qk_to_gguf(big, 2, 12, 2);
  // Head 1 starts at row 6: HF rows 6,7,8 | 9,10,11 interleave to 6,9,7,10,8,11.
  EXPECT_EQ(g[7 * 2], 9 * 2);
  EXPECT_EQ(g[8 * 2 + 1], 7 * 2 + 1);
  EXPECT_EQ(cai::permute_qk_from_gguf(g, 2, 12, 2), big);
}

// ------------------------------------------------------------------------------------------
// Round trips

TEST(ModelIo, HfDirectoryRoundTrip) {
  auto src = cai::load_model(kFixtures / "hf-model");
  auto tokens = torch::randint(0, src.config.vocab_size, {2, 15}, torch::kInt64);
  auto want = logits_of(*src.model, tokens);
  auto dir = tmp_dir("hf-roundtrip");
  cai::save_model_dir(src, dir, cai::DType::F32);
  EXPECT_TRUE(fs::exists(dir / "tokenizer.json"));
  EXPECT_TRUE(fs::exists(dir / "tokenizer_config.json"));
  auto back = cai::load_model(dir);
  EXPECT_EQ(back.stored_dtypes.at("F32"),
            static_cast<std::int64_t>(src.model->hf_parameters().size()));
  // The same values: the F16/BF16 matrices the source keeps packed, written as F32.
  const auto theirs = src.model->hf_parameters();
  const auto ours = back.model->hf_parameters();
  ASSERT_EQ(ours.size(), theirs.size());
  for (std::size_t i = 0; i < ours.size(); ++i)
    EXPECT_TRUE(torch::equal(ours[i].second, theirs[i].second)) << ours[i].first;
  // Logits agree to the summation order of the packed and the F32 kernels.
  EXPECT_LT(max_diff(logits_of(*back.model, tokens), want), 1e-4);
  ASSERT_TRUE(back.tokenizer.has_value());
  EXPECT_EQ(back.tokenizer->vocab_size(), src.tokenizer->vocab_size());
  // F16/BF16 storage of values that were F16/BF16 already: close, not exact (F32 norms). The
  // BF16 model also computes in BF16 (8 mantissa bits), whose reductions are not bitwise
  // reproducible across thread schedules: bounded relative to the logits' scale.
  cai::save_model_dir(src, dir, cai::DType::BF16);
  auto bf = cai::load_model(dir);
  EXPECT_EQ(bf.stored_dtypes.at("BF16"),
            static_cast<std::int64_t>(src.model->hf_parameters().size()));
  const double scale = want.abs().max().item<double>();
  EXPECT_LT(max_diff(logits_of(*bf.model, tokens), want), 0.1 * scale) << "logit scale " << scale;
}

TEST(ModelIo, GgufRoundTrip) {
  auto src = cai::load_model(kFixtures / "model" / "tiny-llama-gqa-f32.gguf");
  auto tokens = torch::randint(0, src.config.vocab_size, {1, 12}, torch::kInt64);
  auto want = logits_of(*src.model, tokens);
  auto dir = tmp_dir("gguf-roundtrip");
  cai::save_model_gguf(src, dir / "m.gguf", cai::DType::F32);
  auto back = cai::load_model(dir / "m.gguf");
  EXPECT_EQ(max_diff(logits_of(*back.model, tokens), want), 0.0);
  // Re-saving reproduces llama.cpp's Q/K row order: tensors equal the original file's.
  EXPECT_EQ(back.config.num_parameters(), src.config.num_parameters());
  ASSERT_TRUE(back.tokenizer.has_value());
  // HF safetensors -> GGUF F16 -> load: the fixture's attention weights are F16 already.
  auto hf = cai::load_model(kFixtures / "hf-model");
  auto tk = torch::randint(0, hf.config.vocab_size, {1, 12}, torch::kInt64);
  cai::save_model_gguf(hf, dir / "hf.gguf", cai::DType::F16);
  auto hb = cai::load_model(dir / "hf.gguf");
  EXPECT_TRUE(hb.config.tie_word_embeddings);
  EXPECT_GT(hb.stored_dtypes.at("F16"), 0);
  EXPECT_LT(max_diff(logits_of(*hb.model, tk), logits_of(*hf.model, tk)), 0.05);
}

// The metadata llama.cpp reads beside the tensors: a model whose tokenizer names no chat
// template gets the Jinja source of the one cai uses for it, so llama.cpp's server renders
// chat the same way; read back, cai picks that template again.
TEST(ModelIo, GgufCarriesTheChatTemplateAndLlamaCppMetadata) {
  auto hf = cai::load_model(kFixtures / "hf-model");
  ASSERT_FALSE(hf.tokenizer->chat_template_source().has_value());
  auto dir = tmp_dir("gguf-metadata");
  cai::save_model_gguf(hf, dir / "hf.gguf", cai::DType::F32);
  const cai::gguf::Reader r(dir / "hf.gguf");
  const std::string jinja = cai::ChatTemplate::by_name(cai::ChatTemplate::kDefaultName).jinja();
  EXPECT_EQ(r.get_string("tokenizer.chat_template"), jinja);
  EXPECT_EQ(r.get_string("general.architecture"), "llama");
  EXPECT_EQ(r.get_string("general.name"), "hf");
  EXPECT_EQ(r.get_int_opt("general.file_type"), 0);  // all F32
  EXPECT_EQ(r.get_int_opt("llama.context_length"), 512);
  EXPECT_EQ(r.get_float("llama.rope.freq_base"), 500000.0);
  EXPECT_EQ(r.get_int_opt("llama.rope.dimension_count"), 16);
  EXPECT_EQ(r.get_int_opt("llama.attention.head_count_kv"), 2);
  EXPECT_EQ(r.get_int_opt("tokenizer.ggml.eos_token_id"), 269);
  EXPECT_FALSE(r.get_int_opt("tokenizer.ggml.bos_token_id").has_value());
  EXPECT_FALSE(r.get_bool("tokenizer.ggml.add_bos_token"));
  EXPECT_FALSE(r.get_bool("tokenizer.ggml.add_eos_token"));
  auto back = cai::load_model(dir / "hf.gguf");
  ASSERT_EQ(back.tokenizer->chat_template_source(), jinja);
  EXPECT_EQ(cai::ChatTemplate::detect(jinja)->name(), cai::ChatTemplate::kDefaultName);
  // A template of the model's own is kept as it is, through GGUF and back.
  const std::string own = "{% for m in messages %}<|im_start|>{{ m['content'] }}{% endfor %}";
  {
    auto cfg =
        nlohmann::json::parse(cai::read_file(kFixtures / "hf-model" / "tokenizer_config.json"));
    cfg["chat_template"] = own;
    fs::create_directories(dir / "own");
    for (const char* f : {"config.json", "model.safetensors", "tokenizer.json"})
      fs::copy_file(kFixtures / "hf-model" / f, dir / "own" / f);
    cai::write_file_atomic(dir / "own" / "tokenizer_config.json", cfg.dump());
  }
  auto with_own = cai::load_model(dir / "own");
  cai::save_model_gguf(with_own, dir / "own.gguf", cai::DType::F32);
  EXPECT_EQ(cai::gguf::Reader(dir / "own.gguf").get_string("tokenizer.chat_template"), own);
  EXPECT_EQ(cai::load_model(dir / "own.gguf").tokenizer->chat_template_source(), own);
}

TEST(ModelIo, GgufSameBytesAsLlamaCppForQk) {
  // Saving the fixture reproduces the Q/K rows llama.cpp's converter wrote.
  auto src = cai::load_model(kFixtures / "model" / "tiny-llama-gqa-f32.gguf");
  auto dir = tmp_dir("gguf-bytes");
  cai::save_model_gguf(src, dir / "m.gguf", cai::DType::F32);
  cai::gguf::Reader a(kFixtures / "model" / "tiny-llama-gqa-f32.gguf"), b(dir / "m.gguf");
  for (const char* name : {"blk.0.attn_q.weight", "blk.2.attn_k.weight"})
    EXPECT_EQ(a.read_f32(*a.find_tensor(name)), b.read_f32(*b.find_tensor(name))) << name;
}

TEST(ModelIo, Qwen2BiasPathRunsAndRoundTrips) {
  auto j = base_config();
  j["architectures"] = {"Qwen2ForCausalLM"};
  j["model_type"] = "qwen2";
  j["tie_word_embeddings"] = false;
  auto cfg = cai::ModelConfig::from_hf_json(j, "config.json");
  ASSERT_TRUE(cfg.attention_bias);
  torch::manual_seed(5);
  cai::LoadedModel m;
  m.config = cfg;
  m.model = std::make_shared<cai::LlamaModel>(cfg);
  auto tokens = torch::randint(0, cfg.vocab_size, {2, 9}, torch::kInt64);
  auto no_bias = logits_of(*m.model, tokens);
  int biases = 0;
  for (auto& [name, t] : m.model->hf_parameters()) {
    if (!name.ends_with(".bias")) continue;
    ++biases;
    auto v = torch::randn(t.sizes());
    std::vector<float> vals(v.data_ptr<float>(), v.data_ptr<float>() + v.numel());
    m.model->load_hf_parameter(name, t.sizes().vec(), vals, "test");
  }
  EXPECT_EQ(biases, 3 * cfg.num_layers);
  auto with_bias = logits_of(*m.model, tokens);
  EXPECT_GT(max_diff(with_bias, no_bias), 1e-3);
  // The differentiable path agrees with the fused one.
  EXPECT_LT(max_diff(m.model->forward(tokens).detach(), with_bias), 1e-5);

  auto dir = tmp_dir("qwen2");
  cai::save_model_dir(m, dir / "hf", cai::DType::F32);
  auto back = cai::load_model(dir / "hf");
  EXPECT_EQ(back.config.architecture, "Qwen2ForCausalLM");
  EXPECT_EQ(max_diff(logits_of(*back.model, tokens), with_bias), 0.0);
  cai::save_model_gguf(m, dir / "q.gguf", cai::DType::F32);
  auto gb = cai::load_model(dir / "q.gguf");
  EXPECT_EQ(gb.config.architecture, "Qwen2ForCausalLM");
  EXPECT_EQ(max_diff(logits_of(*gb.model, tokens), with_bias), 0.0);
}

// ------------------------------------------------------------------------------------------
// Broken checkpoints

// Copies the hf-model fixture with its tensors passed through `edit`.
fs::path corrupt_copy(const std::string& name,
                      const std::function<void(std::vector<cai::safetensors::TensorToWrite>&,
                                               std::vector<std::vector<float>>&)>& edit) {
  auto dir = tmp_dir(name);
  const fs::path src = kFixtures / "hf-model";
  fs::copy_file(src / "config.json", dir / "config.json");
  cai::safetensors::Checkpoint ck(src);
  std::vector<std::vector<float>> data;
  std::vector<cai::safetensors::TensorToWrite> ts;
  auto names = ck.names();
  data.reserve(names.size() + 4);
  for (const auto& n : names) {
    data.push_back(ck.read_f32(n));
    ts.push_back({n, ck.info(n).shape, data.back().data(), cai::DType::F32});
  }
  edit(ts, data);
  cai::safetensors::write(dir / "model.safetensors", ts);
  return dir;
}

TEST(ModelIo, CorruptDirectoryNamesTheTensor) {
  auto missing = corrupt_copy("missing", [](auto& ts, auto&) {
    std::erase_if(ts, [](auto& t) { return t.name == "model.layers.1.mlp.up_proj.weight"; });
  });
  auto e = error_of([&] { cai::load_model(missing); });
  EXPECT_NE(e.find("model.layers.1.mlp.up_proj.weight"), std::string::npos) << e;
  EXPECT_NE(e.find("missing"), std::string::npos) << e;

  auto shape = corrupt_copy("shape", [](auto& ts, auto&) {
    for (auto& t : ts)
      if (t.name == "model.layers.0.self_attn.k_proj.weight") std::swap(t.shape[0], t.shape[1]);
  });
  e = error_of([&] { cai::load_model(shape); });
  EXPECT_NE(e.find("model.layers.0.self_attn.k_proj.weight"), std::string::npos) << e;
  EXPECT_NE(e.find("shape"), std::string::npos) << e;

  auto extra = corrupt_copy("extra", [](auto& ts, auto& data) {
    data.push_back(std::vector<float>(4, 1.0f));
    ts.push_back(
        {"model.layers.0.self_attn.q_norm.weight", {4}, data.back().data(), cai::DType::F32});
  });
  e = error_of([&] { cai::load_model(extra); });
  EXPECT_NE(e.find("model.layers.0.self_attn.q_norm.weight"), std::string::npos) << e;
}

TEST(ModelIo, CorruptGgufNamesTheTensor) {
  auto src = cai::load_model(kFixtures / "model" / "tiny-llama-gqa-f32.gguf");
  auto cfg = src.config;
  cfg.num_layers = 2;  // the file has 3 blocks: blk.2.* are unexpected
  cai::LoadedModel two{cfg, std::make_shared<cai::LlamaModel>(cfg), std::nullopt, {}, "gguf", {}};
  auto dir = tmp_dir("gguf-corrupt");
  cai::save_model_gguf(two, dir / "two.gguf", cai::DType::F32);
  // Claim three blocks in a two-block file by writing the metadata of the 3-block model with
  // the tensors of the 2-block one.
  cai::gguf::Reader r(dir / "two.gguf");
  cai::gguf::Writer w;
  w.set_string("general.architecture", "llama");
  w.set_u32("llama.embedding_length", 64);
  w.set_u32("llama.block_count", 3);
  w.set_u32("llama.feed_forward_length", 160);
  w.set_u32("llama.attention.head_count", 8);
  w.set_u32("llama.attention.head_count_kv", 2);
  w.set_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  w.set_u32("llama.vocab_size", static_cast<std::uint32_t>(cfg.vocab_size));
  std::vector<std::vector<float>> keep;
  for (const auto& t : r.tensors()) {
    keep.push_back(r.read_f32(t));
    w.add_tensor(t.name, t.shape(), keep.back().data(), cai::gguf::TensorType::F32);
  }
  w.write(dir / "bad.gguf");
  auto e = error_of([&] { cai::load_model(dir / "bad.gguf"); });
  EXPECT_NE(e.find("blk.2.attn_norm.weight"), std::string::npos) << e;
  EXPECT_NE(e.find("bad.gguf"), std::string::npos) << e;
}

}  // namespace
