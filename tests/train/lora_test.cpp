// LoRA: PEFT's initialisation and file layout, training touches only the adapter, merging
// reproduces the adapted model (and unblocks the cached path), gradients against finite
// differences, malformed adapter directories, and `cai lora merge` end to end.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <set>

#include "cai/formats/safetensors.h"
#include "cai/io/error.h"
#include "cai/io/file.h"
#include "cai/model/llama.h"
#include "cai/model/loader.h"
#include "cai/train/lora.h"
#include "finite_diff.h"

namespace {

namespace fs = std::filesystem;
using cai::train::LoraAdapter;
using cai::train::LoraOptions;

const std::vector<std::string> kAll = {"q_proj",    "k_proj",  "v_proj",   "o_proj",
                                       "gate_proj", "up_proj", "down_proj"};

cai::ModelConfig lora_config() {
  cai::ModelConfig c;
  c.vocab_size = 53;
  c.hidden_size = 16;
  c.intermediate_size = 24;
  c.num_layers = 2;
  c.num_heads = 4;
  c.num_kv_heads = 2;
  c.head_dim = 4;
  c.max_position_embeddings = 32;
  return c;
}

std::shared_ptr<cai::LlamaModel> base_model(std::uint64_t seed = 1) {
  torch::manual_seed(seed);
  auto m = std::make_shared<cai::LlamaModel>(lora_config());
  torch::NoGradGuard g;
  for (auto& p : m->parameters())
    if (p.dim() == 2) p.mul_(5.0);
  return m;
}

LoraOptions opts(std::vector<std::string> targets = kAll, std::int64_t r = 4, double alpha = 8.0) {
  LoraOptions o;
  o.rank = r;
  o.alpha = alpha;
  o.dropout = 0.0;
  o.target_modules = std::move(targets);
  return o;
}

fs::path tmp_dir(const std::string& name) {
  fs::path d = fs::path(CAI_TEST_TMPDIR) / "lora" / name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

torch::Tensor tokens_for(std::int64_t B, std::int64_t T, std::uint64_t seed) {
  torch::manual_seed(seed);
  return torch::randint(0, lora_config().vocab_size, {B, T}, torch::kInt64);
}

torch::Tensor logits_no_grad(cai::LlamaModel& m, const torch::Tensor& tokens) {
  torch::NoGradGuard g;
  return m.forward(tokens);
}

double max_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>();
}
double scale_of(const torch::Tensor& t) { return std::max(1.0, t.abs().max().item<double>()); }

// Stands in for training: B is zero after attach_lora, so give it values.
void randomise_b(LoraAdapter& a, std::uint64_t seed) {
  torch::manual_seed(seed);
  torch::NoGradGuard g;
  for (auto& [name, t] : cai::train::lora_parameters(a))
    if (name.find("lora_B") != std::string::npos) t.copy_(torch::randn_like(t) * 0.3);
}

// A few AdamW steps of next-token cross-entropy on the adapter's parameters.
void train_steps(cai::LlamaModel& m, LoraAdapter& a, int steps) {
  std::vector<torch::Tensor> params;
  for (auto& [name, t] : cai::train::lora_parameters(a)) params.push_back(t);
  torch::optim::AdamW opt(params, torch::optim::AdamWOptions(1e-2));
  auto tokens = tokens_for(2, 8, 11);
  for (int s = 0; s < steps; ++s) {
    opt.zero_grad();
    auto logits = m.forward(tokens.narrow(1, 0, 7));
    auto loss = torch::nn::functional::cross_entropy(logits.reshape({-1, logits.size(-1)}),
                                                     tokens.narrow(1, 1, 7).reshape({-1}));
    loss.backward();
    opt.step();
  }
}

TEST(Lora, OptionsValidateNamesTheField) {
  EXPECT_NO_THROW(opts().validate());
  auto expect_msg = [](LoraOptions o, const std::string& what) {
    try {
      o.validate();
      FAIL() << "expected an error about " << what;
    } catch (const cai::Error& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  expect_msg(opts(kAll, -1), "rank");
  expect_msg(opts(kAll, 4, -1.0), "alpha");
  auto o = opts();
  o.dropout = 1.0;
  expect_msg(o, "dropout");
  expect_msg(opts({"q_proj", "lm_head"}), "lm_head");
  expect_msg(opts({"q_proj", "q_proj"}), "q_proj");
}

TEST(Lora, InitialisedLikePeftAndOutputsUnchanged) {
  auto m = base_model();
  auto tokens = tokens_for(2, 6, 3);
  auto before = m->forward(tokens).detach();
  auto a = cai::train::attach_lora(*m, opts());
  auto after = m->forward(tokens).detach();
  // B = 0: the adapter adds exact zeros.
  EXPECT_TRUE(torch::equal(before, after));
  EXPECT_LT(max_diff(logits_no_grad(*m, tokens), before), 1e-5 * scale_of(before));

  const auto cfg = lora_config();
  auto params = cai::train::lora_parameters(*a);
  EXPECT_EQ(params.size(), static_cast<std::size_t>(cfg.num_layers * 7 * 2));
  for (auto& [name, t] : params) {
    EXPECT_TRUE(t.is_leaf() && t.requires_grad()) << name;
    if (name.find("lora_B") != std::string::npos) {
      EXPECT_EQ(t.abs().max().item<double>(), 0.0) << name;
    } else {
      // Kaiming-uniform with a = sqrt(5): U(-1/sqrt(in), 1/sqrt(in)), variance bound^2 / 3.
      const double bound = 1.0 / std::sqrt(static_cast<double>(t.size(1)));
      EXPECT_LE(t.abs().max().item<double>(), bound) << name;
      EXPECT_GT(t.abs().max().item<double>(), 0.8 * bound) << name;
      EXPECT_NEAR(t.pow(2).mean().item<double>(), bound * bound / 3, 0.35 * bound * bound / 3)
          << name;
    }
  }
  // The base is frozen.
  for (auto& p : m->parameters()) EXPECT_FALSE(p.requires_grad());
  EXPECT_THROW(cai::train::attach_lora(*m, opts()), cai::Error);
}

TEST(Lora, TrainingChangesOnlyTheAdapter) {
  auto m = base_model();
  std::vector<torch::Tensor> base_before;
  for (auto& p : m->parameters()) base_before.push_back(p.detach().clone());
  auto a = cai::train::attach_lora(*m, opts({"q_proj", "v_proj", "down_proj"}));
  std::vector<torch::Tensor> lora_before;
  for (auto& [n, t] : cai::train::lora_parameters(*a)) lora_before.push_back(t.detach().clone());
  train_steps(*m, *a, 3);
  auto base_after = m->parameters();
  ASSERT_EQ(base_after.size(), base_before.size());
  for (std::size_t i = 0; i < base_after.size(); ++i) {
    EXPECT_TRUE(torch::equal(base_after[i], base_before[i])) << "base tensor " << i << " changed";
    EXPECT_FALSE(base_after[i].grad().defined()) << "base tensor " << i << " got a gradient";
  }
  auto lora_after = cai::train::lora_parameters(*a);
  for (std::size_t i = 0; i < lora_after.size(); ++i)
    EXPECT_GT(max_diff(lora_after[i].second, lora_before[i]), 0.0)
        << lora_after[i].first << " did not train";
}

TEST(Lora, MergeReproducesTheAdaptedModelOnTheCachedPath) {
  auto m = base_model();
  auto a = cai::train::attach_lora(*m, opts());
  train_steps(*m, *a, 3);
  randomise_b(*a, 5);  // make the adapter's effect large, not a few AdamW steps' worth
  auto tokens = tokens_for(2, 9, 4);
  m->eval();
  auto adapted = logits_no_grad(*m, tokens);
  m->train();
  auto plain = base_model();
  EXPECT_GT(max_diff(adapted, logits_no_grad(*plain, tokens)), 1e-2)
      << "the adapter changes nothing";

  cai::KVCache cache(lora_config(), 2, 16);
  auto start = torch::zeros({2}, torch::kInt64);
  EXPECT_THROW(m->forward_hidden_cached(tokens, cache, 0, start), cai::Error);
  cai::train::merge_lora(*m, *a);
  EXPECT_EQ(m->adapter(), nullptr);
  EXPECT_THROW(cai::train::merge_lora(*m, *a), cai::Error);  // no double merge

  auto merged = logits_no_grad(*m, tokens);  // the fused path again
  EXPECT_LT(max_diff(merged, adapted), 1e-5 * scale_of(adapted));
  torch::Tensor cached;
  {
    torch::NoGradGuard g;
    cached = m->logits(m->forward_hidden_cached(tokens, cache, 0, start));
  }
  EXPECT_LT(max_diff(cached, adapted), 1e-5 * scale_of(adapted));
}

TEST(Lora, DropoutOnlyWhileTraining) {
  auto m = base_model();
  auto o = opts({"q_proj", "up_proj"});
  o.dropout = 0.5;
  auto a = cai::train::attach_lora(*m, o);
  randomise_b(*a, 6);
  auto tokens = tokens_for(1, 6, 7);
  torch::manual_seed(1);
  auto t1 = m->forward(tokens).detach();
  auto t2 = m->forward(tokens).detach();
  EXPECT_GT(max_diff(t1, t2), 1e-4) << "dropout had no effect in training mode";
  m->eval();
  auto e1 = m->forward(tokens).detach(), e2 = m->forward(tokens).detach();
  EXPECT_TRUE(torch::equal(e1, e2));
  m->train();
  EXPECT_TRUE(torch::allclose(logits_no_grad(*m, tokens), e1, 1e-6, 1e-6))
      << "dropout without autograd";
}

TEST(Lora, SaveLoadRoundTripAndPeftLayout) {
  const auto dir = tmp_dir("roundtrip");
  auto m = base_model();
  auto o = opts({"q_proj", "k_proj", "o_proj", "gate_proj", "down_proj"}, 3, 6.0);
  o.dropout = 0.05;
  auto a = cai::train::attach_lora(*m, o);
  randomise_b(*a, 8);
  cai::train::save_lora(*a, dir, "tiny-base");

  // adapter_config.json as PEFT writes it.
  auto j = nlohmann::json::parse(cai::read_file(dir / "adapter_config.json"));
  EXPECT_EQ(j["peft_type"], "LORA");
  EXPECT_EQ(j["task_type"], "CAUSAL_LM");
  EXPECT_EQ(j["r"], 3);
  EXPECT_EQ(j["lora_alpha"], 6.0);
  EXPECT_DOUBLE_EQ(j["lora_dropout"].get<double>(), 0.05);
  EXPECT_EQ(j["target_modules"], nlohmann::json(o.target_modules));
  EXPECT_EQ(j["bias"], "none");
  EXPECT_EQ(j["fan_in_fan_out"], false);
  EXPECT_EQ(j["use_rslora"], false);
  EXPECT_EQ(j["use_dora"], false);
  EXPECT_EQ(j["inference_mode"], true);
  EXPECT_EQ(j["base_model_name_or_path"], "tiny-base");

  // Keys and shapes of PEFT's LlamaForCausalLM state dict.
  const auto cfg = lora_config();
  const std::int64_t C = cfg.hidden_size, q = cfg.num_heads * cfg.head_dim,
                     kv = cfg.num_kv_heads * cfg.head_dim, F = cfg.intermediate_size;
  std::map<std::string, std::vector<std::int64_t>> want;
  for (int l = 0; l < cfg.num_layers; ++l) {
    const std::string p = "base_model.model.model.layers." + std::to_string(l) + ".";
    auto add = [&](const std::string& mod, std::int64_t out, std::int64_t in) {
      want[p + mod + ".lora_A.weight"] = {3, in};
      want[p + mod + ".lora_B.weight"] = {out, 3};
    };
    add("self_attn.q_proj", q, C);
    add("self_attn.k_proj", kv, C);
    add("self_attn.o_proj", C, q);
    add("mlp.gate_proj", F, C);
    add("mlp.down_proj", C, F);
  }
  cai::safetensors::File st(dir / "adapter_model.safetensors");
  std::map<std::string, std::vector<std::int64_t>> got;
  for (const auto& t : st.tensors()) {
    got[t.name] = t.shape;
    EXPECT_EQ(t.dtype, cai::DType::F32) << t.name;
  }
  EXPECT_EQ(got, want);

  // Round trip onto a fresh copy of the base.
  auto m2 = base_model();
  auto b = cai::train::load_lora(*m2, dir);
  EXPECT_EQ(m2->adapter() != nullptr, true);
  auto pa = cai::train::lora_parameters(*a), pb = cai::train::lora_parameters(*b);
  ASSERT_EQ(pa.size(), pb.size());
  for (std::size_t i = 0; i < pa.size(); ++i) {
    EXPECT_EQ(pa[i].first, pb[i].first);
    EXPECT_TRUE(torch::equal(pa[i].second, pb[i].second)) << pa[i].first;
    EXPECT_TRUE(pb[i].second.requires_grad() && pb[i].second.is_leaf()) << pb[i].first;
  }
  m->eval();
  m2->eval();
  auto tokens = tokens_for(2, 5, 9);
  EXPECT_TRUE(torch::equal(logits_no_grad(*m, tokens), logits_no_grad(*m2, tokens)));
  // The loaded options are the saved ones: saving again gives the same config.
  const auto dir2 = tmp_dir("roundtrip2");
  cai::train::save_lora(*b, dir2, "tiny-base");
  EXPECT_EQ(cai::read_file(dir / "adapter_config.json"),
            cai::read_file(dir2 / "adapter_config.json"));
}

// Writes a valid adapter into `name`, then lets `edit` spoil it; returns load_lora's message.
std::string load_error(const std::string& name, const std::function<void(const fs::path&)>& edit) {
  const auto dir = tmp_dir(name);
  {
    auto m = base_model();
    auto a = cai::train::attach_lora(*m, opts({"q_proj", "v_proj"}, 2, 4.0));
    cai::train::save_lora(*a, dir, "tiny");
  }
  edit(dir);
  auto m = base_model();
  try {
    cai::train::load_lora(*m, dir);
  } catch (const cai::Error& e) {
    EXPECT_EQ(m->adapter(), nullptr);
    return e.what();
  }
  ADD_FAILURE() << name << ": expected an error";
  return "";
}

void edit_config(const fs::path& dir, const std::function<void(nlohmann::json&)>& f) {
  auto j = nlohmann::json::parse(cai::read_file(dir / "adapter_config.json"));
  f(j);
  cai::write_file_atomic(dir / "adapter_config.json", j.dump());
}

// Rewrites the weights with `f` applied to the (name, tensor) list.
void edit_weights(
    const fs::path& dir,
    const std::function<void(std::vector<std::pair<std::string, torch::Tensor>>&)>& f) {
  cai::safetensors::File in(dir / "adapter_model.safetensors");
  std::vector<std::pair<std::string, torch::Tensor>> ts;
  for (const auto& t : in.tensors()) {
    auto v = in.read_f32(t.name);
    ts.emplace_back(t.name, torch::from_blob(v.data(), t.shape, torch::kFloat32).clone());
  }
  f(ts);
  std::vector<cai::safetensors::TensorToWrite> out;
  for (auto& [n, t] : ts) {
    t = t.contiguous();
    out.push_back({n, t.sizes().vec(), t.data_ptr<float>(), cai::DType::F32});
  }
  cai::safetensors::write(dir / "adapter_model.safetensors", out);
}

void expect_has(const std::string& msg, const std::vector<std::string>& parts) {
  for (const auto& p : parts)
    EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
}

TEST(Lora, BadAdapterDirectoriesNameFileAndTensor) {
  const std::string key_q0A = "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight";
  expect_has(
      load_error("no_config", [](const fs::path& d) { fs::remove(d / "adapter_config.json"); }),
      {"adapter_config.json"});
  expect_has(
      load_error("bad_json",
                 [](const fs::path& d) { cai::write_file_atomic(d / "adapter_config.json", "{"); }),
      {"adapter_config.json", "JSON"});
  expect_has(load_error("peft_type",
                        [](const fs::path& d) {
                          edit_config(d, [](auto& j) { j["peft_type"] = "IA3"; });
                        }),
             {"adapter_config.json", "peft_type", "IA3"});
  expect_has(
      load_error("dora",
                 [](const fs::path& d) { edit_config(d, [](auto& j) { j["use_dora"] = true; }); }),
      {"adapter_config.json", "use_dora"});
  expect_has(load_error("rslora",
                        [](const fs::path& d) {
                          edit_config(d, [](auto& j) { j["use_rslora"] = true; });
                        }),
             {"use_rslora"});
  expect_has(
      load_error("bias",
                 [](const fs::path& d) { edit_config(d, [](auto& j) { j["bias"] = "all"; }); }),
      {"adapter_config.json", "bias"});
  expect_has(load_error("fan_in",
                        [](const fs::path& d) {
                          edit_config(d, [](auto& j) { j["fan_in_fan_out"] = true; });
                        }),
             {"fan_in_fan_out"});
  expect_has(load_error("rank_pattern",
                        [](const fs::path& d) {
                          edit_config(d, [](auto& j) { j["rank_pattern"] = {{"q_proj", 4}}; });
                        }),
             {"rank_pattern"});
  expect_has(load_error("regex_targets",
                        [](const fs::path& d) {
                          edit_config(d, [](auto& j) { j["target_modules"] = ".*q_proj"; });
                        }),
             {"target_modules"});
  expect_has(
      load_error("unknown_target",
                 [](const fs::path& d) {
                   edit_config(d, [](auto& j) { j["target_modules"] = {"q_proj", "c_attn"}; });
                 }),
      {"adapter_config.json", "c_attn"});
  expect_has(load_error("no_weights",
                        [](const fs::path& d) { fs::remove(d / "adapter_model.safetensors"); }),
             {"adapter_model.safetensors", "missing"});
  expect_has(load_error("wrong_rank",
                        [](const fs::path& d) { edit_config(d, [](auto& j) { j["r"] = 3; }); }),
             {"adapter_model.safetensors", key_q0A, "shape"});
  expect_has(load_error("wrong_shape",
                        [&](const fs::path& d) {
                          edit_weights(d, [&](auto& ts) {
                            for (auto& [n, t] : ts)
                              if (n == key_q0A) t = torch::zeros({2, 7});
                          });
                        }),
             {"adapter_model.safetensors", key_q0A, "[2, 7]"});
  const std::string key_v1B = "base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight";
  expect_has(load_error("missing_tensor",
                        [&](const fs::path& d) {
                          edit_weights(d, [&](auto& ts) {
                            std::erase_if(ts, [&](const auto& p) { return p.first == key_v1B; });
                          });
                        }),
             {"adapter_model.safetensors", key_v1B, "missing"});
  const std::string key_k = "base_model.model.model.layers.0.self_attn.k_proj.lora_A.weight";
  expect_has(load_error("untargeted_tensor",
                        [&](const fs::path& d) {
                          edit_weights(d, [&](auto& ts) {
                            ts.emplace_back(key_k, torch::zeros({2, 16}));
                          });
                        }),
             {"adapter_model.safetensors", key_k, "target_modules"});
  const std::string key_head = "base_model.model.lm_head.lora_A.weight";
  expect_has(load_error("lm_head_tensor",
                        [&](const fs::path& d) {
                          edit_weights(d, [&](auto& ts) {
                            ts.emplace_back(key_head, torch::zeros({2, 16}));
                          });
                        }),
             {"adapter_model.safetensors", key_head});
  const std::string key_l9 = "base_model.model.model.layers.9.self_attn.q_proj.lora_A.weight";
  expect_has(load_error("layer_out_of_range",
                        [&](const fs::path& d) {
                          edit_weights(d, [&](auto& ts) {
                            ts.emplace_back(key_l9, torch::zeros({2, 16}));
                          });
                        }),
             {"adapter_model.safetensors", key_l9, "layer 9"});
}

TEST(Lora, AllLinearAndMinimalPeftConfigsLoad) {
  const auto dir = tmp_dir("all_linear");
  auto m = base_model();
  auto a = cai::train::attach_lora(*m, opts());
  cai::train::save_lora(*a, dir, "tiny");
  // Only the fields older PEFT versions always wrote.
  cai::write_file_atomic(
      dir / "adapter_config.json",
      R"({"peft_type": "LORA", "r": 4, "lora_alpha": 8, "target_modules": "all-linear"})");
  auto m2 = base_model();
  EXPECT_NO_THROW(cai::train::load_lora(*m2, dir));
}

// Central differences of a scalar of the logits w.r.t. LoRA entries, in double precision.
TEST(Lora, GradientsMatchFiniteDifferencesInDouble) {
  auto m = base_model(2);
  m->to(torch::kFloat64);
  auto a = cai::train::attach_lora(*m, opts({"k_proj", "o_proj", "up_proj", "down_proj"}, 2, 3.0));
  randomise_b(*a, 3);
  auto tokens = tokens_for(2, 5, 12);
  torch::manual_seed(13);
  auto w = torch::randn({2, 5, lora_config().vocab_size}, torch::kFloat64);
  auto f = [&] {
    torch::NoGradGuard g;
    return (torch::log_softmax(m->forward(tokens), -1) * w).sum().item<double>();
  };
  auto loss = (torch::log_softmax(m->forward(tokens), -1) * w).sum();
  loss.backward();
  int checked = 0;
  for (auto& [name, t] : cai::train::lora_parameters(*a)) {
    ASSERT_EQ(t.scalar_type(), torch::kFloat64) << name;
    ASSERT_TRUE(t.grad().defined()) << name;
    auto g = t.grad().view({-1});
    for (std::int64_t e : {g.abs().argmax().item<std::int64_t>(), g.numel() / 2}) {
      const double analytic = g[e].item<double>();
      if (std::abs(analytic) < 1e-3 * g.abs().max().item<double>()) continue;
      const double numeric = cai::testing_util::central_difference(t.view({-1})[e], f);
      EXPECT_LT(std::abs(analytic - numeric) / std::abs(analytic), 1e-6)
          << name << "[" << e << "]: autograd " << analytic << ", finite differences " << numeric;
      ++checked;
    }
  }
  EXPECT_GE(checked, 16);
}

// `cai model init` -> adapter saved here -> `cai lora merge` -> the merged model's logits
// (fused path) equal the adapted model's.
TEST(Lora, CliMergeEndToEnd) {
  const auto root = tmp_dir("cli");
  const auto base_dir = root / "base", adapter_dir = root / "adapter", out_dir = root / "merged";
  auto run = [](const std::string& cmd) { return std::system((cmd + " 2>/dev/null").c_str()); };
  ASSERT_EQ(run(std::string(CAI_BINARY) + " model init --out " + base_dir.string() +
                " --hidden 16 --layers 2 --heads 4 --kv-heads 2 --ffn 24 --vocab 53 --context 32 "
                "--seed 5"),
            0);
  auto base = cai::load_model(base_dir);
  auto a = cai::train::attach_lora(*base.model,
                                   opts({"q_proj", "v_proj", "o_proj", "up_proj", "down_proj"}));
  randomise_b(*a, 14);
  cai::train::save_lora(*a, adapter_dir, base_dir.string());
  auto tokens = tokens_for(2, 7, 15);
  base.model->eval();
  auto adapted = logits_no_grad(*base.model, tokens);

  ASSERT_EQ(run(std::string(CAI_BINARY) + " lora merge --base " + base_dir.string() +
                " --adapter " + adapter_dir.string() + " --out " + out_dir.string()),
            0);
  auto merged = cai::load_model(out_dir);
  EXPECT_EQ(merged.model->adapter(), nullptr);
  auto got = logits_no_grad(*merged.model, tokens);
  EXPECT_LT(max_diff(got, adapted), 1e-5 * scale_of(adapted));
  auto plain = logits_no_grad(*cai::load_model(base_dir).model, tokens);
  EXPECT_GT(max_diff(plain, adapted), 1e-2);

  // Bad adapters fail with a message, not a crash.
  EXPECT_NE(run(std::string(CAI_BINARY) + " lora merge --base " + base_dir.string() +
                " --adapter " + (root / "nope").string() + " --out " + (root / "x").string()),
            0);
}

}  // namespace
