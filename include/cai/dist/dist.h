// Data-parallel processes on PyTorch's own distributed engine, c10d: ranks meet through a
// TCPStore (rank 0 hosts it at MASTER_ADDR:MASTER_PORT) and talk through a process group
// (Gloo over TCP on CPU; NCCL when built against a CUDA libtorch with c10d's NCCL backend).
// This header keeps c10d and Gloo out of its users: ProcessGroup is an opaque handle.
//
// One process group per process, like torch.distributed's default group: the CLI calls
// init_world() once from the environment torchrun or Slurm set, and the trainer asks world().
// Without init_world(), world() is a group of one whose collectives return their input.
//
// Failure: every collective waits at most `timeout_s`; a peer that exits or hangs makes the
// others throw cai::Error naming their rank and the operation, never wait forever.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace cai::dist {

// Where this process stands among the job's ranks.
struct DistOptions {
  int rank = 0;        // 0 .. world_size-1; rank 0 hosts the rendezvous store
  int world_size = 1;  // processes in the job
  int local_rank = 0;  // rank among the processes of this machine (its GPU index)
  std::string master_addr = "127.0.0.1";  // rank 0's address
  int master_port = 29500;                // the rendezvous store's TCP port on rank 0
  double timeout_s = 300.0;               // longest wait of a rendezvous or a collective, seconds
  std::string device = "cpu";             // "cpu" (Gloo) or "cuda:N" (NCCL where built with it)
  void validate() const;                  // throws cai::Error naming the field
};

// Reads RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT (torchrun's names), falling
// back to SLURM_PROCID, SLURM_NTASKS and SLURM_LOCALID. Without RANK/WORLD_SIZE or SLURM_*, a
// single process (world_size 1). `get` reads one variable (nullptr when unset); the default reads
// the process environment. Throws cai::Error naming the variable when one is malformed.
using GetEnv = std::function<const char*(const char*)>;
DistOptions options_from_env(const GetEnv& get = {});

// A collective in flight (see ProcessGroup::all_reduce_async).
class Pending {
 public:
  Pending();
  ~Pending();
  Pending(Pending&&) noexcept;
  Pending& operator=(Pending&&) noexcept;
  void wait();  // throws cai::Error when the collective failed or timed out

 private:
  friend class ProcessGroup;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class ProcessGroup {
 public:
  // Rendezvous with the other ranks (blocks until all `world_size` have joined, at most the
  // timeout). world_size 1 needs no network.
  explicit ProcessGroup(const DistOptions& opts);
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int rank() const { return opts_.rank; }
  int size() const { return opts_.world_size; }
  const DistOptions& options() const { return opts_; }

  // In place: every rank's tensor becomes the element-wise sum over ranks.
  void all_reduce_sum(torch::Tensor& t);
  Pending all_reduce_async(torch::Tensor& t);
  // In place: every rank's tensor becomes rank `root`'s.
  void broadcast(torch::Tensor& t, int root = 0);
  // Every rank's 1-D tensor, in rank order (the tensors may differ in length).
  std::vector<torch::Tensor> all_gather(const torch::Tensor& t);
  void barrier();

 private:
  struct Impl;
  DistOptions opts_;
  std::unique_ptr<Impl> impl_;
};

// The process's group: a group of one until init_world().
ProcessGroup& world();
// Joins the job `opts` describes and makes it world(). Once per process; throws when called
// again.
void init_world(const DistOptions& opts);

// Conveniences over world() for plain values.
double all_reduce_sum(double v);
bool all_true(bool v);  // true when every rank passes true
std::string broadcast_string(const std::string& s, int root = 0);
bool is_main();  // rank 0: the one that writes files and logs
// Sums named values over the ranks, in place. Rank 0's names decide: the others' values for
// them are added (0 where a rank lacks one) and names only they hold are dropped.
void all_reduce_sums(std::map<std::string, double>& sums);

// Example range [begin, end) of `rank` among `world` ranks when n items are shared out:
// contiguous, the first n % world ranks one longer, so rank 0 holds items whenever n > 0.
std::pair<std::int64_t, std::int64_t> shard(std::int64_t n, int rank, int world);

}  // namespace cai::dist
