#include "fregan/models/kernel_interpolation.h"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "fregan/error.h"
#include "fregan/options_json.h"
#include "fregan/ops/local_conv.h"

namespace fregan::models {
namespace nn = torch::nn;
namespace F = torch::nn::functional;

FREGAN_DEFINE_OPTIONS_JSON(SepConvOptions, "sepconv generator", kernel_size, base_channels, max_channels, levels)
FREGAN_DEFINE_OPTIONS_JSON(AdaConvOptions, "adaconv generator", kernel_size, base_channels, max_channels, levels)

namespace {

// Logit of the centre tap at initialisation (all other taps 0) such that after a softmax over
// `taps` taps the centre holds 80% of the weight: the model starts near the frame average while every
// tap still gets a useful gradient (a harder delta would starve the off-centre taps).
double centre_logit(int taps) { return taps > 1 ? std::log(4.0 * (taps - 1)) : 0.0; }

int channels_at(int level, int base, int cap) { return std::min(base << level, cap); }

nn::Conv2d conv3x3(int in, int out) { return nn::Conv2d(nn::Conv2dOptions(in, out, 3).padding(1)); }

nn::Sequential conv_relu_block(int in, int out, int convs) {
  nn::Sequential s;
  for (int i = 0; i < convs; ++i) {
    s->push_back(conv3x3(i == 0 ? in : out, out));
    s->push_back(nn::ReLU());
  }
  return s;
}

void check_common(const char* what, int kernel_size, int base, int cap, int levels) {
  const std::string name(what);
  require(kernel_size >= 1 && kernel_size % 2 == 1,
          name + ": kernel_size must be odd and >= 1, got " + std::to_string(kernel_size));
  require(levels >= 1 && levels <= 7, name + ": levels must be in 1..7, got " + std::to_string(levels));
  require(base >= 1 && cap >= base, name + ": need 1 <= base_channels <= max_channels");
}

// A head mapping trunk features to `taps` logits per pixel, starting near a centred delta: zero
// weights, bias `logit` at the centre tap.
nn::Conv2d kernel_head(int in, int taps, int centre, double logit) {
  auto head = conv3x3(in, taps);
  torch::NoGradGuard no_grad;
  head->weight.zero_();
  head->bias.zero_();
  head->bias[centre].fill_(logit);
  return head;
}

void check_frames(const char* what, const torch::Tensor& f0, const torch::Tensor& f2, int64_t m) {
  TORCH_CHECK(f0.dim() == 4 && f0.size(1) == 3 && f0.sizes() == f2.sizes(), what,
              " expects two [B, 3, H, W] frames of the same size, got ", f0.sizes(), " and ", f2.sizes());
  TORCH_CHECK(f0.size(2) % m == 0 && f0.size(3) % m == 0, what, ": H and W must be multiples of ", m,
              " (2^levels), got ", f0.size(2), "x", f0.size(3), "; the Interpolator pads for you");
}

torch::Tensor pad_for_kernel(const torch::Tensor& frame, int64_t k) {
  const int64_t p = k / 2;
  return F::pad(frame, F::PadFuncOptions({p, p, p, p}).mode(torch::kReplicate));
}

}  // namespace

KernelNetTrunkImpl::KernelNetTrunkImpl(const KernelNetTrunkOptions& o) : options_(o) {
  encoder_ = register_module("encoder", nn::ModuleList());
  decoder_up_ = register_module("decoder_up", nn::ModuleList());
  decoder_merge_ = register_module("decoder_merge", nn::ModuleList());
  int in = 6;
  for (int l = 0; l <= o.levels; ++l) {
    const int out = channels_at(l, o.base_channels, o.max_channels);
    encoder_->push_back(conv_relu_block(in, out, 2));
    in = out;
  }
  for (int l = o.levels - 1; l >= 0; --l) {
    const int from = channels_at(l + 1, o.base_channels, o.max_channels);
    const int to = channels_at(l, o.base_channels, o.max_channels);
    decoder_up_->push_back(conv_relu_block(from, to, 1));
    decoder_merge_->push_back(conv_relu_block(to, to, 1));
  }
}

torch::Tensor KernelNetTrunkImpl::forward(const torch::Tensor& input) {
  std::vector<torch::Tensor> skips;
  torch::Tensor x = input;
  for (int l = 0; l <= options_.levels; ++l) {
    if (l > 0) x = F::avg_pool2d(x, F::AvgPool2dFuncOptions(2));
    x = encoder_[l]->as<nn::Sequential>()->forward(x);
    skips.push_back(x);
  }
  for (int i = 0; i < options_.levels; ++i) {
    const int l = options_.levels - 1 - i;
    x = F::interpolate(x, F::InterpolateFuncOptions()
                              .size(std::vector<int64_t>{skips[l].size(2), skips[l].size(3)})
                              .mode(torch::kBilinear)
                              .align_corners(false));
    x = decoder_up_[i]->as<nn::Sequential>()->forward(x) + skips[l];
    x = decoder_merge_[i]->as<nn::Sequential>()->forward(x);
  }
  return x;
}

SepConvImpl::SepConvImpl(const SepConvOptions& o) : options_(o) {
  check_common("sepconv generator", o.kernel_size, o.base_channels, o.max_channels, o.levels);
  trunk_ = register_module("trunk", KernelNetTrunk(KernelNetTrunkOptions{o.base_channels, o.max_channels, o.levels}));
  const int c = trunk_->out_channels(), k = o.kernel_size;
  const double logit = centre_logit(k);
  vertical0_ = register_module("vertical0", kernel_head(c, k, k / 2, logit));
  horizontal0_ = register_module("horizontal0", kernel_head(c, k, k / 2, logit));
  vertical1_ = register_module("vertical1", kernel_head(c, k, k / 2, logit));
  horizontal1_ = register_module("horizontal1", kernel_head(c, k, k / 2, logit));
}

torch::Tensor SepConvImpl::forward(const torch::Tensor& f0, const torch::Tensor& f2) {
  check_frames("sepconv generator", f0, f2, size_multiple());
  const int64_t k = options_.kernel_size;
  const auto features = trunk_->forward(torch::cat({f0, f2}, 1).mul(2.0).sub(1.0));
  // One softmax over both frames' vertical taps (it also weighs the frames), one per horizontal kernel.
  const auto vertical =
      torch::softmax(torch::cat({vertical0_->forward(features), vertical1_->forward(features)}, 1), 1);
  const auto h0 = torch::softmax(horizontal0_->forward(features), 1);
  const auto h1 = torch::softmax(horizontal1_->forward(features), 1);
  return ops::local_separable_conv(pad_for_kernel(f0, k), vertical.narrow(1, 0, k), h0) +
         ops::local_separable_conv(pad_for_kernel(f2, k), vertical.narrow(1, k, k), h1);
}

AdaConvImpl::AdaConvImpl(const AdaConvOptions& o) : options_(o) {
  check_common("adaconv generator", o.kernel_size, o.base_channels, o.max_channels, o.levels);
  trunk_ = register_module("trunk", KernelNetTrunk(KernelNetTrunkOptions{o.base_channels, o.max_channels, o.levels}));
  const int k = o.kernel_size, taps = k * k;
  const double logit = centre_logit(taps);
  kernels_ = register_module("kernels", kernel_head(trunk_->out_channels(), 2 * taps, taps / 2, logit));
  // Both frames' centre taps start equal (the average of the frames).
  torch::NoGradGuard no_grad;
  kernels_->bias[taps + taps / 2].fill_(logit);
}

torch::Tensor AdaConvImpl::forward(const torch::Tensor& f0, const torch::Tensor& f2) {
  check_frames("adaconv generator", f0, f2, size_multiple());
  const int64_t k = options_.kernel_size, taps = k * k;
  const auto features = trunk_->forward(torch::cat({f0, f2}, 1).mul(2.0).sub(1.0));
  // The spatial softmax over the 2*K*K taps of both frames, as in the paper.
  const auto kernels = torch::softmax(kernels_->forward(features), 1);
  return ops::local_conv2d(pad_for_kernel(f0, k), kernels.narrow(1, 0, taps)) +
         ops::local_conv2d(pad_for_kernel(f2, k), kernels.narrow(1, taps, taps));
}

}  // namespace fregan::models
