#include "fregan/device.h"

#include <algorithm>
#include <cstdlib>
#include <thread>

#include <torch/cuda.h>
#include <ATen/Parallel.h>

#include "fregan/error.h"

namespace fregan {

torch::Device select_device(const std::string& name) {
  if (name.empty() || name == "auto") {
    return torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
  }
  if (name == "cpu") return torch::Device(torch::kCPU);
  if (name.rfind("cuda", 0) == 0) {
    if (!torch::cuda::is_available()) {
      throw InvalidArgument("device '" + name + "' requested but CUDA is not available in this build/machine; use --device cpu or auto");
    }
    try {
      return torch::Device(name);
    } catch (const std::exception&) {
      throw InvalidArgument("bad device '" + name + "': expected auto, cpu, cuda or cuda:N");
    }
  }
  throw InvalidArgument("bad device '" + name + "': expected auto, cpu, cuda or cuda:N");
}

int set_num_threads(int threads) {
  // Some torch builds (Debian's) start with one intra-op thread: default to OMP_NUM_THREADS if
  // set, else every core.
  if (threads <= 0) {
    const char* env = std::getenv("OMP_NUM_THREADS");
    threads = env ? std::atoi(env) : 0;
    if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  }
  at::set_num_threads(threads);
  return at::get_num_threads();
}

}  // namespace fregan
