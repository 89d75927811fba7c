#pragma once
// FREGAN (the first seed): an encoder-decoder generator over the two frames stacked as 6 channels,
// and a BatchNorm CNN discriminator scoring single frames.
#include <string>

#include <nlohmann/json_fwd.hpp>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

#include "fregan/models/interpolation_net.h"

namespace fregan::models {

struct FreganGeneratorOptions {
  // Channels of the first down block; doubled at every level and capped at max_channels.
  int base_channels = 32;
  int max_channels = 256;
  // Down blocks (Conv 4x4 stride 2 -> BN -> LeakyReLU), each halving H and W; the up blocks
  // (2x upsampling -> BN -> ReLU) mirror them.  Inputs must be multiples of 2^levels.
  int levels = 4;
  // How the up blocks upsample:
  //  "transposed": ConvTranspose2d 4x4 stride 2, as in the seed;
  //  "subpixel":   Conv2d 3x3 to 4x the channels, then PixelShuffle(2).  Every ConvTranspose2d
  //                (4, 2, 1) is one of these (same 3x3 input neighbourhood per output pixel), and
  //                on CPU builds of torch without MKL (Debian's) it runs ~14x faster.
  std::string upsampling = "subpixel";
  double leaky_slope = 0.2;
  // U-Net skips from each down block to the up block of the same size.  The seed has none; they
  // keep the detail a pure bottleneck loses.  false reproduces the seed's plain encoder-decoder.
  bool skip_connections = true;
  // true: output = (F0 + F2) / 2 + tanh(head), a correction of the average frame (trains much
  // faster).  false: output = sigmoid(head), synthesised from scratch as in the seed.
  bool predict_residual = true;
};

struct FreganDiscriminatorOptions {
  // Conv 4x4 stride 2 -> BN -> LeakyReLU blocks (no BN on the first), channels doubling from
  // base_channels up to max_channels, then a 3x3 conv to one logit map averaged into one logit.
  int base_channels = 32;
  int max_channels = 256;
  int levels = 4;
  double leaky_slope = 0.2;
};

// JSON with the field names as keys (strict: unknown keys are errors).
void to_json(nlohmann::json& j, const FreganGeneratorOptions& o);
void from_json(const nlohmann::json& j, FreganGeneratorOptions& o);
void to_json(nlohmann::json& j, const FreganDiscriminatorOptions& o);
void from_json(const nlohmann::json& j, FreganDiscriminatorOptions& o);

class FreganGeneratorImpl : public InterpolationNetImpl {
 public:
  explicit FreganGeneratorImpl(const FreganGeneratorOptions& options = {});
  torch::Tensor forward(const torch::Tensor& f0, const torch::Tensor& f2) override;
  int64_t size_multiple() const override { return int64_t{1} << options_.levels; }
  double inference_bytes_per_pixel() const override { return 520; }
  const FreganGeneratorOptions& options() const { return options_; }

 private:
  FreganGeneratorOptions options_;
  torch::nn::ModuleList down_{nullptr};
  torch::nn::ModuleList up_{nullptr};
  torch::nn::Conv2d head_{nullptr};
};
TORCH_MODULE(FreganGenerator);

class FreganDiscriminatorImpl : public FrameDiscriminatorImpl {
 public:
  explicit FreganDiscriminatorImpl(const FreganDiscriminatorOptions& options = {});
  torch::Tensor forward(const torch::Tensor& f0, const torch::Tensor& middle, const torch::Tensor& f2) override;
  const FreganDiscriminatorOptions& options() const { return options_; }

 private:
  FreganDiscriminatorOptions options_;
  torch::nn::Sequential body_{nullptr};
};
TORCH_MODULE(FreganDiscriminator);

}  // namespace fregan::models
