// The c10d process group behind cai::dist::ProcessGroup (see include/cai/dist/dist.h). This is
// the only file that includes c10d and Gloo headers; it is compiled with USE_C10D_GLOO (and
// USE_C10D_NCCL where libtorch has NCCL), which c10d's headers need to declare those backends.
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef USE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <exception>

#include "cai/dist/dist.h"
#include "cai/io/error.h"

namespace cai::dist {
namespace {

std::chrono::milliseconds to_ms(double seconds) {
  return std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000.0));
}

bool is_loopback(const std::string& addr) {
  return addr == "localhost" || addr.starts_with("127.") || addr == "::1";
}

}  // namespace

struct ProcessGroup::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroup> pg;
  torch::Device device = torch::kCPU;  // where the backend wants its tensors
};

struct Pending::Impl {
  c10::intrusive_ptr<c10d::Work> work;
  torch::Tensor staged, target;  // a device copy and the tensor it returns to (NCCL from CPU)
  std::string what;
};

Pending::Pending() = default;
Pending::~Pending() = default;
Pending::Pending(Pending&&) noexcept = default;
Pending& Pending::operator=(Pending&&) noexcept = default;

void Pending::wait() {
  if (!impl_ || !impl_->work) return;
  try {
    impl_->work->wait();
  } catch (const std::exception& e) {
    throw Error(impl_->what + ": " + e.what());
  }
  if (impl_->staged.defined()) impl_->target.copy_(impl_->staged);
  impl_->work.reset();
}

ProcessGroup::ProcessGroup(const DistOptions& opts) : opts_(opts), impl_(std::make_unique<Impl>()) {
  opts_.validate();
  if (opts_.world_size == 1) return;
  const std::string where = fmt::format("distributed: rank {} of {}", opts_.rank, opts_.world_size);
  try {
    c10d::TCPStoreOptions so;
    so.port = static_cast<std::uint16_t>(opts_.master_port);
    so.isServer = opts_.rank == 0;
    so.numWorkers = static_cast<std::size_t>(opts_.world_size);
    so.waitWorkers = true;
    so.timeout = to_ms(opts_.timeout_s);
    impl_->store = c10::make_intrusive<c10d::TCPStore>(opts_.master_addr, so);
  } catch (const std::exception& e) {
    throw_error("{}: no rendezvous at {}:{} within {} s: {}", where, opts_.master_addr,
                opts_.master_port, opts_.timeout_s, e.what());
  }
  try {
    if (opts_.device.starts_with("cuda")) {
#ifdef USE_C10D_NCCL
      impl_->device = torch::Device(opts_.device);
      auto o = c10d::ProcessGroupNCCL::Options::create();
      o->timeout = to_ms(opts_.timeout_s);
      impl_->pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(impl_->store, opts_.rank,
                                                              opts_.world_size, o);
      return;
#else
      throw_error(
          "{}: device {} needs c10d's NCCL backend, and this build has Gloo only "
          "(build against a CUDA libtorch with -DCAI_C10D_NCCL=ON)",
          where, opts_.device);
#endif
    }
    auto o = c10d::ProcessGroupGloo::Options::create(to_ms(opts_.timeout_s));
    // On one machine the ranks talk over loopback; across machines Gloo binds the address
    // this host's name resolves to (or GLOO_SOCKET_IFNAME's interface).
    if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"))
      o->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
    else if (is_loopback(opts_.master_addr))
      o->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    else
      o->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    o->threads = 2;
    impl_->pg =
        c10::make_intrusive<c10d::ProcessGroupGloo>(impl_->store, opts_.rank, opts_.world_size, o);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw_error("{}: could not connect the process group: {}", where, e.what());
  }
}

ProcessGroup::~ProcessGroup() = default;

Pending ProcessGroup::all_reduce_async(torch::Tensor& t) {
  Pending p;
  if (size() == 1) return p;
  p.impl_ = std::make_unique<Pending::Impl>();
  p.impl_->what = fmt::format(
      "distributed: rank {} of {}: all-reduce of {} values failed (a peer rank exited, or "
      "none answered within {} s)",
      rank(), size(), t.numel(), opts_.timeout_s);
  std::vector<torch::Tensor> ts{t};
  if (t.device() != impl_->device) {
    p.impl_->staged = t.to(impl_->device);
    p.impl_->target = t;
    ts = {p.impl_->staged};
  }
  try {
    p.impl_->work = impl_->pg->allreduce(ts);
  } catch (const std::exception& e) {
    throw Error(p.impl_->what + ": " + e.what());
  }
  return p;
}

void ProcessGroup::all_reduce_sum(torch::Tensor& t) { all_reduce_async(t).wait(); }

void ProcessGroup::broadcast(torch::Tensor& t, int root) {
  if (size() == 1) return;
  const std::string what = fmt::format(
      "distributed: rank {} of {}: broadcast from rank {} failed (a peer rank exited, or none "
      "answered within {} s)",
      rank(), size(), root, opts_.timeout_s);
  torch::Tensor x = t.device() == impl_->device ? t : t.to(impl_->device);
  std::vector<torch::Tensor> ts{x};
  c10d::BroadcastOptions bo;
  bo.rootRank = root;
  try {
    impl_->pg->broadcast(ts, bo)->wait();
  } catch (const std::exception& e) {
    throw Error(what + ": " + e.what());
  }
  if (!x.is_same(t)) t.copy_(x);
}

std::vector<torch::Tensor> ProcessGroup::all_gather(const torch::Tensor& t) {
  CAI_CHECK(t.dim() == 1, "all_gather: expected a 1-D tensor, got {} dims", t.dim());
  if (size() == 1) return {t.clone()};
  // Lengths first, then every rank's tensor padded to the longest.
  std::vector<std::int64_t> lengths(static_cast<std::size_t>(size()), 0);
  {
    auto all = torch::zeros({size()}, torch::kInt64);
    all[rank()] = t.numel();
    all_reduce_sum(all);
    for (int r = 0; r < size(); ++r)
      lengths[static_cast<std::size_t>(r)] = all[r].item<std::int64_t>();
  }
  const std::int64_t longest = *std::max_element(lengths.begin(), lengths.end());
  if (longest == 0) return std::vector<torch::Tensor>(static_cast<std::size_t>(size()), t.clone());
  auto padded = torch::zeros({longest}, t.options().device(impl_->device));
  padded.narrow(0, 0, t.numel()).copy_(t);
  std::vector<std::vector<torch::Tensor>> out(1);
  for (int r = 0; r < size(); ++r) out[0].push_back(torch::empty_like(padded));
  std::vector<torch::Tensor> in{padded};
  try {
    impl_->pg->allgather(out, in)->wait();
  } catch (const std::exception& e) {
    throw_error(
        "distributed: rank {} of {}: all-gather failed (a peer rank exited, or none answered "
        "within {} s): {}",
        rank(), size(), opts_.timeout_s, e.what());
  }
  std::vector<torch::Tensor> result;
  for (int r = 0; r < size(); ++r)
    result.push_back(out[0][static_cast<std::size_t>(r)]
                         .narrow(0, 0, lengths[static_cast<std::size_t>(r)])
                         .to(t.device()));
  return result;
}

void ProcessGroup::barrier() {
  auto one = torch::ones({1}, torch::kFloat32);
  all_reduce_sum(one);  // a barrier with the collectives' timeout and error messages
}

}  // namespace cai::dist
