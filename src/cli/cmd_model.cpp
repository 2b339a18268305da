// `cai model info MODEL [--json]` and
// `cai model convert IN OUT [--dtype f32|f16|bf16|q8_0|q4_0|q4_k|q5_k|q6_k]`.
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include <cstdio>
#include <iostream>

#include "cai/io/error.h"
#include "cai/model/llama.h"
#include "cai/model/loader.h"
#include "command.h"

namespace cai::cli {
namespace cmd_model {

struct InfoFlags {
  std::string model;
  bool json = false;
};

struct ConvertFlags {
  std::string in, out;
  std::string dtype = "f32";
};

nlohmann::json describe(const LoadedModel& m) {
  const ModelConfig& c = m.config;
  nlohmann::json j;
  j["source"] = m.source.string();
  j["format"] = m.format;
  j["architecture"] = c.architecture;
  j["vocab_size"] = c.vocab_size;
  j["hidden_size"] = c.hidden_size;
  j["intermediate_size"] = c.intermediate_size;
  j["num_layers"] = c.num_layers;
  j["num_heads"] = c.num_heads;
  j["num_kv_heads"] = c.num_kv_heads;
  j["head_dim"] = c.head_dim;
  j["max_position_embeddings"] = c.max_position_embeddings;
  j["rms_norm_eps"] = c.rms_norm_eps;
  j["rope_theta"] = c.rope_theta;
  j["rope_scaling"] = c.rope_scaling.type;
  j["tie_word_embeddings"] = c.tie_word_embeddings;
  j["attention_bias"] = c.attention_bias;
  j["num_parameters"] = c.num_parameters();
  j["stored_dtypes"] = m.stored_dtypes;
  // What the weights take in memory, by type: quantized and F16/BF16 matrices stay as stored.
  std::uint64_t total = 0;
  for (const auto& [type, bytes] : m.model->weight_bytes()) {
    j["weight_bytes"][type] = bytes;
    total += bytes;
  }
  j["weight_bytes_total"] = total;
  if (m.tokenizer) {
    j["tokenizer"] = {{"kind", m.tokenizer->kind()}, {"vocab_size", m.tokenizer->vocab_size()}};
  } else {
    j["tokenizer"] = nullptr;
  }
  return j;
}

void print_text(const nlohmann::json& j) {
  std::printf("source:                  %s (%s)\n", j["source"].get<std::string>().c_str(),
              j["format"].get<std::string>().c_str());
  std::printf("architecture:            %s\n", j["architecture"].get<std::string>().c_str());
  for (const char* k : {"vocab_size", "hidden_size", "intermediate_size", "num_layers", "num_heads",
                        "num_kv_heads", "head_dim", "max_position_embeddings"})
    std::printf("%-24s %lld\n", (std::string(k) + ":").c_str(),
                static_cast<long long>(j[k].get<std::int64_t>()));
  std::printf("rms_norm_eps:            %g\n", j["rms_norm_eps"].get<double>());
  std::printf("rope_theta:              %g%s\n", j["rope_theta"].get<double>(),
              j["rope_scaling"] == "none"
                  ? ""
                  : (" (" + j["rope_scaling"].get<std::string>() + " scaling)").c_str());
  std::printf("tied embeddings:         %s\n", j["tie_word_embeddings"].get<bool>() ? "yes" : "no");
  std::printf("attention bias:          %s\n", j["attention_bias"].get<bool>() ? "yes" : "no");
  std::printf("parameters:              %lld (%.2fM)\n",
              static_cast<long long>(j["num_parameters"].get<std::int64_t>()),
              j["num_parameters"].get<double>() / 1e6);
  std::string dtypes;
  for (auto& [k, v] : j["stored_dtypes"].items())
    dtypes += (dtypes.empty() ? "" : ", ") + k + " x" + std::to_string(v.get<std::int64_t>());
  std::printf("stored dtypes:           %s\n", dtypes.c_str());
  std::string mem;
  for (auto& [k, v] : j["weight_bytes"].items())
    mem += fmt::format("{}{} {:.2f} MB", mem.empty() ? "" : ", ", k, v.get<double>() / 1e6);
  std::printf("weights in memory:       %.2f MB (%s)\n",
              j["weight_bytes_total"].get<double>() / 1e6, mem.c_str());
  if (j["tokenizer"].is_null())
    std::printf("tokenizer:               none\n");
  else
    std::printf("tokenizer:               %s, %lld tokens\n",
                j["tokenizer"]["kind"].get<std::string>().c_str(),
                static_cast<long long>(j["tokenizer"]["vocab_size"].get<std::int64_t>()));
}

void run_info(const InfoFlags& f) {
  LoadedModel m = load_model(f.model);
  auto j = describe(m);
  if (f.json)
    std::cout << j.dump(2) << "\n";
  else
    print_text(j);
}

void run_convert(const ConvertFlags& f) {
  const bool gguf = f.out.size() > 5 && f.out.substr(f.out.size() - 5) == ".gguf";
  const GgufType type = parse_gguf_type(f.dtype);
  CAI_CHECK(gguf || type == GgufType::f32 || type == GgufType::f16 || type == GgufType::bf16,
            "--dtype {}: quantized weights are written to GGUF (an OUT ending in .gguf); a "
            "safetensors directory holds f32, f16 or bf16",
            f.dtype);
  LoadedModel m = load_model(f.in);
  if (gguf)
    save_model_gguf(m, f.out, type);
  else
    save_model_dir(m, f.out, parse_store_dtype(f.dtype));
  std::fprintf(stderr, "cai: wrote %s (%s, %s)\n", f.out.c_str(), gguf ? "gguf" : "safetensors",
               f.dtype.c_str());
}

const Registrar reg(30, [](CLI::App& root) {
  CLI::App* model = group(root, "model", "Inspect, create and convert models");

  auto info = std::make_shared<InfoFlags>();
  CLI::App* ic =
      model->add_subcommand("info", "Show a model's shape, size, stored dtypes and tokenizer");
  ic->add_option("model", info->model, "Model directory or .gguf file")->required();
  ic->add_flag("--json", info->json, "Print JSON");
  ic->callback([info] { run_info(*info); });

  auto conv = std::make_shared<ConvertFlags>();
  CLI::App* cc =
      model->add_subcommand("convert", "Convert between a Hugging Face directory and GGUF");
  cc->add_option("in", conv->in, "Input model directory or .gguf file")->required();
  cc->add_option("out", conv->out,
                 "Output: a path ending in .gguf writes GGUF, anything else a directory")
      ->required();
  cc->add_option("--dtype", conv->dtype,
                 "Stored type of the weight matrices; q4_k and q5_k are llama.cpp's Q4_K_M and "
                 "Q5_K_M mixes (GGUF only for the quantized types)")
      ->check(CLI::IsMember({"f32", "f16", "bf16", "q8_0", "q4_0", "q4_k", "q5_k", "q6_k"}))
      ->capture_default_str();
  cc->callback([conv] { run_convert(*conv); });
});

}  // namespace cmd_model
}  // namespace cai::cli
