// Gradient synchronisation for data-parallel training, as PyTorch DDP does it: gradients are
// flattened into buckets (25 MB by default), each bucket is summed over the ranks with one
// all-reduce, and the sums are copied back. Buckets are reduced asynchronously: the next
// bucket is flattened while the previous one is on the wire.
//
// This runs after the step's last backward pass, not inside it: the trainer accumulates
// several micro-batches per step, and libtorch 1.13's C++ API offers no post-accumulation
// hook on a leaf's .grad (DDP uses the autograd engine's internal AccumulateGrad hooks).
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <vector>

#include "cai/dist/dist.h"

namespace cai::dist {

constexpr std::int64_t kDefaultBucketBytes = 25ll << 20;

// Sums the .grad of every tensor in `params` over the ranks of `pg`. A tensor with a gradient
// on some ranks only gets zeros on the others first; one with none anywhere keeps none. Every
// rank must pass the same tensors in the same order.
void all_reduce_grads(ProcessGroup& pg, const std::vector<torch::Tensor>& params,
                      std::int64_t bucket_bytes = kDefaultBucketBytes);

// Copies rank `root`'s values of `params` to every rank (the start of a run, so ranks that
// loaded or initialised weights independently certainly agree).
void broadcast_params(ProcessGroup& pg, const std::vector<torch::Tensor>& params, int root = 0);

}  // namespace cai::dist
