// Bucketed gradient all-reduce and parameter broadcast (see include/cai/dist/grad_sync.h).
#include "cai/dist/grad_sync.h"

#include <torch/torch.h>

#include "cai/io/error.h"

namespace cai::dist {
namespace {

struct Bucket {
  std::vector<torch::Tensor> grads;
  torch::Tensor flat;
  Pending pending;
};

// Consecutive tensors of one dtype and device, at most `bucket_bytes` each (a larger tensor
// gets a bucket of its own).
template <typename Get>
std::vector<std::vector<torch::Tensor>> group(const std::vector<torch::Tensor>& params, Get get,
                                              std::int64_t bucket_bytes) {
  std::vector<std::vector<torch::Tensor>> out;
  std::int64_t bytes = 0;
  for (const auto& p : params) {
    torch::Tensor t = get(p);
    const std::int64_t b = t.numel() * static_cast<std::int64_t>(t.element_size());
    const bool fits = !out.empty() && bytes + b <= bucket_bytes &&
                      out.back().front().scalar_type() == t.scalar_type() &&
                      out.back().front().device() == t.device();
    if (!fits) {
      out.emplace_back();
      bytes = 0;
    }
    out.back().push_back(t);
    bytes += b;
  }
  return out;
}

torch::Tensor flatten(const std::vector<torch::Tensor>& ts) {
  std::vector<torch::Tensor> views;
  for (const auto& t : ts) views.push_back(t.reshape({-1}));
  return torch::cat(views);
}

void unflatten(const torch::Tensor& flat, std::vector<torch::Tensor>& ts) {
  std::int64_t at = 0;
  for (auto& t : ts) {
    t.copy_(flat.narrow(0, at, t.numel()).view_as(t));
    at += t.numel();
  }
}

}  // namespace

void all_reduce_grads(ProcessGroup& pg, const std::vector<torch::Tensor>& params,
                      std::int64_t bucket_bytes) {
  if (pg.size() == 1 || params.empty()) return;
  CAI_CHECK(bucket_bytes > 0, "all_reduce_grads: bucket_bytes must be > 0, got {}", bucket_bytes);
  torch::NoGradGuard no_grad;
  // Which tensors have a gradient on some rank: those get one everywhere (zeros where a
  // rank's micro-batches never reached them); the rest stay without, as in one process.
  auto has = torch::zeros({static_cast<std::int64_t>(params.size())}, torch::kFloat32);
  for (std::size_t i = 0; i < params.size(); ++i)
    if (params[i].grad().defined()) has[static_cast<std::int64_t>(i)] = 1.0f;
  pg.all_reduce_sum(has);
  std::vector<torch::Tensor> synced;
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (has[static_cast<std::int64_t>(i)].item<float>() == 0.0f) continue;
    torch::Tensor p = params[i];
    if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
    synced.push_back(p);
  }
  auto grad_of = [](const torch::Tensor& p) { return p.grad(); };
  std::vector<Bucket> buckets;
  for (auto& g : group(synced, grad_of, bucket_bytes)) {
    Bucket b;
    b.grads = std::move(g);
    b.flat = flatten(b.grads);
    b.pending = pg.all_reduce_async(b.flat);
    buckets.push_back(std::move(b));
  }
  for (auto& b : buckets) {
    b.pending.wait();
    unflatten(b.flat, b.grads);
  }
}

void broadcast_params(ProcessGroup& pg, const std::vector<torch::Tensor>& params, int root) {
  if (pg.size() == 1 || params.empty()) return;
  torch::NoGradGuard no_grad;
  for (auto& ts : group(
           params, [](const torch::Tensor& p) { return p; }, kDefaultBucketBytes)) {
    torch::Tensor flat = flatten(ts);
    pg.broadcast(flat, root);
    unflatten(flat, ts);
  }
}

}  // namespace cai::dist
