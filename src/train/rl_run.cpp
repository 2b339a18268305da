// `cai train rl` as a library call (see include/cai/train/rl.h): the policy, its template,
// the prompts and the reward (the reward model, or the caller's), then train_rl.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <optional>

#include "cai/generate/chat.h"
#include "cai/io/error.h"
#include "cai/io/log.h"
#include "cai/io/sha256.h"
#include "cai/model/device.h"
#include "cai/model/loader.h"
#include "cai/train/reward_model.h"
#include "cai/train/rl.h"

namespace cai::train {

void RlRunOptions::rules(opt::Rules& r) const {
  r.require(!model.empty(), "model", "is required");
  r.require(!prompts.empty(), "prompts", "is required");
  r.require(rl.ptx_coef == 0 || !ptx_data.empty(), "ptx_data", "is required with ptx_coef > 0");
  r.require(ptx_data.empty() || rl.ptx_coef > 0, "ptx_coef", "must be > 0 for ptx_data to be used");
}

RlSummary run_rl(const RlRunOptions& o, const Reward* given) {
  namespace fs = std::filesystem;
  o.validate();
  CAI_CHECK(given || !o.reward_model.empty(), "rl: reward_model is required (or a given reward)");
  CAI_CHECK(!given || o.reward_model.empty(),
            "rl: a reward model ({}) and a given reward exclude each other", o.reward_model);
  CAI_CHECK(!given || given->fn, "rl: the given reward has no function");
  CAI_CHECK(fs::exists(o.prompts), "rl: prompts: {} does not exist", o.prompts);
  LoadedModel policy = load_model(o.model);
  place_model(*policy.model, parse_device(o.device));
  CAI_CHECK(policy.tokenizer.has_value(), "{}: the model carries no tokenizer; RL needs one",
            o.model);
  const ChatTemplate tmpl = pick_chat_template(&*policy.tokenizer, o.chat_template);
  const std::int64_t room = policy.config.max_position_embeddings - o.rl.max_new_tokens;
  CAI_CHECK(room >= 1,
            "rl: max_new_tokens ({}) leaves no room for a prompt in the model's context of {}",
            o.rl.max_new_tokens, policy.config.max_position_embeddings);
  const std::int64_t max_prompt =
      o.max_prompt_length > 0 ? std::min(o.max_prompt_length, room) : room;
  const std::vector<RlPrompt> prompts =
      load_rl_prompts(o.prompts, *policy.tokenizer, tmpl, max_prompt);
  // A string prompt is continued as it is, as TRL reads one: a template named for the run then
  // renders nothing, and a chat model trains on text it never sees at inference.
  if (!o.chat_template.empty() &&
      std::none_of(prompts.begin(), prompts.end(), [](const RlPrompt& p) { return p.chat; }))
    log_warning(
        "rl: {}: every prompt is plain text and is continued as it is; the chat template {} "
        "renders only conversations ({{\"prompt\": [{{\"role\": \"user\", \"content\": ...}}]}})",
        o.prompts, o.chat_template);

  // What else changes the result: the models' weights and the prompts file, by content.
  auto model_id = [](const std::string& p) {
    const fs::path path(p);
    const fs::path weights = fs::is_directory(path) ? path / "model.safetensors" : path;
    return fs::exists(weights) ? sha256_file(weights.string())
                               : fs::absolute(path).lexically_normal().string();
  };
  std::optional<RewardModel> rm;
  Reward reward;
  if (given) {
    reward = *given;
  } else {
    rm.emplace(RewardModel::load(o.reward_model));
    place_model(*rm->base().model, parse_device(o.device));
    CAI_CHECK(rm->base().tokenizer.has_value(), "{}: the reward model carries no tokenizer",
              o.reward_model);
    reward.fn = reward_model_fn(*rm, tmpl, std::max<std::int64_t>(o.rl.token_budget, 1));
    reward.identity = model_id(o.reward_model);
  }

  std::vector<TokenizedSequence> ptx;
  if (!o.ptx_data.empty()) {
    CAI_CHECK(fs::exists(o.ptx_data), "rl: ptx_data: {} does not exist", o.ptx_data);
    DataOptions d;
    d.max_length = policy.config.max_position_embeddings;
    for (auto& e : load_sft(o.ptx_data, *policy.tokenizer, tmpl, d))
      ptx.push_back(std::move(e.seq));
    CAI_CHECK(!ptx.empty(), "rl: ptx_data: {} has no rows with targets", o.ptx_data);
  }

  RlOptions rl = o.rl;
  nlohmann::json config = {{"model", model_id(o.model)},
                           {"prompts", sha256_file(o.prompts)},
                           {"template", tmpl.name()},
                           {"max_prompt_length", max_prompt}};
  if (!o.ptx_data.empty()) config["ptx_data"] = sha256_file(o.ptx_data);
  // A reward model keeps the key it always had, so its runs resume across versions.
  config[given ? "reward" : "reward_model"] = reward.identity;
  rl.run_config = config.dump();
  return train_rl(policy, prompts, reward.fn, rl, ptx);
}

}  // namespace cai::train
