#pragma once
// SIN-GAN (the second seed): a U-Net generator over the two frames stacked as 6 channels, trained
// with L1 + MS-SSIM + clipping losses and a conditional discriminator that sees (F1, middle, F3);
// optionally followed by a small refinement network (RN-GAN) that corrects the colour of the
// U-Net's MS-SSIM-driven output.
//
// Resolution inside the generator (works at ANY input size, so size_multiple() == 1):
//   C block i (i = 1..4) runs at the resolution it is given and its output is kept as skip i;
//   a 2x2 max pooling (ceil mode: an odd side of n gives (n + 1) / 2, no pixel dropped) follows
//   every C block, so skip i is at 1/2^(i-1) of the input and the bottleneck (pooled C4) at 1/16.
//   D block j (j = 1..4, in forward order) pairs with skip 5 - j: it resizes its input bilinearly
//   to the EXACT size of that skip, concatenates the skip, and runs its conv pair there.  So D1
//   works at 1/8, D2 at 1/4, D3 at 1/2 and D4 at full resolution, and because every resize targets
//   a size that was measured rather than computed, 97x131 or 1x1 line up as well as 256x256.
//   This is the issue's "i-th C block stacked with the (j-1)-th D block's output as the input of
//   the j-th D block, counting from the ends toward the middle", with the pooled C4 output as the
//   "0-th D block".
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

#include "fregan/models/interpolation_net.h"

namespace fregan::models {

struct SinGanGeneratorOptions {
  // Filters of the C blocks (conv-BN-LReLU twice, 3x3) and of the D blocks (bilinear resize to the
  // skip's size, concatenation, conv-BN-LReLU twice, dropout).  The seed: C32-C64-C64-C128 and
  // D128-D64-D64-D32.  Both lists must have the same length (the number of pooling levels).
  std::vector<int> encoder_channels = {32, 64, 64, 128};
  std::vector<int> decoder_channels = {128, 64, 64, 32};
  // Kernel sizes; the seed uses 3 in the C blocks and 4 in the D blocks ("same" padding, the
  // extra row/column of an even kernel on the bottom/right as PyTorch does).
  int encoder_kernel = 3;
  int decoder_kernel = 4;
  double leaky_slope = 0.2;
  // Dropout after the last LReLU of every D block (training only), as in the seed / pix2pix.
  double dropout = 0.5;
  // How the head's 3 channels become the frame:
  //  "residual": (F1 + F3) / 2 + head, the head zero-initialised so the untrained model IS the
  //              frame average; training only has to learn the correction (on a CPU budget of
  //              a few hundred steps this is the difference between a blurry colour cast and a
  //              model at or above the average baseline);
  //  "direct":   head alone, as in the seed (an unbounded linear output, which is why the seed
  //              has the clipping loss).
  // Neither is squashed: the clipping loss keeps the output in [0, 1], the Interpolator clamps.
  std::string output = "residual";
  int head_kernel = 3;
  // RN-GAN: a small conv net (3x3 convs with refine_channels filters, LReLU between) that sees the
  // U-Net output with F1 and F3 and adds a correction to it (zero-initialised: it starts as the
  // identity).  When on, intermediate_outputs() returns the U-Net output so it keeps its own
  // supervision (GeneratorLossWeights::intermediate).
  bool refine = false;
  int refine_channels = 32;
  int refine_layers = 3;
};

struct SinGanDiscriminatorOptions {
  // Conv 4x4 stride 2 (+ BN + LReLU) blocks over (F1, middle, F3) stacked as 9 channels, then a
  // final conv 4x4 stride 2 to one channel without BN or activation; its map is averaged into one
  // logit.  The seed: C8-C16-C32-C64-C1.  Inputs must be at least 2^(blocks + 1) pixels a side.
  std::vector<int> channels = {8, 16, 32, 64};
  double leaky_slope = 0.2;
};

// JSON with the field names as keys (strict: unknown keys are errors).
void to_json(nlohmann::json& j, const SinGanGeneratorOptions& o);
void from_json(const nlohmann::json& j, SinGanGeneratorOptions& o);
void to_json(nlohmann::json& j, const SinGanDiscriminatorOptions& o);
void from_json(const nlohmann::json& j, SinGanDiscriminatorOptions& o);

class SinGanGeneratorImpl : public InterpolationNetImpl {
 public:
  explicit SinGanGeneratorImpl(const SinGanGeneratorOptions& options = {});
  torch::Tensor forward(const torch::Tensor& f0, const torch::Tensor& f2) override;
  int64_t size_multiple() const override { return 1; }  // see the file comment
  double inference_bytes_per_pixel() const override { return 1540; }
  // The U-Net output of the last forward() when refine is on; empty otherwise.
  std::vector<torch::Tensor> intermediate_outputs() const override { return intermediate_; }

  // forward() with its feature maps, for tests and inspection.
  struct Features {
    std::vector<torch::Tensor> skips;    // the C blocks' outputs, full resolution first
    std::vector<torch::Tensor> decoded;  // the D blocks' outputs, in forward order
    torch::Tensor unet;                  // the U-Net's frame (before refinement)
    torch::Tensor output;                // the final frame (== unet without refinement)
  };
  Features forward_features(const torch::Tensor& f0, const torch::Tensor& f2);
  const SinGanGeneratorOptions& options() const { return options_; }

 private:
  SinGanGeneratorOptions options_;
  torch::nn::ModuleList encoder_{nullptr};
  torch::nn::ModuleList decoder_{nullptr};
  torch::nn::Conv2d head_{nullptr};
  torch::nn::Sequential refiner_{nullptr};
  std::vector<torch::Tensor> intermediate_;
};
TORCH_MODULE(SinGanGenerator);

class SinGanDiscriminatorImpl : public FrameDiscriminatorImpl {
 public:
  explicit SinGanDiscriminatorImpl(const SinGanDiscriminatorOptions& options = {});
  torch::Tensor forward(const torch::Tensor& f0, const torch::Tensor& middle, const torch::Tensor& f2) override;
  const SinGanDiscriminatorOptions& options() const { return options_; }

 private:
  SinGanDiscriminatorOptions options_;
  torch::nn::Sequential body_{nullptr};
};
TORCH_MODULE(SinGanDiscriminator);

}  // namespace fregan::models
