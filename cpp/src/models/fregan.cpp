#include "fregan/models/fregan.h"

#include <algorithm>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "fregan/error.h"
#include "fregan/options_json.h"

namespace fregan::models {
namespace nn = torch::nn;

FREGAN_DEFINE_OPTIONS_JSON(FreganGeneratorOptions, "fregan generator", base_channels, max_channels, levels, upsampling,
                           leaky_slope, skip_connections, predict_residual)
FREGAN_DEFINE_OPTIONS_JSON(FreganDiscriminatorOptions, "fregan discriminator", base_channels, max_channels, levels,
                           leaky_slope)

namespace {

int channels_at(int level, int base, int cap) { return std::min(base << level, cap); }

nn::Sequential down_block(int in, int out, double slope) {
  return nn::Sequential(nn::Conv2d(nn::Conv2dOptions(in, out, 4).stride(2).padding(1).bias(false)),
                        nn::BatchNorm2d(out), nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(slope)));
}

nn::Sequential up_block(int in, int out, const std::string& upsampling) {
  if (upsampling == "transposed") {
    return nn::Sequential(nn::ConvTranspose2d(nn::ConvTranspose2dOptions(in, out, 4).stride(2).padding(1).bias(false)),
                          nn::BatchNorm2d(out), nn::ReLU());
  }
  return nn::Sequential(nn::Conv2d(nn::Conv2dOptions(in, 4 * out, 3).padding(1).bias(false)),
                        nn::PixelShuffle(nn::PixelShuffleOptions(2)), nn::BatchNorm2d(out), nn::ReLU());
}

}  // namespace

FreganGeneratorImpl::FreganGeneratorImpl(const FreganGeneratorOptions& o) : options_(o) {
  require(o.levels >= 1 && o.levels <= 8, "fregan generator: levels must be in 1..8, got " + std::to_string(o.levels));
  require(o.base_channels >= 1 && o.max_channels >= o.base_channels,
          "fregan generator: need 1 <= base_channels <= max_channels");
  require(o.upsampling == "subpixel" || o.upsampling == "transposed",
          "fregan generator: upsampling must be 'subpixel' or 'transposed', got '" + o.upsampling + "'");
  down_ = register_module("down", nn::ModuleList());
  up_ = register_module("up", nn::ModuleList());
  int in = 6;
  for (int l = 0; l < o.levels; ++l) {
    const int out = channels_at(l, o.base_channels, o.max_channels);
    down_->push_back(down_block(in, out, o.leaky_slope));
    in = out;
  }
  // Up block l takes level l+1's features (concatenated with down block l+1's output when
  // skipping, except at the bottom) and returns level l's resolution with channels_at(l-1).
  for (int l = o.levels - 1; l >= 0; --l) {
    const int from = channels_at(l, o.base_channels, o.max_channels);
    const int in_ch = (o.skip_connections && l != o.levels - 1) ? 2 * from : from;
    const int out = channels_at(std::max(l - 1, 0), o.base_channels, o.max_channels);
    up_->push_back(up_block(in_ch, out, o.upsampling));
  }
  const int head_in = channels_at(0, o.base_channels, o.max_channels) + (o.skip_connections ? 6 : 0);
  head_ = register_module("head", nn::Conv2d(nn::Conv2dOptions(head_in, 3, 3).padding(1)));
  if (o.predict_residual) {
    // Start as the average of the two frames (a zero correction): training only has to improve on
    // that baseline instead of first climbing up to it from noise.
    torch::NoGradGuard no_grad;
    head_->weight.zero_();
    head_->bias.zero_();
  }
}

torch::Tensor FreganGeneratorImpl::forward(const torch::Tensor& f0, const torch::Tensor& f2) {
  TORCH_CHECK(f0.dim() == 4 && f0.size(1) == 3 && f0.sizes() == f2.sizes(),
              "fregan generator expects two [B, 3, H, W] frames of the same size, got ", f0.sizes(), " and ",
              f2.sizes());
  const int64_t m = size_multiple();
  TORCH_CHECK(f0.size(2) % m == 0 && f0.size(3) % m == 0, "fregan generator: H and W must be multiples of ", m,
              " (2^levels), got ", f0.size(2), "x", f0.size(3), "; the Interpolator pads for you");
  const torch::Tensor input = torch::cat({f0, f2}, 1).mul(2.0).sub(1.0);  // [-1, 1]
  std::vector<torch::Tensor> skips;
  torch::Tensor x = input;
  for (const auto& block : *down_) {
    x = block->as<nn::Sequential>()->forward(x);
    skips.push_back(x);
  }
  for (size_t i = 0; i < up_->size(); ++i) {
    if (options_.skip_connections && i > 0) x = torch::cat({x, skips[skips.size() - 1 - i]}, 1);
    x = up_[i]->as<nn::Sequential>()->forward(x);
  }
  if (options_.skip_connections) x = torch::cat({x, input}, 1);
  x = head_->forward(x);
  if (options_.predict_residual) return (f0 + f2).mul(0.5) + torch::tanh(x);
  return torch::sigmoid(x);
}

FreganDiscriminatorImpl::FreganDiscriminatorImpl(const FreganDiscriminatorOptions& o) : options_(o) {
  require(o.levels >= 1 && o.levels <= 8, "fregan discriminator: levels must be in 1..8");
  require(o.base_channels >= 1 && o.max_channels >= o.base_channels,
          "fregan discriminator: need 1 <= base_channels <= max_channels");
  body_ = register_module("body", nn::Sequential());
  int in = 3;
  for (int l = 0; l < o.levels; ++l) {
    const int out = channels_at(l, o.base_channels, o.max_channels);
    body_->push_back(nn::Conv2d(nn::Conv2dOptions(in, out, 4).stride(2).padding(1).bias(l == 0)));
    if (l > 0) body_->push_back(nn::BatchNorm2d(out));
    body_->push_back(nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(o.leaky_slope)));
    in = out;
  }
  body_->push_back(nn::Conv2d(nn::Conv2dOptions(in, 1, 3).padding(1)));
}

torch::Tensor FreganDiscriminatorImpl::forward(const torch::Tensor&, const torch::Tensor& middle,
                                               const torch::Tensor&) {
  TORCH_CHECK(middle.dim() == 4 && middle.size(1) == 3, "fregan discriminator expects [B, 3, H, W], got ",
              middle.sizes());
  return body_->forward(middle.mul(2.0).sub(1.0)).mean({1, 2, 3});
}

}  // namespace fregan::models
