#pragma once
// CPU or CUDA is chosen at run time: nothing in fregan assumes either.
#include <string>

#include <torch/types.h>

namespace fregan {

// "auto" (CUDA when available, else CPU), "cpu", "cuda" or "cuda:N".
torch::Device select_device(const std::string& name = "auto");

// Sets the number of intra-op threads when `threads` > 0; returns the number in force.
int set_num_threads(int threads);

}  // namespace fregan
