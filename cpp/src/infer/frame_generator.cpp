#include "fregan/infer/frame_generator.h"

#include <cstdlib>
#include <filesystem>

#include <torch/torch.h>

#include "fregan/device.h"
#include "fregan/error.h"
#include "fregan/io/image.h"
#include "fregan/models/checkpoint.h"
#include "fregan/zoo/zoo.h"

namespace fs = std::filesystem;

namespace fregan::infer {
namespace {

constexpr const char* kDefaultGeneratorFile = "dcgan-default.pt";

}  // namespace

std::string default_generator_weights_path() {
  return zoo::default_weights(kDefaultGeneratorFile, "FREGAN_DCGAN_WEIGHTS");
}

FrameGenerator::FrameGenerator(const std::string& weights, const std::string& device) : device_(select_device(device)) {
  set_num_threads(0);
  const std::string path = weights.empty() ? default_generator_weights_path() : zoo::resolve_weights(weights);
  models::CheckpointMeta meta;
  auto model = models::load_dcgan(path, device_, &meta, /*with_discriminator=*/false);
  generator_ = model.generator;
  options_ = generator_->options();
  step_ = meta.step;
  generator_->eval();
}

torch::Tensor FrameGenerator::generate(int64_t n, uint64_t seed, int64_t first, int64_t batch_size) {
  require(n >= 1, "generate: n must be >= 1, got " + std::to_string(n));
  require(first >= 0, "generate: first must be >= 0");
  require(batch_size >= 1, "generate: batch_size must be >= 1");
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> parts;
  for (int64_t i = 0; i < n; i += batch_size) {
    const int64_t m = std::min(batch_size, n - i);
    const auto z = models::dcgan_latents(m, options_.latent_dim, seed, first + i).to(device_);
    parts.push_back(generator_->forward(z).add(1.0).mul(0.5).clamp(0.0, 1.0).cpu());
  }
  return torch::cat(parts, 0);
}

std::vector<cv::Mat> FrameGenerator::generate_images(int64_t n, uint64_t seed, int64_t first) {
  const auto frames = generate(n, seed, first);
  std::vector<cv::Mat> images;
  images.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) images.push_back(io::tensor_to_image(frames[i]));
  return images;
}

}  // namespace fregan::infer
