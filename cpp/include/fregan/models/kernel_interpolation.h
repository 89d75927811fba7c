#pragma once
// Kernel-prediction interpolators (the fourth seed): a U-Net over the two frames predicts, for every
// output pixel, a local kernel per input frame; the middle frame is the sum over both frames of the
// frame convolved locally with its kernels (ops/local_conv.h).
//
//  - SepConv (Niklaus et al. 2017, "Video Frame Interpolation via Adaptive Separable Convolution"):
//    four 1D kernels per pixel (vertical and horizontal for each frame); the 2D kernel is their
//    outer product.  K = 51 in the paper.
//  - AdaConv (Niklaus et al. 2017, "... via Adaptive Convolution"): one full K x K kernel per pixel
//    per frame (41 x 41 in the paper), here predicted for all pixels in one fully convolutional pass
//    instead of one network pass per pixel.
//
// Both normalise their kernels with a softmax so the output is a convex combination of input
// pixels (AdaConv's paper does this with a spatial softmax over the two frames' kernels; SepConv's
// paper does not normalise — we do, for stable short CPU training): AdaConv takes one softmax over
// the 2*K*K taps of both frames; SepConv takes a softmax over the 2*K vertical taps of both frames
// (which also sets how much each frame contributes) and one over the K horizontal taps of each
// frame.  The kernels start concentrated on the centre tap (the output starts near the average of the
// frames).
#include <string>

#include <nlohmann/json_fwd.hpp>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

#include "fregan/models/interpolation_net.h"

namespace fregan::models {

// The shared U-Net: `levels` average-pooling steps; at each resolution two 3x3 conv + ReLU layers,
// channels base_channels << level capped at max_channels; the decoder upsamples bilinearly,
// convolves, adds the encoder's features of the same size (skip) and convolves again, back to full
// resolution with base_channels.
struct KernelNetTrunkOptions {
  int base_channels = 16;
  int max_channels = 128;
  int levels = 4;
};

struct SepConvOptions {
  // Length of each 1D kernel, odd; the largest motion the model can follow is about K/2 pixels.
  // The paper uses 51; 25 keeps CPU training and inference fast.
  int kernel_size = 25;
  int base_channels = 16;
  int max_channels = 128;
  int levels = 4;
};

struct AdaConvOptions {
  // Side of each 2D kernel, odd (the paper: 41); the kernel maps hold 2*K*K channels per pixel.
  int kernel_size = 13;
  int base_channels = 16;
  int max_channels = 128;
  int levels = 4;
};

void to_json(nlohmann::json& j, const SepConvOptions& o);
void from_json(const nlohmann::json& j, SepConvOptions& o);
void to_json(nlohmann::json& j, const AdaConvOptions& o);
void from_json(const nlohmann::json& j, AdaConvOptions& o);

class KernelNetTrunkImpl : public torch::nn::Module {
 public:
  explicit KernelNetTrunkImpl(const KernelNetTrunkOptions& options);
  // [B, 6, H, W] (H, W multiples of 2^levels) -> features [B, base_channels, H, W].
  torch::Tensor forward(const torch::Tensor& x);
  int out_channels() const { return options_.base_channels; }

 private:
  KernelNetTrunkOptions options_;
  torch::nn::ModuleList encoder_{nullptr};
  torch::nn::ModuleList decoder_up_{nullptr};
  torch::nn::ModuleList decoder_merge_{nullptr};
};
TORCH_MODULE(KernelNetTrunk);

class SepConvImpl : public InterpolationNetImpl {
 public:
  explicit SepConvImpl(const SepConvOptions& options = {});
  torch::Tensor forward(const torch::Tensor& f0, const torch::Tensor& f2) override;
  int64_t size_multiple() const override { return int64_t{1} << options_.levels; }
  double inference_bytes_per_pixel() const override { return 720; }
  const SepConvOptions& options() const { return options_; }

 private:
  SepConvOptions options_;
  KernelNetTrunk trunk_{nullptr};
  // Kernel logits per pixel: ...0_ for f0, ...1_ for f2.
  torch::nn::Conv2d vertical0_{nullptr}, horizontal0_{nullptr}, vertical1_{nullptr}, horizontal1_{nullptr};
};
TORCH_MODULE(SepConv);

class AdaConvImpl : public InterpolationNetImpl {
 public:
  explicit AdaConvImpl(const AdaConvOptions& options = {});
  torch::Tensor forward(const torch::Tensor& f0, const torch::Tensor& f2) override;
  int64_t size_multiple() const override { return int64_t{1} << options_.levels; }
  // SepConv's figure, plus the 2D kernel per pixel (K^2 floats) its output and its gradient-free
  // application hold.
  double inference_bytes_per_pixel() const override { return 720 + 8.0 * options_.kernel_size * options_.kernel_size; }
  const AdaConvOptions& options() const { return options_; }

 private:
  AdaConvOptions options_;
  KernelNetTrunk trunk_{nullptr};
  torch::nn::Conv2d kernels_{nullptr};  // 2*K*K channels: f0's taps then f2's
};
TORCH_MODULE(AdaConv);

}  // namespace fregan::models
