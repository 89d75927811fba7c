#pragma once
// Unconditional frame generation with a trained DCGAN: latents of a seed -> frames.  Deterministic:
// frame i of a seed is the same whatever n, batch size or device thread count.
#include <cstdint>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <torch/types.h>

#include "fregan/models/dcgan.h"

namespace fregan::infer {

// The DCGAN checkpoint used when none is named: $FREGAN_DCGAN_WEIGHTS if set, else the shipped
// dcgan-default.pt (beside the installed package, or in the source tree).  Throws FileError when
// none is found.
std::string default_generator_weights_path();

class FrameGenerator {
 public:
  // Loads the generator of a DCGAN checkpoint (empty = default_generator_weights_path()) on
  // `device` ("auto", "cpu", "cuda[:N]").  Throws CheckpointError for a non-DCGAN checkpoint.
  explicit FrameGenerator(const std::string& weights = "", const std::string& device = "auto");

  // Frames [first, first + n) of `seed`: [n, 3, H, W] float RGB in [0, 1] on the CPU, computed in
  // batches of at most `batch_size`.
  torch::Tensor generate(int64_t n, uint64_t seed = 0, int64_t first = 0, int64_t batch_size = 16);
  // The same as 8-bit BGR images (what OpenCV writes).
  std::vector<cv::Mat> generate_images(int64_t n, uint64_t seed = 0, int64_t first = 0);

  int height() const { return options_.height; }
  int width() const { return options_.width; }
  int latent_dim() const { return options_.latent_dim; }
  int64_t step() const { return step_; }  // training steps of the loaded weights
  torch::Device device() const { return device_; }

 private:
  torch::Device device_;
  models::DcganGenerator generator_{nullptr};
  models::DcganGeneratorOptions options_;
  int64_t step_ = 0;
};

}  // namespace fregan::infer
