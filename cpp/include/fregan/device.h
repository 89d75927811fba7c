#pragma once
// CPU or CUDA is chosen at run time: nothing in fregan assumes either.
#include <cstdint>
#include <string>

#include <torch/types.h>

namespace fregan {

// "auto" (CUDA when available, else CPU), "cpu", "cuda" or "cuda:N".
torch::Device select_device(const std::string& name = "auto");

// Sets the number of intra-op threads (<= 0: $OMP_NUM_THREADS, else one per core); returns the
// number in force.
int set_num_threads(int threads);

// How many threads one of fregan's own parallel loops (at::parallel_for in fregan's sources: the
// image/tensor conversions, warping, fregan-flow's renderer) runs on from this thread, counted by
// running one.  1 where the intra-op thread count is 1, and also, wrongly, in a build whose
// sources were not compiled with the OpenMP that ATen's parallel_for needs (a test checks).
int native_loop_threads();

// Caps the threads of the parallel loops started from the calling thread only (OpenMP's per-thread
// setting), leaving torch's shared setting alone: for threads that run beside others which already
// use every core.  A no-op where ATen's backend is not OpenMP.
void set_loop_threads_of_this_thread(int threads);

// Memory this process may still take, in bytes: the system's available memory (MemAvailable),
// lowered to what a cgroup limit leaves (containers, Colab).  FREGAN_MEMORY_LIMIT_BYTES overrides
// it (tests, or a user who wants fregan to stay below a budget).
int64_t available_memory_bytes();

}  // namespace fregan
