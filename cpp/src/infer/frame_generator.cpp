#include "fregan/infer/frame_generator.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include <torch/torch.h>

#include "fregan/device.h"
#include "fregan/error.h"
#include "fregan/io/atomic_file.h"
#include "fregan/io/image.h"
#include "fregan/io/output_guard.h"
#include "fregan/io/video.h"
#include "fregan/models/checkpoint.h"
#include "fregan/zoo/zoo.h"

namespace fs = std::filesystem;

namespace fregan::infer {
namespace {

constexpr const char* kDefaultGeneratorFile = "dcgan-default.pt";

// Below this sine of the angle between two latents the great circle through them is not defined
// (parallel or opposite directions): slerp falls back to a linear blend.
constexpr double kSlerpMinSine = 1e-6;

}  // namespace

std::string default_generator_weights_path() {
  return zoo::default_weights(kDefaultGeneratorFile, "FREGAN_DCGAN_WEIGHTS");
}

void check_walk_options(const LatentWalkOptions& o) {
  require(o.keys >= 2,
          "latent walk: keys must be >= 2 (a walk goes from one key frame to another), got " + std::to_string(o.keys));
  require(o.frames_between >= 0, "latent walk: frames_between must be >= 0, got " + std::to_string(o.frames_between));
}

int64_t walk_frame_count(const LatentWalkOptions& o) {
  check_walk_options(o);
  return o.keys + (o.loop ? o.keys : o.keys - 1) * o.frames_between;
}

// Spherical, not linear: DCGAN latents are Gaussian, and in many dimensions two of them are nearly
// orthogonal with nearly the same norm.  The straight line between them passes closer to the
// origin (its midpoint has about 1/sqrt(2) of their norm), where the generator has seen almost no
// latents in training and draws washed-out, average-looking frames; the great circle keeps the
// norm of the latents it was trained on.
torch::Tensor slerp(const torch::Tensor& a, const torch::Tensor& b, double t) {
  FREGAN_CHECK(a.sizes() == b.sizes() && a.dim() >= 1, "slerp: a and b must have one shape, got ", a.sizes(), " and ",
               b.sizes());
  const auto a64 = a.to(torch::kFloat64), b64 = b.to(torch::kFloat64);
  const auto norms = a64.norm(2, -1, /*keepdim=*/true) * b64.norm(2, -1, /*keepdim=*/true);
  const auto cosine = ((a64 * b64).sum(-1, /*keepdim=*/true) / norms.clamp_min(1e-300)).clamp(-1.0, 1.0);
  const auto omega = torch::acos(cosine);
  const auto sine = torch::sin(omega);
  const auto defined = sine > kSlerpMinSine;
  const auto safe_sine = torch::where(defined, sine, torch::ones_like(sine));
  const auto wa = torch::where(defined, torch::sin((1.0 - t) * omega) / safe_sine, torch::full_like(sine, 1.0 - t));
  const auto wb = torch::where(defined, torch::sin(t * omega) / safe_sine, torch::full_like(sine, t));
  return (wa * a64 + wb * b64).to(a.scalar_type());
}

torch::Tensor walk_latents(int latent_dim, const LatentWalkOptions& o, uint64_t seed, int64_t first) {
  require(first >= 0, "latent walk: first must be >= 0, got " + std::to_string(first));
  const int64_t total = walk_frame_count(o);
  const int64_t stride = o.frames_between + 1;
  const auto keys = models::dcgan_latents(o.keys, latent_dim, seed, first);
  auto z = torch::empty({total, latent_dim});
  for (int64_t k = 0; k < o.keys; ++k) {
    z[k * stride].copy_(keys[k]);
    if (k + 1 == o.keys && !o.loop) break;
    const auto next = keys[(k + 1) % o.keys];
    for (int64_t j = 1; j < stride; ++j) {
      z[k * stride + j].copy_(slerp(keys[k], next, static_cast<double>(j) / static_cast<double>(stride)));
    }
  }
  return z;
}

FrameGenerator::FrameGenerator(const std::string& weights, const std::string& device) : device_(select_device(device)) {
  set_num_threads(0);
  weights_path_ = weights.empty() ? default_generator_weights_path() : zoo::resolve_weights(weights);
  models::CheckpointMeta meta;
  auto model = models::load_dcgan(weights_path_, device_, &meta, /*with_discriminator=*/false);
  generator_ = model.generator;
  options_ = generator_->options();
  step_ = meta.step;
  generator_->eval();
}

torch::Tensor FrameGenerator::generate(int64_t n, uint64_t seed, int64_t first, int64_t batch_size) {
  require(n >= 1, "generate: n must be >= 1, got " + std::to_string(n));
  require(first >= 0, "generate: first must be >= 0");
  return frames_of(models::dcgan_latents(n, options_.latent_dim, seed, first), batch_size);
}

torch::Tensor FrameGenerator::frames_of(const torch::Tensor& z, int64_t batch_size) {
  require(batch_size >= 1, "generate: batch_size must be >= 1");
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> parts;
  const int64_t n = z.size(0);
  for (int64_t i = 0; i < n; i += batch_size) {
    const auto batch = z.narrow(0, i, std::min(batch_size, n - i)).to(device_);
    parts.push_back(generator_->forward(batch).add(1.0).mul(0.5).clamp(0.0, 1.0).cpu());
  }
  return torch::cat(parts, 0);
}

namespace {

std::vector<cv::Mat> to_images(const torch::Tensor& frames) {
  std::vector<cv::Mat> images;
  images.reserve(static_cast<size_t>(frames.size(0)));
  for (int64_t i = 0; i < frames.size(0); ++i) images.push_back(io::tensor_to_image(frames[i]));
  return images;
}

}  // namespace

std::vector<cv::Mat> FrameGenerator::generate_images(int64_t n, uint64_t seed, int64_t first) {
  return to_images(generate(n, seed, first));
}

torch::Tensor FrameGenerator::walk(const LatentWalkOptions& walk_options, uint64_t seed, int64_t first,
                                   int64_t batch_size) {
  const auto z = walk_latents(options_.latent_dim, walk_options, seed, first);
  const int64_t total = z.size(0), stride = walk_options.frames_between + 1;
  const auto rows = torch::arange(total, torch::kLong);
  const auto key_rows = rows.masked_select(rows.remainder(stride) == 0);
  const auto between_rows = rows.masked_select(rows.remainder(stride) != 0);
  auto frames = torch::empty({total, 3, options_.height, options_.width});
  // The key frames through `generate` itself (the same latents, the same batches): a batch of other
  // latents may round a frame differently in the last bit, and the walk is to pass exactly
  // through the frames `generate` shows.
  frames.index_copy_(0, key_rows, generate(walk_options.keys, seed, first, batch_size));
  if (between_rows.numel() > 0) {
    frames.index_copy_(0, between_rows, frames_of(z.index_select(0, between_rows), batch_size));
  }
  return frames;
}

std::vector<cv::Mat> FrameGenerator::walk_images(const LatentWalkOptions& walk_options, uint64_t seed, int64_t first) {
  return to_images(walk(walk_options, seed, first));
}

int64_t FrameGenerator::write_walk(const std::string& path, const LatentWalkOptions& walk_options, double fps,
                                   bool overwrite, uint64_t seed, int64_t first) {
  check_walk_options(walk_options);
  require(io::is_video_file(path), "walk output '" + path + "' is not a video file name (.mp4, .gif, .webm, ...)");
  require(std::isfinite(fps) && fps > 0, "walk: fps must be a positive number, got " + std::to_string(fps));
  io::check_output_is_not_an_input(path, {weights_path_});
  io::VideoWriterOptions writer_options;
  writer_options.fps = fps;
  writer_options.codec = io::codec_for_container(path, "");
  io::AtomicOutput output(path, overwrite);
  const auto images = walk_images(walk_options, seed, first);
  io::VideoWriter writer(output.temp_path(), options_.width, options_.height, writer_options);
  for (const auto& image : images) writer.write(image);
  writer.close();  // throws unless the file holds every frame
  output.commit();
  return static_cast<int64_t>(images.size());
}

}  // namespace fregan::infer
