#include "fregan/models/sin_gan.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "fregan/error.h"
#include "fregan/options_json.h"

namespace fregan::models {
namespace nn = torch::nn;
namespace F = torch::nn::functional;

FREGAN_DEFINE_OPTIONS_JSON(SinGanGeneratorOptions, "sin-gan generator", encoder_channels, decoder_channels,
                           encoder_kernel, decoder_kernel, leaky_slope, dropout, output, head_kernel, refine,
                           refine_channels, refine_layers)
FREGAN_DEFINE_OPTIONS_JSON(SinGanDiscriminatorOptions, "sin-gan discriminator", channels, leaky_slope)

namespace {

// Stride-1 convolution keeping H and W: symmetric padding for odd kernels, "same" (one extra
// row/column at the bottom/right) for even ones.
nn::Conv2d same_conv(int in, int out, int kernel, bool bias) {
  auto o = nn::Conv2dOptions(in, out, kernel).bias(bias);
  if (kernel % 2 == 1) {
    o.padding(kernel / 2);
  } else {
    o.padding(torch::kSame);
  }
  return nn::Conv2d(o);
}

nn::LeakyReLU leaky(double slope) { return nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(slope)); }

// conv-BN-LReLU twice (the C_K / D_K pair), then dropout when p > 0.
nn::Sequential conv_pair(int in, int out, int kernel, double slope, double dropout) {
  nn::Sequential s(same_conv(in, out, kernel, false), nn::BatchNorm2d(out), leaky(slope),
                   same_conv(out, out, kernel, false), nn::BatchNorm2d(out), leaky(slope));
  if (dropout > 0) s->push_back(nn::Dropout(nn::DropoutOptions(dropout)));
  return s;
}

void check_channels(const std::vector<int>& channels, const std::string& what) {
  require(!channels.empty() && channels.size() <= 8, what + " must list 1..8 channel counts");
  for (const int c : channels) require(c >= 1, what + " must be positive, got " + std::to_string(c));
}

}  // namespace

SinGanGeneratorImpl::SinGanGeneratorImpl(const SinGanGeneratorOptions& o) : options_(o) {
  check_channels(o.encoder_channels, "sin-gan generator: encoder_channels");
  check_channels(o.decoder_channels, "sin-gan generator: decoder_channels");
  require(o.encoder_channels.size() == o.decoder_channels.size(),
          "sin-gan generator: encoder_channels and decoder_channels must have the same length (one D block per C "
          "block), got " +
              std::to_string(o.encoder_channels.size()) + " and " + std::to_string(o.decoder_channels.size()));
  require(o.encoder_kernel >= 1 && o.decoder_kernel >= 1 && o.head_kernel >= 1,
          "sin-gan generator: kernel sizes must be >= 1");
  require(o.dropout >= 0 && o.dropout < 1,
          "sin-gan generator: dropout must be in [0, 1), got " + std::to_string(o.dropout));
  require(o.output == "residual" || o.output == "direct",
          "sin-gan generator: output must be 'residual' or 'direct', got '" + o.output + "'");
  require(o.refine_channels >= 1 && o.refine_layers >= 2,
          "sin-gan generator: need refine_channels >= 1 and refine_layers >= 2");

  encoder_ = register_module("encoder", nn::ModuleList());
  decoder_ = register_module("decoder", nn::ModuleList());
  const size_t levels = o.encoder_channels.size();
  int in = 6;
  for (const int c : o.encoder_channels) {
    encoder_->push_back(conv_pair(in, c, o.encoder_kernel, o.leaky_slope, 0.0));
    in = c;
  }
  // D block j takes the previous block's output (the pooled last C block for j = 0) resized to
  // skip levels-1-j and concatenated with it.
  for (size_t j = 0; j < levels; ++j) {
    const int skip = o.encoder_channels[levels - 1 - j];
    decoder_->push_back(conv_pair(in + skip, o.decoder_channels[j], o.decoder_kernel, o.leaky_slope, o.dropout));
    in = o.decoder_channels[j];
  }
  head_ = register_module("head", same_conv(in, 3, o.head_kernel, true));
  if (o.output == "residual") {
    // Start as the frame average (a zero correction).
    torch::NoGradGuard no_grad;
    head_->weight.zero_();
    head_->bias.zero_();
  }
  if (o.refine) {
    refiner_ = register_module("refiner", nn::Sequential());
    int rin = 9;  // U-Net output, F1, F3
    for (int l = 0; l < o.refine_layers - 1; ++l) {
      refiner_->push_back(same_conv(rin, o.refine_channels, 3, true));
      refiner_->push_back(leaky(o.leaky_slope));
      rin = o.refine_channels;
    }
    auto last = same_conv(rin, 3, 3, true);
    {
      // The refinement starts as the identity: it may only improve the U-Net's frame.
      torch::NoGradGuard no_grad;
      last->weight.zero_();
      last->bias.zero_();
    }
    refiner_->push_back(last);
  }
}

SinGanGeneratorImpl::Features SinGanGeneratorImpl::forward_features(const torch::Tensor& f0, const torch::Tensor& f2) {
  TORCH_CHECK(f0.dim() == 4 && f0.size(1) == 3 && f0.sizes() == f2.sizes(),
              "sin-gan generator expects two [B, 3, H, W] frames of the same size, got ", f0.sizes(), " and ",
              f2.sizes());
  Features out;
  const torch::Tensor input = torch::cat({f0, f2}, 1).mul(2.0).sub(1.0);  // [-1, 1]
  torch::Tensor x = input;
  for (const auto& block : *encoder_) {
    x = block->as<nn::Sequential>()->forward(x);
    out.skips.push_back(x);
    // Ceil mode: an odd side keeps its last row/column (97 -> 49), so no pixel is dropped.
    x = F::max_pool2d(x, F::MaxPool2dFuncOptions(2).stride(2).ceil_mode(true));
  }
  for (size_t j = 0; j < decoder_->size(); ++j) {
    const auto& skip = out.skips[out.skips.size() - 1 - j];
    x = F::interpolate(x, F::InterpolateFuncOptions()
                              .size(std::vector<int64_t>{skip.size(2), skip.size(3)})
                              .mode(torch::kBilinear)
                              .align_corners(false));
    x = decoder_[j]->as<nn::Sequential>()->forward(torch::cat({x, skip}, 1));
    out.decoded.push_back(x);
  }
  x = head_->forward(x);
  out.unet = options_.output == "residual" ? (f0 + f2).mul(0.5) + x : x.add(1.0).mul(0.5);
  out.output = out.unet;
  if (options_.refine) {
    const auto refine_in = torch::cat({out.unet, f0, f2}, 1).mul(2.0).sub(1.0);
    out.output = out.unet + refiner_->forward(refine_in);
  }
  return out;
}

torch::Tensor SinGanGeneratorImpl::forward(const torch::Tensor& f0, const torch::Tensor& f2) {
  auto features = forward_features(f0, f2);
  intermediate_.clear();
  if (options_.refine) intermediate_.push_back(features.unet);
  return features.output;
}

SinGanDiscriminatorImpl::SinGanDiscriminatorImpl(const SinGanDiscriminatorOptions& o) : options_(o) {
  check_channels(o.channels, "sin-gan discriminator: channels");
  body_ = register_module("body", nn::Sequential());
  int in = 9;  // F1, middle, F3
  for (const int c : o.channels) {
    body_->push_back(nn::Conv2d(nn::Conv2dOptions(in, c, 4).stride(2).padding(1).bias(false)));
    body_->push_back(nn::BatchNorm2d(c));
    body_->push_back(leaky(o.leaky_slope));
    in = c;
  }
  body_->push_back(nn::Conv2d(nn::Conv2dOptions(in, 1, 4).stride(2).padding(1)));
}

torch::Tensor SinGanDiscriminatorImpl::forward(const torch::Tensor& f0, const torch::Tensor& middle,
                                               const torch::Tensor& f2) {
  TORCH_CHECK(middle.dim() == 4 && middle.size(1) == 3 && f0.sizes() == middle.sizes() && f2.sizes() == middle.sizes(),
              "sin-gan discriminator expects three [B, 3, H, W] frames of the same size, got ", f0.sizes(), ", ",
              middle.sizes(), " and ", f2.sizes());
  // Every 4x4 stride-2 conv (padding 1) halves a side, rounding down: a side below 2^convs
  // would vanish.
  const int64_t min_side = int64_t{1} << (options_.channels.size() + 1);
  TORCH_CHECK(middle.size(2) >= min_side && middle.size(3) >= min_side,
              "sin-gan discriminator needs frames of at least ", min_side, "x", min_side, " (",
              options_.channels.size() + 1, " stride-2 convs), got ", middle.size(2), "x", middle.size(3));
  return body_->forward(torch::cat({f0, middle, f2}, 1).mul(2.0).sub(1.0)).mean({1, 2, 3});
}

}  // namespace fregan::models
