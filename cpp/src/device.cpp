#include "fregan/device.h"

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <set>
#include <thread>

#include <torch/cuda.h>
#include <ATen/Parallel.h>

#include "fregan/error.h"

#ifdef _OPENMP
#include <omp.h>
#endif

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

int native_loop_threads() {
  std::mutex mutex;
  std::set<std::thread::id> ids;
  at::parallel_for(0, 1024, 1, [&](int64_t, int64_t) {
    std::lock_guard<std::mutex> lock(mutex);
    ids.insert(std::this_thread::get_id());
  });
  return static_cast<int>(ids.size());
}

void set_loop_threads_of_this_thread(int threads) {
#ifdef _OPENMP
  omp_set_num_threads(std::max(1, threads));
#else
  (void)threads;
#endif
}

}  // namespace fregan
