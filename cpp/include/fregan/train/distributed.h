#pragma once
// Data-parallel training over PyTorch's own c10d process groups (TCPStore rendezvous; Gloo on
// CPU, NCCL on CUDA when this LibTorch build has it).  Every rank holds the whole model, trains on
// its own slice of each global batch, and averages gradients before each optimizer step, so the
// ranks stay identical and the result matches one process trained on the whole batch.
//
// The c10d types stay in distributed.cpp: this header builds with any LibTorch, and a build
// without c10d support (FREGAN_WITH_DISTRIBUTED off) refuses world_size > 1 with a message.
#include <memory>
#include <string>
#include <vector>

#include <torch/types.h>

#include "fregan/error.h"

namespace torch::nn {
class Module;
}

namespace fregan::train {

// A collective that failed: a rank died, hung longer than the timeout, or could not be reached.
class DistributedError : public Error {
 public:
  using Error::Error;
};

// Where a rank is in the job.  The "unset" values (0, -1, "") are taken from the launcher's
// environment (torchrun, a cluster scheduler) by resolve(), else from the single-process defaults.
struct DistributedOptions {
  int world_size = 0;            // processes in the job; $WORLD_SIZE, else 1
  int rank = -1;                 // this process, 0..world_size-1; $RANK, else 0
  int local_rank = -1;           // this process on its machine (picks cuda:N); $LOCAL_RANK, else rank
  std::string master_addr;       // host of rank 0 (runs the TCPStore); $MASTER_ADDR, else 127.0.0.1
  int master_port = 0;           // its port; $MASTER_PORT, else 29500
  std::string backend = "auto";  // auto (NCCL on CUDA, Gloo on CPU), gloo or nccl
  double timeout_seconds = 300;  // a collective (or the rendezvous) waiting longer fails
  double bucket_megabytes = 25;  // gradients are all-reduced in flat buckets of about this size
};

// `requested` with its unset fields filled from the environment and checked.
DistributedOptions resolve(const DistributedOptions& requested);

// Whether this build can run world_size > 1, and with NCCL.
bool distributed_available();
bool nccl_available();

// One rank's membership of a process group.  With world_size 1 every call is a no-op, so the
// trainer calls the same code either way.
class DistributedContext {
 public:
  // Joins the group (blocks until every rank has, up to the timeout).  `device` is where the
  // model lives: NCCL for CUDA when available (else an error, or Gloo through host memory when
  // the backend is "gloo"), Gloo for CPU.  `options` must be resolved.
  DistributedContext(const DistributedOptions& options, const torch::Device& device);
  ~DistributedContext();

  int rank() const { return options_.rank; }
  int world_size() const { return options_.world_size; }
  bool is_main() const { return options_.rank == 0; }
  bool active() const { return options_.world_size > 1; }
  const DistributedOptions& options() const { return options_; }

  // Rank 0's parameters and buffers overwrite every other rank's.
  void broadcast_module(torch::nn::Module& module);
  // Replaces every defined gradient of `parameters` by its mean over the ranks (bucketed).
  void average_gradients(const std::vector<torch::Tensor>& parameters);
  // Replaces the floating-point buffers of `module` (BatchNorm running statistics) by their mean
  // over the ranks; integer buffers (batches tracked) are equal on every rank and kept.
  void average_buffers(torch::nn::Module& module);
  // Means of `values` over the ranks (for logging the losses of the whole batch).
  std::vector<double> average(const std::vector<double>& values);
  // True if `flag` is true on any rank (a stop request seen by one rank stops them all).
  bool any(bool flag);

 private:
  class Group;
  DistributedOptions options_;
  std::unique_ptr<Group> group_;
};

}  // namespace fregan::train
