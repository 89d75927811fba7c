#include "fregan/models/spectraframe.h"

#include <algorithm>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "fregan/error.h"
#include "fregan/flow/optical_flow.h"
#include "fregan/options_json.h"

namespace fregan::models {
namespace nn = torch::nn;

FREGAN_DEFINE_OPTIONS_JSON(SpectraFrameGeneratorOptions, "spectraframe generator", scale, neighbours, base_channels,
                           feature_channels, residual_blocks, upsampling, bicubic_residual, architecture)
FREGAN_DEFINE_OPTIONS_JSON(SpectraFrameDiscriminatorOptions, "spectraframe discriminator", base_channels, max_channels,
                           levels, dense_channels, leaky_slope)

namespace {

// DBPN's x4 geometry: 8x8 kernels, stride 4, padding 2 map h <-> 4h exactly.
constexpr int kKernel = 8, kStride = 4, kPadding = 2;

nn::Sequential conv_prelu(int in, int out, int kernel, int stride, int padding) {
  return nn::Sequential(nn::Conv2d(nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding)), nn::PReLU());
}

// LR [B, in, h, w] -> SR [B, out, 4h, 4w], + PReLU.
nn::Sequential up4_prelu(int in, int out, const std::string& upsampling) {
  if (upsampling == "transposed") {
    return nn::Sequential(
        nn::ConvTranspose2d(nn::ConvTranspose2dOptions(in, out, kKernel).stride(kStride).padding(kPadding)),
        nn::PReLU());
  }
  return nn::Sequential(nn::Conv2d(nn::Conv2dOptions(in, out * kStride * kStride, 3).padding(1)),
                        nn::PixelShuffle(nn::PixelShuffleOptions(kStride)), nn::PReLU());
}

// SR [B, in, 4h, 4w] -> LR [B, out, h, w], + PReLU.
nn::Sequential down4_prelu(int in, int out) { return conv_prelu(in, out, kKernel, kStride, kPadding); }

nn::Sequential resnet(int channels, int blocks) {
  nn::Sequential s;
  for (int i = 0; i < blocks; ++i) s->push_back(SrResidualBlock(channels));
  return s;
}

}  // namespace

void validate(const SpectraFrameGeneratorOptions& o) {
  require(o.scale == 4, "spectraframe generator: scale " + std::to_string(o.scale) +
                            " is not supported (the back-projection units are built for x4)");
  require(o.neighbours >= 1 && o.neighbours <= 16,
          "spectraframe generator: neighbours must be in 1..16, got " + std::to_string(o.neighbours));
  require(o.base_channels >= 1 && o.feature_channels >= 1, "spectraframe generator: channels must be >= 1");
  require(o.residual_blocks >= 0, "spectraframe generator: residual_blocks must be >= 0");
  require(o.upsampling == "subpixel" || o.upsampling == "transposed",
          "spectraframe generator: upsampling must be 'subpixel' or 'transposed', got '" + o.upsampling + "'");
  require(o.architecture == "rbpn" || o.architecture == "lr_fusion",
          "spectraframe generator: architecture must be 'rbpn' or 'lr_fusion', got '" + o.architecture + "'");
  require(o.architecture != "lr_fusion" || o.residual_blocks >= 1,
          "spectraframe generator: the lr_fusion architecture needs residual_blocks >= 1");
}

void validate(const SpectraFrameDiscriminatorOptions& o) {
  require(o.levels >= 1 && o.levels <= 8, "spectraframe discriminator: levels must be in 1..8");
  require(o.base_channels >= 1 && o.max_channels >= o.base_channels,
          "spectraframe discriminator: need 1 <= base_channels <= max_channels");
  require(o.dense_channels >= 1, "spectraframe discriminator: dense_channels must be >= 1");
  require(o.leaky_slope >= 0 && o.leaky_slope < 1, "spectraframe discriminator: leaky_slope must be in [0, 1)");
}

// --- units -------------------------------------------------------------------------------------

UpProjectionImpl::UpProjectionImpl(int channels, const std::string& upsampling)
    : up1_(register_module("up1", up4_prelu(channels, channels, upsampling))),
      down_(register_module("down", down4_prelu(channels, channels))),
      up2_(register_module("up2", up4_prelu(channels, channels, upsampling))) {}

torch::Tensor UpProjectionImpl::forward(const torch::Tensor& low) {
  const auto h0 = up1_->forward(low);
  const auto l0 = down_->forward(h0);
  return h0 + up2_->forward(l0 - low);
}

DownProjectionImpl::DownProjectionImpl(int channels, const std::string& upsampling)
    : down1_(register_module("down1", down4_prelu(channels, channels))),
      up_(register_module("up", up4_prelu(channels, channels, upsampling))),
      down2_(register_module("down2", down4_prelu(channels, channels))) {}

torch::Tensor DownProjectionImpl::forward(const torch::Tensor& high) {
  const auto l0 = down1_->forward(high);
  const auto h0 = up_->forward(l0);
  return l0 + down2_->forward(h0 - high);
}

SrResidualBlockImpl::SrResidualBlockImpl(int channels)
    : conv1_(register_module("conv1", nn::Conv2d(nn::Conv2dOptions(channels, channels, 3).padding(1)))),
      conv2_(register_module("conv2", nn::Conv2d(nn::Conv2dOptions(channels, channels, 3).padding(1)))),
      act1_(register_module("act1", nn::PReLU())),
      act2_(register_module("act2", nn::PReLU())) {}

torch::Tensor SrResidualBlockImpl::forward(const torch::Tensor& x) {
  return act2_->forward(conv2_->forward(act1_->forward(conv1_->forward(x))) + x);
}

// --- generator ---------------------------------------------------------------------------------

SpectraFrameGeneratorImpl::SpectraFrameGeneratorImpl(const SpectraFrameGeneratorOptions& o) : options_(o) {
  validate(o);
  const int base = o.base_channels, feat = o.feature_channels;
  current_features_ = register_module("current_features", conv_prelu(3, base, 3, 1, 1));
  pair_features_ = register_module("pair_features", conv_prelu(3 + 3 + 2, base, 3, 1, 1));
  if (o.architecture == "lr_fusion") {
    fuse_ = register_module("fuse", conv_prelu((o.neighbours + 1) * base, base, 1, 1, 0));
    body_ = register_module("body", resnet(base, o.residual_blocks));
    reconstruct_ =
        register_module("reconstruct", nn::Conv2d(nn::Conv2dOptions(base, 3 * kStride * kStride, 3).padding(1)));
    zero_reconstruction();
    return;
  }
  single_in_ = register_module("single_in", conv_prelu(base, feat, 1, 1, 0));
  single_up1_ = register_module("single_up1", UpProjection(feat, o.upsampling));
  single_down_ = register_module("single_down", DownProjection(feat, o.upsampling));
  single_up2_ = register_module("single_up2", UpProjection(feat, o.upsampling));
  single_out_ = register_module("single_out", conv_prelu(2 * feat, feat, 1, 1, 0));
  multi_to_sr_ = resnet(base, o.residual_blocks);
  multi_to_sr_->extend(*up4_prelu(base, feat, o.upsampling));
  decoder_ = resnet(feat, o.residual_blocks);
  decoder_->extend(*conv_prelu(feat, feat, 3, 1, 1));
  encoder_ = resnet(feat, o.residual_blocks);
  encoder_->extend(*down4_prelu(feat, base));
  register_module("multi_to_sr", multi_to_sr_);
  register_module("decoder", decoder_);
  register_module("encoder", encoder_);
  reconstruct_ = register_module("reconstruct", nn::Conv2d(nn::Conv2dOptions(o.neighbours * feat, 3, 3).padding(1)));
  zero_reconstruction();
}

void SpectraFrameGeneratorImpl::zero_reconstruction() {
  if (!options_.bicubic_residual) return;
  // Start exactly at bicubic; the weights still get gradients (from the features they see).
  torch::NoGradGuard no_grad;
  reconstruct_->weight.zero_();
  reconstruct_->bias.zero_();
}

void SpectraFrameGeneratorImpl::check_inputs(const torch::Tensor& lr, const torch::Tensor& neighbours,
                                             const torch::Tensor& flows) const {
  const int64_t n = options_.neighbours;
  FREGAN_CHECK(lr.dim() == 4 && lr.size(1) == 3, "spectraframe: expected the current frame as [B, 3, h, w], got ",
               lr.sizes());
  const int64_t b = lr.size(0), h = lr.size(2), w = lr.size(3);
  FREGAN_CHECK(neighbours.dim() == 5 && neighbours.sizes() == torch::IntArrayRef({b, n, 3, h, w}),
               "spectraframe: expected neighbours [B, ", n, ", 3, h, w] = [", b, ", ", n, ", 3, ", h, ", ", w,
               "], got ", neighbours.sizes());
  FREGAN_CHECK(flows.dim() == 5 && flows.sizes() == torch::IntArrayRef({b, n, 2, h, w}),
               "spectraframe: expected flows [B, ", n, ", 2, h, w] = [", b, ", ", n, ", 2, ", h, ", ", w, "], got ",
               flows.sizes());
}

torch::Tensor SpectraFrameGeneratorImpl::pair_inputs(const torch::Tensor& lr, const torch::Tensor& neighbours,
                                                     const torch::Tensor& flows) const {
  check_inputs(lr, neighbours, flows);
  const int64_t b = lr.size(0), n = options_.neighbours, h = lr.size(2), w = lr.size(3);
  return torch::cat({lr.unsqueeze(1).expand({b, n, 3, h, w}), neighbours, flows}, 2);
}

torch::Tensor SpectraFrameGeneratorImpl::forward(const torch::Tensor& lr, const torch::Tensor& neighbours,
                                                 const torch::Tensor& flows) {
  auto out = options_.architecture == "lr_fusion" ? forward_lr_fusion(lr, neighbours, flows)
                                                  : forward_rbpn(lr, pair_inputs(lr, neighbours, flows));
  if (options_.bicubic_residual) {
    namespace F = torch::nn::functional;
    out = out + F::interpolate(lr, F::InterpolateFuncOptions()
                                       .size(std::vector<int64_t>{4 * lr.size(2), 4 * lr.size(3)})
                                       .mode(torch::kBicubic)
                                       .align_corners(false));
  }
  return out;
}

torch::Tensor SpectraFrameGeneratorImpl::forward_lr_fusion(const torch::Tensor& lr, const torch::Tensor& neighbours,
                                                           const torch::Tensor& flows) {
  check_inputs(lr, neighbours, flows);
  const int64_t b = lr.size(0), n = options_.neighbours, h = lr.size(2), w = lr.size(3);
  // The neighbours aligned to the current frame: the flow points from the current frame into them.
  const auto warped = flow::backward_warp(neighbours.reshape({b * n, 3, h, w}), flows.reshape({b * n, 2, h, w}))
                          .reshape({b, n, 3, h, w});
  const auto pairs = pair_inputs(lr, warped, flows);
  const auto pair_feats = pair_features_->forward(pairs.reshape({b * n, 8, h, w})).reshape({b, -1, h, w});
  const auto fused = fuse_->forward(torch::cat({current_features_->forward(lr), pair_feats}, 1));
  const auto features = body_->forward(fused) + fused;
  namespace F = torch::nn::functional;
  return F::pixel_shuffle(reconstruct_->forward(features), kStride);
}

torch::Tensor SpectraFrameGeneratorImpl::forward_rbpn(const torch::Tensor& lr, const torch::Tensor& pairs) {
  const int64_t b = lr.size(0), n = options_.neighbours, h = lr.size(2), w = lr.size(3);
  // All neighbours' multi-image features in one batch: they do not depend on the recurrence.
  const auto pair_feats = pair_features_->forward(pairs.reshape({b * n, 8, h, w}));
  const auto multi_sr = multi_to_sr_->forward(pair_feats).reshape({b, n, -1, 4 * h, 4 * w});

  auto current = current_features_->forward(lr);
  std::vector<torch::Tensor> hidden;
  for (int64_t j = 0; j < n; ++j) {
    // Single-image branch on the current features (the current frame's, then the encoded H_{j-1}).
    const auto s = single_in_->forward(current);
    const auto up1 = single_up1_->forward(s);
    const auto up2 = single_up2_->forward(single_down_->forward(up1));
    const auto single_sr = single_out_->forward(torch::cat({up2, up1}, 1));
    // Back-projection: the decoded difference between what one frame and what the pair say.
    const auto h_j = single_sr + decoder_->forward(single_sr - multi_sr.select(1, j));
    hidden.push_back(h_j);
    if (j + 1 < n) current = encoder_->forward(h_j);
  }
  return reconstruct_->forward(torch::cat(hidden, 1));
}

// --- discriminator -----------------------------------------------------------------------------

SpectraFrameDiscriminatorImpl::SpectraFrameDiscriminatorImpl(const SpectraFrameDiscriminatorOptions& o) : options_(o) {
  validate(o);
  auto lrelu = [&] { return nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(o.leaky_slope)); };
  auto conv_bn = [&](int in, int out, int stride) {
    return nn::Sequential(nn::Conv2d(nn::Conv2dOptions(in, out, 3).stride(stride).padding(1).bias(false)),
                          nn::BatchNorm2d(out), lrelu());
  };
  stages_ = nn::ModuleList();
  int c = o.base_channels;
  // SRGAN: conv + LeakyReLU (no BN), then (conv stride 2, conv stride 1 doubling) blocks.
  nn::Sequential first(nn::Conv2d(nn::Conv2dOptions(3, c, 3).padding(1)), lrelu());
  first->extend(*conv_bn(c, c, 2));
  stages_->push_back(first);
  for (int level = 1; level < o.levels; ++level) {
    const int next = std::min(2 * c, o.max_channels);
    nn::Sequential stage = conv_bn(c, next, 1);
    stage->extend(*conv_bn(next, next, 2));
    stages_->push_back(stage);
    c = next;
  }
  register_module("stages", stages_);
  // Adaptive pooling instead of SRGAN's fixed-size flatten: any crop or frame size works.
  head_ = register_module("head",
                          nn::Sequential(nn::AdaptiveAvgPool2d(nn::AdaptiveAvgPool2dOptions(1)), nn::Flatten(),
                                         nn::Linear(c, o.dense_channels), lrelu(), nn::Linear(o.dense_channels, 1)));
}

std::vector<torch::Tensor> SpectraFrameDiscriminatorImpl::features(const torch::Tensor& frames) {
  FREGAN_CHECK(frames.dim() == 4 && frames.size(1) == 3, "spectraframe discriminator: expected [B, 3, H, W], got ",
               frames.sizes());
  std::vector<torch::Tensor> out;
  auto x = frames * 2.0 - 1.0;
  for (const auto& stage : *stages_) {
    x = stage->as<nn::Sequential>()->forward(x);
    out.push_back(x);
  }
  return out;
}

torch::Tensor SpectraFrameDiscriminatorImpl::classify(const torch::Tensor& last_features) {
  return head_->forward(last_features).squeeze(1);
}

torch::Tensor SpectraFrameDiscriminatorImpl::forward(const torch::Tensor& frames) {
  return classify(features(frames).back());
}

// --- factory and flows -------------------------------------------------------------------------

SpectraFrame create_spectraframe(const nlohmann::json& g, const nlohmann::json& d, bool with_discriminator) {
  SpectraFrame m;
  const auto go = (g.is_null() ? nlohmann::json::object() : g).get<SpectraFrameGeneratorOptions>();
  const auto dopt = (d.is_null() ? nlohmann::json::object() : d).get<SpectraFrameDiscriminatorOptions>();
  validate(go);
  validate(dopt);
  m.generator_options = go;
  m.discriminator_options = dopt;
  m.generator = SpectraFrameGenerator(go);
  if (with_discriminator) m.discriminator = SpectraFrameDiscriminator(dopt);
  return m;
}

torch::Tensor spectraframe_flows(const torch::Tensor& lr, const torch::Tensor& neighbours) {
  FREGAN_CHECK(lr.dim() == 4 && neighbours.dim() == 5 && neighbours.size(0) == lr.size(0) && neighbours.size(2) == 3 &&
                   neighbours.size(3) == lr.size(2) && neighbours.size(4) == lr.size(3),
               "spectraframe_flows: expected lr [B, 3, h, w] and neighbours [B, n, 3, h, w], got ", lr.sizes(), " and ",
               neighbours.sizes());
  namespace F = torch::nn::functional;
  // DIS refuses frames under 12 pixels on both sides (tiny training crops): such frames are
  // enlarged for the flow, which is then brought back to their size and pixel units.
  const int64_t h = lr.size(2), w = lr.size(3);
  const int64_t enlarge = std::max<int64_t>(h, w) < 16 ? (16 + std::max(h, w) - 1) / std::max(h, w) : 1;
  auto resized = [&](const torch::Tensor& x, int64_t height, int64_t width) {
    return F::interpolate(x, F::InterpolateFuncOptions()
                                 .size(std::vector<int64_t>{height, width})
                                 .mode(torch::kBilinear)
                                 .align_corners(false));
  };
  std::vector<torch::Tensor> flows;
  for (int64_t j = 0; j < neighbours.size(1); ++j) {
    auto a = lr, b = neighbours.select(1, j).contiguous();
    if (enlarge > 1) {
      a = resized(a, h * enlarge, w * enlarge);
      b = resized(b, h * enlarge, w * enlarge);
    }
    auto f = flow::bidirectional_flow(a, b).first;
    if (enlarge > 1) f = resized(f, h, w) / static_cast<double>(enlarge);
    flows.push_back(f);
  }
  return torch::stack(flows, 1);
}

}  // namespace fregan::models
