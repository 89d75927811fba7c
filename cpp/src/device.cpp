#include "fregan/device.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>

#include <unistd.h>

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
      throw InvalidArgument("device '" + name +
                            "' requested but CUDA is not available in this build/machine; use --device cpu or auto");
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

namespace {

// The first number after `key` in a /proc or /sys file, or -1.
int64_t read_number(const std::string& path, const std::string& key = "") {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (!key.empty() && line.rfind(key, 0) != 0) continue;
    const auto start = line.find_first_of("0123456789", key.size());
    if (start == std::string::npos) return -1;
    return std::stoll(line.substr(start));
  }
  return -1;
}

}  // namespace

int64_t available_memory_bytes() {
  if (const char* env = std::getenv("FREGAN_MEMORY_LIMIT_BYTES")) return std::max<int64_t>(0, std::atoll(env));
  int64_t available = read_number("/proc/meminfo", "MemAvailable:");
  if (available >= 0) {
    available *= 1024;  // kB
  } else {
    available = static_cast<int64_t>(sysconf(_SC_AVPHYS_PAGES)) * sysconf(_SC_PAGESIZE);
  }
  // cgroup v2 ("max" when unlimited reads as -1 here), then v1.
  for (const auto& [limit_path, usage_path] :
       {std::pair<std::string, std::string>{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"},
        {"/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"}}) {
    const int64_t limit = read_number(limit_path), usage = read_number(usage_path);
    if (limit > 0 && usage >= 0 && limit < (int64_t{1} << 60))
      available = std::min(available, std::max<int64_t>(0, limit - usage));
  }
  return available;
}

}  // namespace fregan
