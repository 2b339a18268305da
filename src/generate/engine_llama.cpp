// The Engine constructor for a LlamaModel with an optional Tokenizer (kept apart from the
// scheduler so the scheduler builds and tests without the tokenizer library).
#include <torch/torch.h>

#include "cai/generate/engine.h"
#include "cai/model/llama.h"
#include "cai/tokenizer/tokenizer.h"

namespace cai {
namespace {

std::vector<std::int32_t> default_eos(const LlamaModel& model, const Tokenizer* tok) {
  std::vector<std::int32_t> ids;
  for (auto id : model.config().eos_token_ids) ids.push_back(static_cast<std::int32_t>(id));
  if (tok) ids.insert(ids.end(), tok->stop_ids().begin(), tok->stop_ids().end());
  return ids;
}

std::unique_ptr<StepModel> make_step_model(LlamaModel& model, const EngineOptions& o) {
  o.validate();
  const auto len = o.max_seq_len > 0 ? o.max_seq_len : model.config().max_position_embeddings;
  // Prefix-cache slots sit past the live ones in the same cache.
  return make_llama_step_model(model, o.max_batch + o.prefix_cache_slots, len);
}

TokenBytesFn bytes_fn(const Tokenizer* tok) {
  if (!tok) return {};
  return [tok](std::int32_t id) { return tok->token_bytes(id); };
}

}  // namespace

Engine::Engine(LlamaModel& model, EngineOptions opts, const Tokenizer* tokenizer)
    : Engine(make_step_model(model, opts), opts, bytes_fn(tokenizer),
             default_eos(model, tokenizer)) {}

}  // namespace cai
