#include "fregan/models/dcgan.h"

#include <algorithm>

#include <ATen/CPUGeneratorImpl.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "fregan/error.h"
#include "fregan/options_json.h"

namespace fregan::models {
namespace nn = torch::nn;

FREGAN_DEFINE_OPTIONS_JSON(DcganGeneratorOptions, "dcgan generator", latent_dim, height, width, levels, base_channels,
                           max_channels, upsampling)
FREGAN_DEFINE_OPTIONS_JSON(DcganDiscriminatorOptions, "dcgan discriminator", height, width, levels, base_channels,
                           max_channels, leaky_slope, spectral_norm, batch_norm)

namespace {

void check_size(const char* what, int height, int width, int levels) {
  require(levels >= 1 && levels <= 8, std::string(what) + ": levels must be in 1..8, got " + std::to_string(levels));
  require(height >= 1 && width >= 1, std::string(what) + ": height and width must be positive, got " +
                                         std::to_string(height) + "x" + std::to_string(width));
  const int m = 1 << levels;
  for (const auto& [name, value] : {std::pair<const char*, int>{"height", height}, {"width", width}}) {
    require(value % m == 0, std::string(what) + ": " + name + " " + std::to_string(value) + " is not a multiple of " +
                                std::to_string(m) + " (2^levels with levels " + std::to_string(levels) +
                                "); use a multiple of " + std::to_string(m) + " or fewer levels");
  }
}

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// Appends one x2 upsampling layer (no normalisation / activation) to `block`.
void push_upsample(nn::Sequential& block, int in, int out, const std::string& upsampling, bool bias) {
  if (upsampling == "transposed") {
    block->push_back(nn::ConvTranspose2d(nn::ConvTranspose2dOptions(in, out, 4).stride(2).padding(1).bias(bias)));
  } else {
    block->push_back(nn::Conv2d(nn::Conv2dOptions(in, 4 * out, 3).padding(1).bias(bias)));
    block->push_back(nn::PixelShuffle(nn::PixelShuffleOptions(2)));
  }
}

}  // namespace

void validate(const DcganGeneratorOptions& o) {
  require(o.latent_dim >= 1, "dcgan generator: latent_dim must be >= 1, got " + std::to_string(o.latent_dim));
  check_size("dcgan generator", o.height, o.width, o.levels);
  require(o.base_channels >= 1 && o.max_channels >= o.base_channels,
          "dcgan generator: need 1 <= base_channels <= max_channels");
  require(o.upsampling == "subpixel" || o.upsampling == "transposed",
          "dcgan generator: upsampling must be 'subpixel' or 'transposed', got '" + o.upsampling + "'");
}

void validate(const DcganDiscriminatorOptions& o) {
  check_size("dcgan discriminator", o.height, o.width, o.levels);
  require(o.base_channels >= 1 && o.max_channels >= o.base_channels,
          "dcgan discriminator: need 1 <= base_channels <= max_channels");
  require(o.leaky_slope >= 0 && o.leaky_slope < 1, "dcgan discriminator: leaky_slope must be in [0, 1)");
}

void dcgan_init(nn::Module& module) {
  torch::NoGradGuard no_grad;
  // include_self=false: the constructors call this before the module is in a shared_ptr.
  for (auto& m : module.modules(/*include_self=*/false)) {
    if (auto* conv = m->as<nn::Conv2d>()) {
      conv->weight.normal_(0.0, 0.02);
      if (conv->bias.defined()) conv->bias.zero_();
    } else if (auto* convt = m->as<nn::ConvTranspose2d>()) {
      convt->weight.normal_(0.0, 0.02);
      if (convt->bias.defined()) convt->bias.zero_();
    } else if (auto* linear = m->as<nn::Linear>()) {
      linear->weight.normal_(0.0, 0.02);
      if (linear->bias.defined()) linear->bias.zero_();
    } else if (auto* bn = m->as<nn::BatchNorm2d>()) {
      bn->weight.normal_(1.0, 0.02);
      bn->bias.zero_();
    }
  }
}

SpectralNormConv2dImpl::SpectralNormConv2dImpl(const nn::Conv2dOptions& o) : options_(o) {
  const auto& k = o.kernel_size();
  weight = register_parameter("weight",
                              torch::empty({o.out_channels(), o.in_channels(), k->at(0), k->at(1)}).normal_(0.0, 0.02));
  if (o.bias()) bias = register_parameter("bias", torch::zeros({o.out_channels()}));
  const int64_t cols = o.in_channels() * k->at(0) * k->at(1);
  u = register_buffer("u", torch::nn::functional::normalize(torch::randn({o.out_channels()}),
                                                            torch::nn::functional::NormalizeFuncOptions().dim(0)));
  v = register_buffer("v", torch::zeros({cols}));
  power_iterate(1);
}

void SpectralNormConv2dImpl::power_iterate(int n) {
  torch::NoGradGuard no_grad;
  const auto w = weight.flatten(1);
  const auto unit = torch::nn::functional::NormalizeFuncOptions().dim(0).eps(1e-12);
  for (int i = 0; i < n; ++i) {
    v.copy_(torch::nn::functional::normalize(torch::mv(w.t(), u), unit));
    u.copy_(torch::nn::functional::normalize(torch::mv(w, v), unit));
  }
}

torch::Tensor SpectralNormConv2dImpl::normalized_weight() const {
  // Copies of u, v: the graph of this forward must not see the next forward's power iteration
  // (D runs on real and generated frames before one backward).
  const auto sigma = torch::dot(u.clone(), torch::mv(weight.flatten(1), v.clone()));
  return weight / sigma;
}

torch::Tensor SpectralNormConv2dImpl::forward(const torch::Tensor& x) {
  if (is_training()) power_iterate(1);
  return torch::nn::functional::conv2d(
      x, normalized_weight(),
      torch::nn::functional::Conv2dFuncOptions().bias(bias).stride(options_.stride()).padding(options_.padding()));
}

DcganGeneratorImpl::DcganGeneratorImpl(const DcganGeneratorOptions& o) : options_(o) {
  validate(o);
  // Channels at resolution level l (0 = the start map, levels = the output).
  auto channels = [&](int l) { return std::min(o.base_channels << std::min(o.levels - 1 - l, 20), o.max_channels); };
  start_height_ = o.height >> o.levels;
  start_width_ = o.width >> o.levels;
  start_channels_ = channels(0);
  // DCGAN's first layer (a ConvTranspose from 1x1 to the start map) is this dense projection.
  project_ = register_module(
      "project",
      nn::Linear(nn::LinearOptions(o.latent_dim, int64_t{start_channels_} * start_height_ * start_width_).bias(false)));
  project_bn_ = register_module("project_bn", nn::BatchNorm2d(start_channels_));
  blocks_ = register_module("blocks", nn::ModuleList());
  for (int l = 0; l < o.levels; ++l) {
    const bool last = l == o.levels - 1;
    nn::Sequential block;
    push_upsample(block, channels(l), last ? 3 : channels(l + 1), o.upsampling, /*bias=*/last);
    if (last) {
      block->push_back(nn::Tanh());
    } else {
      block->push_back(nn::BatchNorm2d(channels(l + 1)));
      block->push_back(nn::ReLU());
    }
    blocks_->push_back(block);
  }
  dcgan_init(*this);
}

torch::Tensor DcganGeneratorImpl::forward(const torch::Tensor& z) {
  require(
      z.dim() == 2 && z.size(1) == options_.latent_dim,
      "dcgan generator expects latents [B, " + std::to_string(options_.latent_dim) + "], got " + c10::str(z.sizes()));
  auto x = project_->forward(z).view({z.size(0), start_channels_, start_height_, start_width_});
  x = torch::relu(project_bn_->forward(x));
  for (const auto& block : *blocks_) x = block->as<nn::Sequential>()->forward(x);
  return x;
}

DcganDiscriminatorImpl::DcganDiscriminatorImpl(const DcganDiscriminatorOptions& o) : options_(o) {
  validate(o);
  body_ = register_module("body", nn::Sequential());
  int in = 3;
  auto conv = [&](const nn::Conv2dOptions& c) {
    if (o.spectral_norm) body_->push_back(SpectralNormConv2d(c));
    else body_->push_back(nn::Conv2d(c));
  };
  for (int l = 0; l < o.levels; ++l) {
    const int out = std::min(o.base_channels << std::min(l, 20), o.max_channels);
    const bool bn = l > 0 && o.batch_norm;
    conv(nn::Conv2dOptions(in, out, 4).stride(2).padding(1).bias(!bn));
    if (bn) body_->push_back(nn::BatchNorm2d(out));
    body_->push_back(nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(o.leaky_slope)));
    in = out;
  }
  // One logit from the whole remaining (height/2^levels x width/2^levels) map.
  conv(nn::Conv2dOptions(in, 1, {o.height >> o.levels, o.width >> o.levels}));
  dcgan_init(*this);
}

torch::Tensor DcganDiscriminatorImpl::forward(const torch::Tensor& frames) {
  require(
      frames.dim() == 4 && frames.size(1) == 3 && frames.size(2) == options_.height && frames.size(3) == options_.width,
      "dcgan discriminator expects frames [B, 3, " + std::to_string(options_.height) + ", " +
          std::to_string(options_.width) + "], got " + c10::str(frames.sizes()));
  return body_->forward(frames).view({frames.size(0)});
}

torch::Tensor dcgan_latents(int64_t n, int latent_dim, uint64_t seed, int64_t first) {
  require(n >= 0 && latent_dim >= 1 && first >= 0, "dcgan latents: need n >= 0, latent_dim >= 1, first >= 0");
  auto z = torch::empty({n, latent_dim});
  for (int64_t i = 0; i < n; ++i) {
    auto gen = at::detail::createCPUGenerator(splitmix64(seed ^ splitmix64(static_cast<uint64_t>(first + i))));
    z[i].copy_(torch::randn({latent_dim}, gen));
  }
  return z;
}

Dcgan create_dcgan(const nlohmann::json& generator_options, const nlohmann::json& discriminator_options,
                   bool with_discriminator) {
  auto g = generator_options.is_null() ? DcganGeneratorOptions{} : generator_options.get<DcganGeneratorOptions>();
  validate(g);
  DcganDiscriminatorOptions d;
  d.height = g.height;
  d.width = g.width;
  d.levels = g.levels;
  const nlohmann::json dj = discriminator_options.is_null() ? nlohmann::json::object() : discriminator_options;
  d = [&] {
    // Fill the defaults from the generator first, then read the given keys strictly.
    nlohmann::json full = d;
    require(dj.is_object(), "dcgan discriminator options must be a JSON object");
    full.update(dj);
    return full.get<DcganDiscriminatorOptions>();
  }();
  require(d.height == g.height && d.width == g.width,
          "dcgan: the discriminator's frame size " + std::to_string(d.height) + "x" + std::to_string(d.width) +
              " differs from the generator's " + std::to_string(g.height) + "x" + std::to_string(g.width));
  Dcgan model;
  model.generator_options = g;
  model.discriminator_options = d;
  model.generator = DcganGenerator(g);
  if (with_discriminator) model.discriminator = DcganDiscriminator(d);
  return model;
}

}  // namespace fregan::models
