#pragma once
// Unconditional frame generation with a trained DCGAN: latents of a seed -> frames.  Deterministic:
// frame i of a seed is the same whatever n, batch size or device thread count.  A latent walk
// morphs through a seed's frames: the frames between them come from latents between theirs.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>
#include <opencv2/core.hpp>
#include <torch/types.h>

#include "fregan/models/dcgan.h"

namespace fregan::infer {

// The DCGAN checkpoint used when none is named: $FREGAN_DCGAN_WEIGHTS if set, else the shipped
// dcgan-default.pt (beside the installed package, or in the source tree).  Throws FileError when
// none is found.
std::string default_generator_weights_path();

// A walk through latent space.  Its keys are the latents of frames first, ..., first + keys - 1 of
// a seed (the frames `generate` gives for that seed), and it passes through each: key k is frame
// k * (frames_between + 1) of the walk.
struct LatentWalkOptions {
  int64_t keys = 8;             // key frames, >= 2
  int64_t frames_between = 12;  // interpolated frames between two consecutive keys, >= 0
  // Also walk from the last key back towards the first (the first is not repeated at the end), so
  // that a video of the walk played in a loop has no jump.
  bool loop = false;
};
void to_json(nlohmann::json& j, const LatentWalkOptions& o);
void from_json(const nlohmann::json& j, LatentWalkOptions& o);

// Throws InvalidArgument unless keys >= 2 and frames_between >= 0.
void check_walk_options(const LatentWalkOptions& o);

// The frames of a walk: keys + (keys - 1) * frames_between, plus frames_between with loop.
int64_t walk_frame_count(const LatentWalkOptions& o);

// Spherical interpolation from `a` (t = 0) to `b` (t = 1) along their last dimension, row by row:
// along the great circle between their directions, with the norm moving from |a| to |b|.
// Latents this close to parallel or opposite (the circle is undefined) are interpolated linearly.
torch::Tensor slerp(const torch::Tensor& a, const torch::Tensor& b, double t);

// The latents of a walk: [walk_frame_count(o), latent_dim], key k (the row models::dcgan_latents
// gives for frame first + k of `seed`) at row k * (frames_between + 1), slerp between.
torch::Tensor walk_latents(int latent_dim, const LatentWalkOptions& o, uint64_t seed = 0, int64_t first = 0);

class FrameGenerator {
 public:
  // Loads the generator of a DCGAN checkpoint (empty = default_generator_weights_path()) on
  // `device` ("auto", "cpu", "cuda[:N]").  Throws CheckpointError for a non-DCGAN checkpoint.
  explicit FrameGenerator(const std::string& weights = "", const std::string& device = "auto");

  // Frames [first, first + n) of `seed`: [n, 3, H, W] float RGB in [0, 1] on the CPU, computed in
  // batches of at most `batch_size`.
  torch::Tensor generate(int64_t n, uint64_t seed = 0, int64_t first = 0, int64_t batch_size = 16);
  // The same as 8-bit BGR images (what OpenCV writes).
  std::vector<cv::Mat> generate_images(int64_t n, uint64_t seed = 0, int64_t first = 0);

  // The frames of a walk through the latents of frames first, ..., first + keys - 1 of `seed`
  // (walk_latents): [walk_frame_count(walk_options), 3, H, W] like `generate`.  Its key frames are the
  // frames `generate(walk_options.keys, seed, first, batch_size)` gives, exactly.
  torch::Tensor walk(const LatentWalkOptions& walk_options, uint64_t seed = 0, int64_t first = 0,
                     int64_t batch_size = 16);
  std::vector<cv::Mat> walk_images(const LatentWalkOptions& walk_options, uint64_t seed = 0, int64_t first = 0);
  // Writes the walk as a video of `fps` frames a second to `path`, in the codec of its container
  // (.mp4 H.264, .gif, .webm VP9, ...; io::codec_for_container), through a temporary file renamed
  // onto `path` once it holds every frame.  An existing `path` is replaced only with `overwrite`,
  // and never when it is the weights.  The output is checked before any frame is made.  Returns
  // the number of frames written.
  int64_t write_walk(const std::string& path, const LatentWalkOptions& walk_options, double fps, bool overwrite,
                     uint64_t seed = 0, int64_t first = 0);

  int height() const { return options_.height; }
  int width() const { return options_.width; }
  int latent_dim() const { return options_.latent_dim; }
  int64_t step() const { return step_; }  // training steps of the loaded weights
  torch::Device device() const { return device_; }
  const std::string& weights_path() const { return weights_path_; }

 private:
  // The generator on the latents `z` [n, latent_dim], in batches of at most `batch_size`.
  torch::Tensor frames_of(const torch::Tensor& z, int64_t batch_size);

  torch::Device device_;
  std::string weights_path_;
  models::DcganGenerator generator_{nullptr};
  models::DcganGeneratorOptions options_;
  int64_t step_ = 0;
};

}  // namespace fregan::infer
