#pragma once
// CPU or CUDA is chosen at run time: nothing in fregan assumes either.
#include <string>

#include <torch/types.h>

namespace fregan {

// "auto" (CUDA when available, else CPU), "cpu", "cuda" or "cuda:N".
torch::Device select_device(const std::string& name = "auto");

// Sets the number of intra-op threads (<= 0: $OMP_NUM_THREADS, else one per core); returns the
// number in force.
int set_num_threads(int threads);

}  // namespace fregan
