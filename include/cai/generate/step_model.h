// What the generation engine needs from a model: feed right-padded rows of tokens into
// cache slots and get logits back only where asked. LlamaModel + KVCache implement it; tests
// can substitute a model-free fake to check the scheduler on its own.
//
// Shape legend: B = rows (cache slots slot_begin..slot_begin+B-1), T = tokens per row,
// R = rows that asked for logits, V = vocabulary.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <vector>

namespace cai {

class LlamaModel;

struct StepBatch {
  std::int64_t slot_begin = 0;
  std::int64_t rows = 0;                // B
  std::int64_t width = 0;               // T
  std::vector<std::int64_t> tokens;     // [B*T], row-major, right padded (any id)
  std::vector<std::int64_t> start_pos;  // [B] cache position of each row's first token
  std::vector<std::int64_t> last;       // [B] position 0..T-1 whose logits are wanted, -1: none
};

class StepModel {
 public:
  virtual ~StepModel() = default;
  virtual std::int64_t vocab_size() const = 0;
  virtual std::int64_t max_batch() const = 0;  // cache slots
  virtual std::int64_t max_len() const = 0;    // positions per slot
  // Writes the batch's tokens into the cache and returns logits [R, V] F32 contiguous for the
  // rows whose `last` >= 0, in row order.
  virtual torch::Tensor forward(const StepBatch& batch) = 0;
  // Copies the first `len` cached positions of slot `from` into slot `to`.
  virtual void move_slot(std::int64_t from, std::int64_t to, std::int64_t len) = 0;
  // Like move_slot, but slot `from` must stay intact (the prefix cache reads it again). The
  // default calls move_slot, which is right for models whose move_slot copies.
  virtual void copy_slot(std::int64_t from, std::int64_t to, std::int64_t len) {
    move_slot(from, to, len);
  }
};

// A LlamaModel with its own KVCache of `max_batch` slots by `max_len` positions. The model
// must outlive the returned object.
std::unique_ptr<StepModel> make_llama_step_model(LlamaModel& model, std::int64_t max_batch,
                                                 std::int64_t max_len);

}  // namespace cai
