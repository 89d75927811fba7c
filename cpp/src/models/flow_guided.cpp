#include "fregan/models/flow_guided.h"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "fregan/error.h"
#include "fregan/models/options_json.h"

namespace fregan::models {
namespace nn = torch::nn;
namespace F = torch::nn::functional;

FREGAN_DEFINE_OPTIONS_JSON(FlowGuidedOptions, "fregan-flow", flow, net_max_pixels, base_channels, levels, leaky_slope,
                           flow_unit, refine_flow)

namespace {

nn::Sequential conv_pair(int in, int out, int first_stride, double slope) {
  return nn::Sequential(nn::Conv2d(nn::Conv2dOptions(in, out, 3).stride(first_stride).padding(1)),
                        nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(slope)),
                        nn::Conv2d(nn::Conv2dOptions(out, out, 3).padding(1)),
                        nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(slope)));
}

torch::Tensor resize(const torch::Tensor& x, int64_t h, int64_t w, bool area) {
  if (x.size(2) == h && x.size(3) == w) return x;
  auto o = F::InterpolateFuncOptions().size(std::vector<int64_t>{h, w});
  if (area) return F::interpolate(x, o.mode(torch::kArea));
  return F::interpolate(x, o.mode(torch::kBilinear).align_corners(false));
}

}  // namespace

FlowGuidedNetImpl::FlowGuidedNetImpl(const FlowGuidedOptions& o) : options_(o) {
  require(o.levels >= 1 && o.levels <= 6, "fregan-flow: levels must be in 1..6");
  require(o.base_channels >= 4, "fregan-flow: base_channels must be >= 4");
  require(o.net_max_pixels >= 64 * 64, "fregan-flow: net_max_pixels must be >= 4096");
  require(o.flow_unit > 0, "fregan-flow: flow_unit must be > 0");
  encoder_ = register_module("encoder", nn::ModuleList());
  decoder_ = register_module("decoder", nn::ModuleList());
  int in = kInputChannels;
  for (int l = 0; l < o.levels; ++l) {
    const int out = o.base_channels << l;
    encoder_->push_back(conv_pair(in, out, l == 0 ? 1 : 2, o.leaky_slope));
    in = out;
  }
  // Decoder block l (from the bottom up) takes level l+1's features upsampled and concatenated
  // with the encoder's level l output.
  for (int l = o.levels - 2; l >= 0; --l) {
    const int skip = o.base_channels << l;
    decoder_->push_back(conv_pair(in + skip, skip, 1, o.leaky_slope));
    in = skip;
  }
  // Mask (1) and residual (3), then the corrections of F_t0 and F_t2 (2 + 2) with refine_flow.
  head_ = register_module("head", nn::Conv2d(nn::Conv2dOptions(in, o.refine_flow ? 8 : 4, 3).padding(1)));
  torch::NoGradGuard no_grad;
  head_->weight.zero_();
  head_->bias.zero_();
}

torch::Tensor FlowGuidedNetImpl::forward_at(const torch::Tensor& f0, const torch::Tensor& f2, double t) {
  TORCH_CHECK(f0.dim() == 4 && f0.size(1) == 3 && f0.sizes() == f2.sizes(),
              "fregan-flow expects two [B, 3, H, W] frames of the same size, got ", f0.sizes(), " and ", f2.sizes());
  TORCH_CHECK(t > 0 && t < 1, "fregan-flow: t must be in (0, 1), got ", t);
  const int64_t b = f0.size(0), h = f0.size(2), w = f0.size(3);
  TORCH_CHECK(h >= 8 && w >= 8, "fregan-flow: frames must be at least 8x8, got ", h, "x", w);

  // Motion, at full resolution (DIS itself runs at reduced resolution for big frames).
  torch::Tensor flow02, flow20;
  {
    torch::NoGradGuard no_grad;
    std::tie(flow02, flow20) = flow::bidirectional_flow(f0, f2, options_.flow);
  }
  const auto [ft0, ft2] = flow::flows_from_t(flow02, flow20, t);
  const auto warped0 = flow::backward_warp(f0, ft0), warped2 = flow::backward_warp(f2, ft2);

  // The net's resolution.
  const double scale = std::min(1.0, std::sqrt(static_cast<double>(options_.net_max_pixels) / static_cast<double>(h * w)));
  const int64_t hn = std::max<int64_t>(8, std::llround(h * scale)), wn = std::max<int64_t>(8, std::llround(w * scale));
  const double sx = static_cast<double>(wn) / w, sy = static_cast<double>(hn) / h;
  auto down = [&](const torch::Tensor& x) { return resize(x, hn, wn, true); };
  auto down_flow = [&](const torch::Tensor& f) {
    auto d = down(f);
    return torch::stack({d.select(1, 0) * sx, d.select(1, 1) * sy}, 1);
  };
  const auto f02n = down_flow(flow02), f20n = down_flow(flow20), ft0n = down_flow(ft0), ft2n = down_flow(ft2);
  // Occlusion cue: where the two flows disagree, seen from time t; log-compressed.
  const auto occ0 = torch::log1p(flow::backward_warp(flow::consistency_error(f02n, f20n), ft0n));
  const auto occ2 = torch::log1p(flow::backward_warp(flow::consistency_error(f20n, f02n), ft2n));
  const auto t_map = torch::full({b, 1, hn, wn}, t, f0.options());
  const double unit = 1.0 / options_.flow_unit;
  auto x = torch::cat({down(warped0), down(warped2), down(f0), down(f2), ft0n * unit, ft2n * unit, occ0, occ2, t_map}, 1);
  x = x.sub(torch::cat({torch::full({1, 12, 1, 1}, 0.5, x.options()), torch::zeros({1, 7, 1, 1}, x.options())}, 1));

  std::vector<torch::Tensor> skips;
  for (const auto& block : *encoder_) {
    x = block->as<nn::Sequential>()->forward(x);
    skips.push_back(x);
  }
  for (size_t i = 0; i < decoder_->size(); ++i) {
    const auto& skip = skips[skips.size() - 2 - i];
    x = torch::cat({resize(x, skip.size(2), skip.size(3), false), skip}, 1);
    x = decoder_[i]->as<nn::Sequential>()->forward(x);
  }
  const auto out = resize(head_->forward(x), h, w, false);
  auto final0 = warped0, final2 = warped2;
  if (options_.refine_flow) {
    // Corrections in units of flow_unit net pixels, like the flows the net sees, to full-resolution pixels.
    const auto to_full = torch::tensor({options_.flow_unit / sx, options_.flow_unit / sy}, out.options()).view({1, 2, 1, 1});
    final0 = flow::backward_warp(f0, ft0 + out.narrow(1, 4, 2) * to_full);
    final2 = flow::backward_warp(f2, ft2 + out.narrow(1, 6, 2) * to_full);
  }
  // The mask's prior is the (1 - t) : t blend (logit log((1 - t) / t)), so a zero head is plain
  // flow warping.
  const auto mask = torch::sigmoid(out.narrow(1, 0, 1) + std::log((1 - t) / t));
  return mask * final0 + (1 - mask) * final2 + out.narrow(1, 1, 3);
}

}  // namespace fregan::models
