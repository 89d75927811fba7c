#include "fregan/train/distributed.h"

#include <chrono>
#include <cstdlib>
#include <functional>

#include <torch/torch.h>

#include "fregan/log.h"

#ifdef FREGAN_WITH_DISTRIBUTED
#include <torch/version.h>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef FREGAN_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#endif

namespace fregan::train {
namespace {

int env_int(const char* name, int fallback) {
  const char* value = std::getenv(name);
  if (!value || !*value) return fallback;
  char* end = nullptr;
  const long parsed = std::strtol(value, &end, 10);
  require(*end == '\0', std::string("environment variable ") + name + "='" + value + "' is not an integer");
  return static_cast<int>(parsed);
}

}  // namespace

DistributedOptions resolve(const DistributedOptions& requested) {
  DistributedOptions o = requested;
  if (o.world_size <= 0) o.world_size = env_int("WORLD_SIZE", 1);
  if (o.rank < 0) {
    o.rank = env_int("RANK", -1);
    require(o.rank >= 0 || o.world_size == 1,
            "world size " + std::to_string(o.world_size) + " needs this process's rank: pass --rank or set RANK");
    o.rank = std::max(o.rank, 0);
  }
  if (o.local_rank < 0) o.local_rank = env_int("LOCAL_RANK", o.rank);
  if (o.master_addr.empty()) {
    const char* addr = std::getenv("MASTER_ADDR");
    o.master_addr = addr && *addr ? addr : "127.0.0.1";
  }
  if (o.master_port <= 0) o.master_port = env_int("MASTER_PORT", 29500);
  require(o.world_size >= 1, "world size must be >= 1, got " + std::to_string(o.world_size));
  require(o.rank < o.world_size, "rank " + std::to_string(o.rank) + " is outside 0.." +
                                     std::to_string(o.world_size - 1) + " (world size " + std::to_string(o.world_size) +
                                     ")");
  require(o.master_port >= 1 && o.master_port <= 65535,
          "master port must be in 1..65535, got " + std::to_string(o.master_port));
  require(o.backend == "auto" || o.backend == "gloo" || o.backend == "nccl",
          "distributed backend must be auto, gloo or nccl, got '" + o.backend + "'");
  require(o.timeout_seconds > 0, "distributed timeout must be > 0 seconds");
  require(o.bucket_megabytes > 0, "gradient bucket size must be > 0 MB");
  return o;
}

bool distributed_available() {
#ifdef FREGAN_WITH_DISTRIBUTED
  return true;
#else
  return false;
#endif
}

bool nccl_available() {
#ifdef FREGAN_WITH_NCCL
  return true;
#else
  return false;
#endif
}

#ifdef FREGAN_WITH_DISTRIBUTED

// What fregan runs its collectives on.  LibTorch 2.x made ProcessGroupGloo and ProcessGroupNCCL
// backends (c10d::Backend) behind a ProcessGroup that dispatches by device; 1.13's were process
// groups themselves.  fregan talks to the one backend it made, the same calls either way.
#if TORCH_VERSION_MAJOR >= 2
using CollectiveBackend = c10d::Backend;
#else
using CollectiveBackend = c10d::ProcessGroup;
#endif

class DistributedContext::Group {
 public:
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<CollectiveBackend> group;
  // Where the collectives run: the model's device for NCCL, host memory for Gloo (a CUDA model
  // reduced over Gloo goes through copies).
  torch::Device comm_device = torch::kCPU;
};

namespace {

std::string message_of(const std::exception& e) {
  if (const auto* c10_error = dynamic_cast<const c10::Error*>(&e)) return c10_error->what_without_backtrace();
  return e.what();
}

// Why a collective failed, in words a user can act on.
[[noreturn]] void fail(const DistributedOptions& o, const std::string& what, const std::exception& e) {
  char timeout[32];
  std::snprintf(timeout, sizeof timeout, "%g", o.timeout_seconds);
  throw DistributedError("distributed training: rank " + std::to_string(o.rank) + " of " +
                         std::to_string(o.world_size) + " could not " + what +
                         ": another rank died, hangs or cannot be reached (timeout " + timeout +
                         " s, --dist-timeout): " + message_of(e));
}

using Launch = std::function<c10::intrusive_ptr<c10d::Work>(std::vector<torch::Tensor>&)>;

// Runs one collective per flat bucket of `tensors` (consecutive tensors of one dtype, about
// `bucket_bytes` each: few large messages instead of one per tensor), all in flight at once, then
// `finish`es each bucket and copies it back into its tensors.
void run_bucketed(const std::vector<torch::Tensor>& tensors, size_t bucket_bytes, const torch::Device& comm_device,
                  const Launch& launch, const std::function<void(torch::Tensor&)>& finish,
                  const std::function<void(const std::exception&)>& on_error) {
  struct Bucket {
    std::vector<torch::Tensor> members;
    std::vector<torch::Tensor> flat;  // one tensor: c10d takes a vector
    c10::intrusive_ptr<c10d::Work> work;
  };
  std::vector<Bucket> buckets;
  size_t bytes = 0;
  for (const auto& t : tensors) {
    const size_t size = t.numel() * t.element_size();
    if (buckets.empty() || buckets.back().members.front().scalar_type() != t.scalar_type() ||
        bytes + size > bucket_bytes) {
      buckets.emplace_back();
      bytes = 0;
    }
    buckets.back().members.push_back(t);
    bytes += size;
  }
  torch::NoGradGuard no_grad;
  try {
    for (auto& b : buckets) {
      std::vector<torch::Tensor> pieces;
      for (const auto& t : b.members) pieces.push_back(t.detach().reshape(-1));
      b.flat = {torch::cat(pieces).to(comm_device)};
      b.work = launch(b.flat);
    }
    for (auto& b : buckets) {
      b.work->wait();
      finish(b.flat[0]);
      int64_t offset = 0;
      for (auto& t : b.members) {
        t.detach().copy_(b.flat[0].narrow(0, offset, t.numel()).view_as(t));
        offset += t.numel();
      }
    }
  } catch (const DistributedError&) {
    throw;
  } catch (const std::exception& e) {
    on_error(e);
  }
}

}  // namespace

DistributedContext::DistributedContext(const DistributedOptions& options, const torch::Device& device)
    : options_(options) {
  if (!active()) return;
  const auto& o = options_;
  const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(o.timeout_seconds * 1000));
  std::string backend = o.backend;
  if (device.is_cuda()) {
    if (backend == "nccl" && !nccl_available()) {
      throw InvalidArgument(
          "NCCL backend not available in this LibTorch build: pass --dist-backend gloo to reduce "
          "through host memory, or build fregan against a LibTorch with NCCL");
    }
    if (backend == "auto" && !nccl_available()) {
      log::warn(
          "NCCL backend not available in this LibTorch build: reducing CUDA gradients over Gloo through host memory");
    }
    if (backend == "auto") backend = nccl_available() ? "nccl" : "gloo";
  } else {
    require(backend != "nccl",
            "the NCCL backend needs CUDA: the model is on " + device.str() + " (use --dist-backend gloo)");
    backend = "gloo";
  }
  group_ = std::make_unique<Group>();
  const std::string where = o.master_addr + ":" + std::to_string(o.master_port);
  try {
    c10d::TCPStoreOptions store_options;
    store_options.port = static_cast<uint16_t>(o.master_port);
    store_options.isServer = o.rank == 0;
    store_options.numWorkers = o.world_size;
    store_options.waitWorkers = true;
    store_options.timeout = timeout;
    group_->store = c10::make_intrusive<c10d::TCPStore>(o.master_addr, store_options);
#ifdef FREGAN_WITH_NCCL
    if (backend == "nccl") {
      auto nccl_options = c10d::ProcessGroupNCCL::Options::create();
      nccl_options->timeout = timeout;
      group_->group = c10::make_intrusive<c10d::ProcessGroupNCCL>(group_->store, o.rank, o.world_size, nccl_options);
      group_->comm_device = device;
    }
#endif
    if (backend == "gloo") {
      auto gloo_options = c10d::ProcessGroupGloo::Options::create(timeout);
      // GLOO_SOCKET_IFNAME picks the network interface (as in torch.distributed); one machine
      // talks over loopback; otherwise the address this host's name resolves to.
      const char* interface = std::getenv("GLOO_SOCKET_IFNAME");
      const bool loopback = o.master_addr == "localhost" || o.master_addr.rfind("127.", 0) == 0;
      gloo_options->devices.push_back(
          interface && *interface ? c10d::ProcessGroupGloo::createDeviceForInterface(interface)
          : loopback              ? c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1")
                                  : c10d::ProcessGroupGloo::createDefaultDevice());
      gloo_options->threads = 1;  // one collective at a time per step; the cores train
      group_->group = c10::make_intrusive<c10d::ProcessGroupGloo>(group_->store, o.rank, o.world_size, gloo_options);
    }
  } catch (const std::exception& e) {
    fail(o,
         "join the process group at " + where + " (are all " + std::to_string(o.world_size) +
             " ranks started, with the same MASTER_ADDR and MASTER_PORT?)",
         e);
  }
  log::info("rank " + std::to_string(o.rank) + " of " + std::to_string(o.world_size) + " joined the " + backend +
            " process group at " + where);
}

DistributedContext::~DistributedContext() = default;

void DistributedContext::broadcast_module(torch::nn::Module& module) {
  if (!active()) return;
  std::vector<torch::Tensor> tensors = module.parameters(true);
  for (const auto& b : module.buffers(true)) tensors.push_back(b);
  run_bucketed(
      tensors, static_cast<size_t>(options_.bucket_megabytes * (1 << 20)), group_->comm_device,
      [&](std::vector<torch::Tensor>& flat) { return group_->group->broadcast(flat); }, [](torch::Tensor&) {},
      [&](const std::exception& e) { fail(options_, "receive rank 0's initial weights", e); });
}

void DistributedContext::average_gradients(const std::vector<torch::Tensor>& parameters) {
  if (!active()) return;
  std::vector<torch::Tensor> grads;
  for (const auto& p : parameters) {
    if (p.grad().defined()) grads.push_back(p.grad());
  }
  const double world = options_.world_size;
  run_bucketed(
      grads, static_cast<size_t>(options_.bucket_megabytes * (1 << 20)), group_->comm_device,
      [&](std::vector<torch::Tensor>& flat) { return group_->group->allreduce(flat); },
      [world](torch::Tensor& flat) { flat.div_(world); },
      [&](const std::exception& e) { fail(options_, "all-reduce gradients", e); });
}

void DistributedContext::average_buffers(torch::nn::Module& module) {
  if (!active()) return;
  std::vector<torch::Tensor> buffers;
  for (const auto& b : module.buffers(true)) {
    if (b.is_floating_point()) buffers.push_back(b);
  }
  const double world = options_.world_size;
  run_bucketed(
      buffers, static_cast<size_t>(options_.bucket_megabytes * (1 << 20)), group_->comm_device,
      [&](std::vector<torch::Tensor>& flat) { return group_->group->allreduce(flat); },
      [world](torch::Tensor& flat) { flat.div_(world); },
      [&](const std::exception& e) { fail(options_, "average BatchNorm statistics", e); });
}

std::vector<double> DistributedContext::average(const std::vector<double>& values) {
  if (!active() || values.empty()) return values;
  std::vector<torch::Tensor> t{torch::tensor(values, torch::kFloat64).to(group_->comm_device)};
  try {
    group_->group->allreduce(t)->wait();
  } catch (const std::exception& e) {
    fail(options_, "average the losses", e);
  }
  const auto sum = t[0].cpu();
  std::vector<double> out(values.size());
  for (size_t i = 0; i < out.size(); ++i) out[i] = sum[i].item<double>() / options_.world_size;
  return out;
}

bool DistributedContext::any(bool flag) {
  if (!active()) return flag;
  std::vector<torch::Tensor> t{torch::full({1}, flag ? 1.0 : 0.0, torch::kFloat32).to(group_->comm_device)};
  try {
    group_->group->allreduce(t)->wait();
  } catch (const std::exception& e) {
    fail(options_, "agree on stopping", e);
  }
  return t[0].item<double>() > 0;
}

#else  // no c10d in this build: only world size 1

class DistributedContext::Group {};

DistributedContext::DistributedContext(const DistributedOptions& options, const torch::Device&) : options_(options) {
  if (active()) {
    throw InvalidArgument(
        "this fregan was built without distributed training (LibTorch's c10d with Gloo headers: "
        "on Debian install libgloo-dev and rebuild); world size must be 1");
  }
}
DistributedContext::~DistributedContext() = default;
void DistributedContext::broadcast_module(torch::nn::Module&) {}
void DistributedContext::average_gradients(const std::vector<torch::Tensor>&) {}
void DistributedContext::average_buffers(torch::nn::Module&) {}
std::vector<double> DistributedContext::average(const std::vector<double>& values) { return values; }
bool DistributedContext::any(bool flag) { return flag; }

#endif

}  // namespace fregan::train
