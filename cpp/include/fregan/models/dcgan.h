#pragma once
// DCGAN (the fifth seed): unconditional frame generation.  The generator maps a latent vector to a
// frame; the discriminator scores single frames.  Frames may be non-square (160x320 by default):
// the generator starts from a small map of the frame's aspect ratio (5x10 for 160x320) and doubles
// it `levels` times, so height and width must both be multiples of 2^levels.
//
// This is not an interpolation model: it does not go through the registry or the Trainer; see
// train/dcgan_trainer.h for its training loop and infer/frame_generator.h for inference.
#include <cstdint>
#include <string>

#include <nlohmann/json_fwd.hpp>
#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

namespace fregan::models {

// The model name written in DCGAN checkpoint headers.
constexpr const char* kDcganModelName = "dcgan";

struct DcganGeneratorOptions {
  int latent_dim = 100;
  // Output frame size; both must be multiples of 2^levels (the start map is height/2^levels x
  // width/2^levels).
  int height = 160;
  int width = 320;
  // Upsampling blocks (x2 each, BN + ReLU) after the projection; the last one outputs RGB + tanh.
  int levels = 5;
  // Channels of the last hidden block (at height/2 x width/2); doubled towards the start map and
  // capped at max_channels.  The seed (classic DCGAN) uses 64 and 512.
  int base_channels = 64;
  int max_channels = 512;
  // How the blocks upsample:
  //  "transposed": ConvTranspose2d 4x4 stride 2 padding 1, as in the seed;
  //  "subpixel":   Conv2d 3x3 to 4x the channels, then PixelShuffle(2), the same function class
  //                (each output pixel sees a 3x3 input neighbourhood) and on Debian's MKL-less
  //                CPU torch much faster (see benchmarks/README.md).
  std::string upsampling = "subpixel";
};

struct DcganDiscriminatorOptions {
  // Frame size the discriminator scores (the generator's); multiples of 2^levels.
  int height = 160;
  int width = 320;
  // Strided Conv 4x4 stride 2 -> BN (not on the first) -> LeakyReLU blocks, channels doubling from
  // base_channels up to max_channels; then one conv over the whole remaining map to one logit
  // (DCGAN's final dense layer, for any aspect ratio).
  int levels = 5;
  int base_channels = 64;
  int max_channels = 512;
  double leaky_slope = 0.2;
  // Spectral normalisation (Miyato et al. 2018) of every conv: each weight divided by its largest
  // singular value, estimated by one power iteration per training forward.  Keeps D 1-Lipschitz
  // per layer, the usual stabiliser on little data.  Off in the seed.
  bool spectral_norm = false;
  // BatchNorm after the strided convs (the seed's); SN-GAN's D has none.
  bool batch_norm = true;
};

// JSON with the field names as keys (strict: unknown keys are errors).
void to_json(nlohmann::json& j, const DcganGeneratorOptions& o);
void from_json(const nlohmann::json& j, DcganGeneratorOptions& o);
void to_json(nlohmann::json& j, const DcganDiscriminatorOptions& o);
void from_json(const nlohmann::json& j, DcganDiscriminatorOptions& o);

// Throws InvalidArgument naming the problem (e.g. "height 100 is not a multiple of 32 (2^levels)").
void validate(const DcganGeneratorOptions& o);
void validate(const DcganDiscriminatorOptions& o);

// A Conv2d whose weight is divided by an estimate of its largest singular value (the weight seen
// as a [out, in * kh * kw] matrix).  The singular vectors u, v are buffers: each forward in
// training mode refines them by one power iteration (no gradient through them, as in PyTorch's
// spectral_norm); in eval mode they are used as they are.
class SpectralNormConv2dImpl : public torch::nn::Module {
 public:
  explicit SpectralNormConv2dImpl(const torch::nn::Conv2dOptions& options);
  torch::Tensor forward(const torch::Tensor& x);
  // The weight divided by sigma = u^T W v with the current u, v (what forward convolves with).
  torch::Tensor normalized_weight() const;
  // `n` power iterations without a forward.
  void power_iterate(int n = 1);

  torch::Tensor weight, bias, u, v;

 private:
  torch::nn::Conv2dOptions options_;
};
TORCH_MODULE(SpectralNormConv2d);

class DcganGeneratorImpl : public torch::nn::Module {
 public:
  explicit DcganGeneratorImpl(const DcganGeneratorOptions& options = {});
  // z: [B, latent_dim] -> [B, 3, height, width] RGB in [-1, 1].
  torch::Tensor forward(const torch::Tensor& z);
  const DcganGeneratorOptions& options() const { return options_; }

 private:
  DcganGeneratorOptions options_;
  int start_height_ = 0, start_width_ = 0, start_channels_ = 0;
  torch::nn::Linear project_{nullptr};
  torch::nn::BatchNorm2d project_bn_{nullptr};
  torch::nn::ModuleList blocks_{nullptr};
};
TORCH_MODULE(DcganGenerator);

class DcganDiscriminatorImpl : public torch::nn::Module {
 public:
  explicit DcganDiscriminatorImpl(const DcganDiscriminatorOptions& options = {});
  // frames: [B, 3, height, width] RGB in [-1, 1] -> logits [B].
  torch::Tensor forward(const torch::Tensor& frames);
  const DcganDiscriminatorOptions& options() const { return options_; }

 private:
  DcganDiscriminatorOptions options_;
  torch::nn::Sequential body_{nullptr};
};
TORCH_MODULE(DcganDiscriminator);

// DCGAN's initialisation (Radford et al.): conv weights ~ N(0, 0.02), BN weights ~ N(1, 0.02),
// biases 0.  The constructors apply it.
void dcgan_init(torch::nn::Module& module);

// The latent vectors of samples [first, first + n) of `seed`: row i is drawn from its own
// generator seeded by (seed, first + i), so sample i is the same whatever n or batching is used.
torch::Tensor dcgan_latents(int64_t n, int latent_dim, uint64_t seed, int64_t first = 0);

struct Dcgan {
  nlohmann::json generator_options;      // complete, defaults filled in
  nlohmann::json discriminator_options;  // complete, defaults filled in
  DcganGenerator generator{nullptr};
  DcganDiscriminator discriminator{nullptr};  // null in stripped (inference) checkpoints
};

// Builds a DCGAN from JSON options (strict).  The discriminator's height/width default to the
// generator's; giving different ones is an error.
Dcgan create_dcgan(const nlohmann::json& generator_options = nlohmann::json::object(),
                   const nlohmann::json& discriminator_options = nlohmann::json::object(),
                   bool with_discriminator = true);

}  // namespace fregan::models
