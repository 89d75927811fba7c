// Precompiled header for the core library and the tools that reuse it: torch's headers dominate
// compile time, so every LibTorch-heavy translation unit shares one parse of them.
#pragma once
#include <torch/torch.h>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>
#include <memory>
