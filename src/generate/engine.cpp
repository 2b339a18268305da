#include "cai/generate/engine.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <numeric>

#include "cai/generate/stop.h"
#include "cai/io/error.h"

namespace cai {

void EngineOptions::validate() const {
  CAI_CHECK(max_batch >= 1, "engine: max_batch must be >= 1, got {}", max_batch);
  CAI_CHECK(max_seq_len >= 0, "engine: max_seq_len must be >= 0, got {}", max_seq_len);
  CAI_CHECK(prefill_chunk >= 1, "engine: prefill_chunk must be >= 1, got {}", prefill_chunk);
  CAI_CHECK(max_prefill_tokens >= 1, "engine: max_prefill_tokens must be >= 1, got {}",
            max_prefill_tokens);
  CAI_CHECK(prefix_cache_slots >= 0, "engine: prefix_cache_slots must be >= 0, got {}",
            prefix_cache_slots);
}

const char* to_string(FinishReason r) {
  switch (r) {
    case FinishReason::stop:
      return "stop";
    case FinishReason::length:
      return "length";
    case FinishReason::cancelled:
      return "cancelled";
  }
  return "?";
}

struct Engine::Seq {
  Seq(RequestId id_, GenerationRequest r)
      : id(id_),
        req(std::move(r)),
        rng(req.sampling.seed, req.stream.value_or(id_)),
        stop(req.sampling.stop) {}
  RequestId id;
  GenerationRequest req;
  SamplerRng rng;
  StopMatcher stop;
  std::vector<std::int32_t> out;
  std::vector<float> logprobs;
  std::vector<std::vector<std::pair<std::int32_t, float>>> top;
  std::int64_t reused = 0;    // leading prompt positions copied from the prefix cache
  std::int64_t cached = 0;    // positions held in the cache
  std::int32_t pending = -1;  // last sampled token, not yet fed to the model
  std::int64_t max_new = 0;   // max_new_tokens, capped by the cache length
  bool done = false;
  FinishReason reason = FinishReason::length;
  std::int64_t prompt_len() const { return static_cast<std::int64_t>(req.prompt.size()); }
};

namespace {
// Shorter shared prefixes are recomputed: copying saves little and matching costs a scan.
constexpr std::int64_t kMinPrefixReuse = 8;

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

}  // namespace

Engine::Engine(std::unique_ptr<StepModel> model, EngineOptions opts, TokenBytesFn token_bytes,
               std::vector<std::int32_t> eos_ids)
    : model_(std::move(model)),
      opts_(opts),
      token_bytes_(std::move(token_bytes)),
      eos_(eos_ids.begin(), eos_ids.end()) {
  opts_.validate();
  opts_.max_batch = std::min(opts_.max_batch, model_->max_batch());
  opts_.max_seq_len = model_->max_len();
  // The prefix cache uses the slots the model has beyond the live ones.
  cache_slots_ = std::min(opts_.prefix_cache_slots, model_->max_batch() - opts_.max_batch);
  opts_.prefix_cache_slots = cache_slots_;
  retained_.reserve(static_cast<std::size_t>(cache_slots_));  // admit() holds pointers into it
}

Engine::~Engine() = default;

RequestId Engine::submit(GenerationRequest request) {
  const auto& sp = request.sampling;
  sp.validate();
  const auto n = static_cast<std::int64_t>(request.prompt.size());
  CAI_CHECK(n >= 1, "generate: empty prompt (at least one token is needed)");
  CAI_CHECK(n <= model_->max_len(), "generate: prompt of {} tokens exceeds max_seq_len {}", n,
            model_->max_len());
  for (auto t : request.prompt)
    CAI_CHECK(t >= 0 && t < model_->vocab_size(),
              "generate: prompt token id {} outside the vocabulary of {}", t, model_->vocab_size());
  CAI_CHECK(sp.stop.empty() || token_bytes_,
            "generate: stop strings need a tokenizer (the engine has none)");
  std::lock_guard lock(mu_);
  const RequestId id = next_id_++;
  auto seq = std::make_unique<Seq>(id, std::move(request));
  // Positions cached = prompt + generated - 1 (the last token is never fed) <= max_len.
  seq->max_new = std::min(sp.max_new_tokens, model_->max_len() - n + 1);
  submitted_.push_back(std::move(seq));
  ++pending_;
  return id;
}

void Engine::cancel(RequestId id) {
  std::lock_guard lock(mu_);
  cancelled_.insert(id);
}

bool Engine::idle() const { return pending_.load() == 0; }

bool Engine::step() {
  torch::NoGradGuard no_grad;
  std::unordered_set<RequestId> cancelled;
  {
    std::lock_guard lock(mu_);
    for (auto& s : submitted_) waiting_.push_back(std::move(s));
    submitted_.clear();
    cancelled.swap(cancelled_);
  }
  if (!cancelled.empty()) {
    for (auto& s : live_)
      if (cancelled.count(s->id) && !s->done) s->done = true, s->reason = FinishReason::cancelled;
    for (auto it = waiting_.begin(); it != waiting_.end();) {
      if (cancelled.count((*it)->id)) {
        (*it)->reason = FinishReason::cancelled;
        finish(**it);
        it = waiting_.erase(it);
      } else {
        ++it;
      }
    }
    retire_finished();
  }
  if (live_.empty() && waiting_.empty()) return false;
  admit();
  retire_finished();
  decode();
  retire_finished();
  return true;
}

void Engine::admit() {
  const auto free = opts_.max_batch - static_cast<std::int64_t>(live_.size());
  if (free <= 0 || waiting_.empty()) return;
  const auto t0 = Clock::now();

  // Take waiting requests in FIFO order while the padded prefill stays within budget. A
  // prompt whose prefix is in the prefix cache prefills only the rest (at least its last
  // token, whose logits give the first sample).
  std::vector<std::unique_ptr<Seq>> group;
  std::vector<const Retained*> source;
  std::int64_t longest = 0;
  while (!waiting_.empty() && static_cast<std::int64_t>(group.size()) < free) {
    Seq& s = *waiting_.front();
    std::int64_t reuse = 0;
    const Retained* from = cache_slots_ > 0 ? longest_prefix(s.req.prompt, reuse) : nullptr;
    const auto rest = s.prompt_len() - reuse;
    const auto width = std::min(opts_.prefill_chunk, std::max(longest, rest));
    if (!group.empty() &&
        (static_cast<std::int64_t>(group.size()) + 1) * width > opts_.max_prefill_tokens)
      break;
    s.reused = reuse;
    longest = std::max(longest, rest);
    source.push_back(from);
    group.push_back(std::move(waiting_.front()));
    waiting_.pop_front();
  }
  // Pads run to the longest remainder past each row's start and must stay inside the cache:
  // a row that would overflow reuses fewer positions (its remainder stays <= longest).
  for (auto& s : group) s->reused = std::min(s->reused, opts_.max_seq_len - longest);
  // Longest remainder first: the rows still prefilling at each chunk are then a prefix of the
  // group, i.e. contiguous slots.
  std::vector<std::size_t> order(group.size());
  std::iota(order.begin(), order.end(), 0);
  auto rest = [&](std::size_t i) { return group[i]->prompt_len() - group[i]->reused; };
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return rest(a) > rest(b); });
  {
    std::vector<std::unique_ptr<Seq>> g(group.size());
    std::vector<const Retained*> src(group.size());
    for (std::size_t k = 0; k < order.size(); ++k) {
      g[k] = std::move(group[order[k]]);
      src[k] = source[order[k]];
    }
    group.swap(g);
    source.swap(src);
  }
  const auto base = static_cast<std::int64_t>(live_.size());
  for (std::size_t r = 0; r < group.size(); ++r) {
    if (group[r]->reused <= 0) continue;
    model_->copy_slot(source[r]->slot, base + static_cast<std::int64_t>(r), group[r]->reused);
    stats_.prefix_reused_tokens += group[r]->reused;
  }
  StepBatch batch;
  batch.slot_begin = base;
  for (std::int64_t c = 0; c < longest; c += opts_.prefill_chunk) {
    std::int64_t m = 0;
    while (m < static_cast<std::int64_t>(group.size()) &&
           group[m]->prompt_len() - group[m]->reused > c)
      ++m;
    const auto width = std::min(opts_.prefill_chunk, longest - c);
    batch.rows = m;
    batch.width = width;
    batch.tokens.assign(m * width, 0);
    batch.start_pos.assign(m, 0);
    batch.last.assign(m, -1);
    std::vector<Seq*> finishing;
    for (std::int64_t r = 0; r < m; ++r) {
      const Seq& s = *group[r];
      const auto& p = s.req.prompt;
      const auto from = s.reused + c;  // first prompt position of this chunk
      const auto n = std::min(width, s.prompt_len() - from);
      batch.start_pos[r] = from;
      for (std::int64_t j = 0; j < n; ++j) batch.tokens[r * width + j] = p[from + j];
      if (s.prompt_len() <= from + width) {
        batch.last[r] = n - 1;  // this chunk holds the prompt's last token
        finishing.push_back(group[r].get());
      }
    }
    torch::Tensor logits = model_->forward(batch);
    for (Seq* s : finishing) s->cached = s->prompt_len();
    if (!finishing.empty()) sample_rows(logits, finishing);
  }
  for (auto& s : group) {
    stats_.prefill_tokens += s->prompt_len() - s->reused;
    live_.push_back(std::move(s));
  }
  stats_.prefill_seconds += seconds_since(t0);
}

const Engine::Retained* Engine::longest_prefix(const std::vector<std::int32_t>& prompt,
                                               std::int64_t& len) {
  Retained* best = nullptr;
  std::int64_t best_len = 0;
  for (auto& r : retained_) {
    const auto n = static_cast<std::int64_t>(std::min(r.tokens.size(), prompt.size()));
    std::int64_t j = 0;
    while (j < n && r.tokens[j] == prompt[j]) ++j;
    if (j > best_len) best = &r, best_len = j;
  }
  // Leave at least one prompt token to compute: its logits give the first sample.
  best_len = std::min<std::int64_t>(best_len, static_cast<std::int64_t>(prompt.size()) - 1);
  if (!best || best_len < kMinPrefixReuse) {
    len = 0;
    return nullptr;
  }
  best->last_use = ++use_clock_;
  len = best_len;
  return best;
}

void Engine::retain(const Seq& s, std::int64_t slot) {
  if (cache_slots_ <= 0 || s.cached < kMinPrefixReuse) return;
  std::vector<std::int32_t> tokens(s.req.prompt);
  tokens.insert(tokens.end(), s.out.begin(), s.out.begin() + (s.cached - s.prompt_len()));
  // A kept sequence that this one extends (or repeats) is replaced; else a free slot is
  // taken, else the least recently used one.
  Retained* dst = nullptr;
  for (auto& r : retained_) {
    if (r.tokens.size() <= tokens.size() &&
        std::equal(r.tokens.begin(), r.tokens.end(), tokens.begin())) {
      dst = &r;
      break;
    }
  }
  if (!dst && static_cast<std::int64_t>(retained_.size()) < cache_slots_) {
    Retained r;
    r.slot = opts_.max_batch + static_cast<std::int64_t>(retained_.size());
    retained_.push_back(std::move(r));
    dst = &retained_.back();
  }
  if (!dst)
    dst = &*std::min_element(
        retained_.begin(), retained_.end(),
        [](const Retained& a, const Retained& b) { return a.last_use < b.last_use; });
  model_->copy_slot(slot, dst->slot, s.cached);
  dst->tokens = std::move(tokens);
  dst->last_use = ++use_clock_;
}

void Engine::decode() {
  const auto n = static_cast<std::int64_t>(live_.size());
  if (n == 0) return;
  const auto t0 = Clock::now();
  StepBatch batch;
  batch.slot_begin = 0;
  batch.rows = n;
  batch.width = 1;
  batch.tokens.resize(n);
  batch.start_pos.resize(n);
  batch.last.assign(n, 0);
  std::vector<Seq*> seqs(n);
  for (std::int64_t i = 0; i < n; ++i) {
    seqs[i] = live_[i].get();
    batch.tokens[i] = seqs[i]->pending;
    batch.start_pos[i] = seqs[i]->cached;
  }
  torch::Tensor logits = model_->forward(batch);
  for (auto* s : seqs) s->cached += 1;
  sample_rows(logits, seqs);
  stats_.decode_tokens += n;
  stats_.decode_steps += 1;
  stats_.decode_seconds += seconds_since(t0);
}

void Engine::sample_rows(const torch::Tensor& logits, const std::vector<Seq*>& seqs) {
  const auto R = static_cast<std::int64_t>(seqs.size());
  CAI_CHECK(logits.dim() == 2 && logits.size(0) == R && logits.scalar_type() == torch::kFloat,
            "engine: expected logits [{}, V] F32, got {}", R, c10::str(logits.sizes()));
  const auto V = logits.size(1);
  const float* data = logits.data_ptr<float>();
  std::vector<std::int32_t> tokens(R);
  std::vector<float> lps(R, 0.0f);
  std::vector<std::vector<std::pair<std::int32_t, float>>> tops(R);
  // Rows are independent (each has its own random stream), so they can be sampled in parallel.
  auto body = [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t r = b; r < e; ++r) {
      std::span<const float> row(data + r * V, static_cast<std::size_t>(V));
      tokens[r] = sample_token(row, seqs[r]->req.sampling, seqs[r]->rng);
      const auto& sp = seqs[r]->req.sampling;
      if (sp.logprobs) lps[r] = token_logprob(row, tokens[r]);
      if (sp.top_logprobs > 0) tops[r] = top_logprobs(row, sp.top_logprobs);
    }
  };
  if (R > 1)
    at::parallel_for(0, R, 1, body);
  else
    body(0, R);
  for (std::int64_t r = 0; r < R; ++r) on_sampled(*seqs[r], tokens[r], lps[r], std::move(tops[r]));
}

void Engine::on_sampled(Seq& s, std::int32_t token, float logprob,
                        std::vector<std::pair<std::int32_t, float>> top) {
  s.out.push_back(token);
  s.pending = token;
  if (s.req.sampling.logprobs) s.logprobs.push_back(logprob);
  if (s.req.sampling.top_logprobs > 0) s.top.push_back(std::move(top));
  const auto& sp = s.req.sampling;
  const bool is_stop_id =
      !sp.ignore_eos &&
      (eos_.count(token) || std::find(sp.stop_token_ids.begin(), sp.stop_token_ids.end(), token) !=
                                sp.stop_token_ids.end());
  if (is_stop_id) {
    s.done = true, s.reason = FinishReason::stop;
  } else {
    if (token_bytes_ && s.stop.append(token_bytes_(token)))
      s.done = true, s.reason = FinishReason::stop;
  }
  if (!s.done && static_cast<std::int64_t>(s.out.size()) >= s.max_new)
    s.done = true, s.reason = FinishReason::length;
  if (s.req.on_token) {
    TokenEvent ev;
    ev.id = s.id;
    ev.token = token;
    ev.logprob = logprob;
    if (s.req.sampling.top_logprobs > 0) ev.top = s.top.back();
    if (token_bytes_) ev.text = s.done ? s.stop.take_rest() : s.stop.take_ready();
    s.req.on_token(ev);
  }
}

void Engine::retire_finished() {
  // Keep live sequences in slots 0..n-1: a finished one is replaced by the last live one.
  auto retain_last = [&] {
    retain(*live_.back(), static_cast<std::int64_t>(live_.size()) - 1);
    finish(*live_.back());
    live_.pop_back();
  };
  while (!live_.empty() && live_.back()->done) retain_last();
  for (std::size_t i = 0; i < live_.size();) {
    if (!live_[i]->done) {
      ++i;
      continue;
    }
    retain(*live_[i], static_cast<std::int64_t>(i));
    finish(*live_[i]);
    const std::size_t last = live_.size() - 1;
    if (i != last) {
      model_->move_slot(static_cast<std::int64_t>(last), static_cast<std::int64_t>(i),
                        live_[last]->cached);
      live_[i] = std::move(live_[last]);
    }
    live_.pop_back();
    while (!live_.empty() && live_.back()->done) retain_last();
  }
}

void Engine::finish(Seq& s) {
  GenerationResult res;
  res.id = s.id;
  res.tokens = std::move(s.out);
  res.logprobs = std::move(s.logprobs);
  res.top_logprobs = std::move(s.top);
  res.text = s.stop.text();
  res.finish = s.reason;
  res.stop_matched = s.stop.matched();
  res.prompt_tokens = s.prompt_len();
  --pending_;
  if (s.req.on_finish) s.req.on_finish(res);
}

std::vector<GenerationResult> Engine::generate(std::vector<GenerationRequest> requests) {
  std::vector<GenerationResult> results(requests.size());
  for (std::size_t i = 0; i < requests.size(); ++i) {
    auto user = std::move(requests[i].on_finish);
    requests[i].on_finish = [&results, i, user](const GenerationResult& r) {
      results[i] = r;
      if (user) user(r);
    };
    submit(std::move(requests[i]));
  }
  while (step()) {}
  return results;
}

}  // namespace cai
