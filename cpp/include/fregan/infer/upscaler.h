#pragma once
// x4 video super-resolution with a trained SpectraFrame generator: one frame from itself and its
// neighbours (flows computed here), whole clips scored against bicubic, and videos streamed
// through a bounded window of frames.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>
#include <opencv2/core.hpp>
#include <torch/types.h>

#include "fregan/data/sr_dataset.h"
#include "fregan/models/spectraframe.h"

namespace fregan::infer {

// The SpectraFrame checkpoint used when none is named: $FREGAN_SR_WEIGHTS if set, else the
// shipped spectraframe.pt.  Throws FileError when none is found.
std::string default_upscaler_weights_path();

// The baseline: OpenCV bicubic (INTER_CUBIC) upscaling of an 8-bit image by `scale`.
cv::Mat bicubic_upscale(const cv::Mat& lr, int scale);

// How Upscaler bounds its memory: the generator runs on tiles of the LR frame, each with `overlap`
// LR pixels of context on every side that is cut away again from its output, so a frame of any
// size needs the memory of one tile (the flows are computed on the whole LR frame first: DIS
// needs little memory and sees the whole motion).  With overlap >= the generator's receptive
// field the tiles give the whole-frame result; 16 LR pixels keep the difference below one grey
// level for the shipped model (tests/cpp/test_upscaler).
struct SrTilingOptions {
  // Largest tile side in LR pixels (0 = never tile).  An axis no longer than tile + 2 * overlap is
  // not split; a longer one is cut into equal parts of at most `tile`.
  int tile = 256;
  int overlap = 16;
};
void validate(const SrTilingOptions& o);

class Upscaler {
 public:
  // Loads the generator of a SpectraFrame checkpoint (empty = default_upscaler_weights_path()) on
  // `device` ("auto", "cpu", "cuda[:N]").  Throws CheckpointError for another model's checkpoint.
  explicit Upscaler(const std::string& weights = "", const std::string& device = "auto");
  // Uses a generator in memory (e.g. the one being trained) without copying it.
  Upscaler(models::SpectraFrameGenerator generator, torch::Device device);

  // lr [B, 3, h, w], neighbours [B, n, 3, h, w] RGB in [0, 1] (any device) -> [B, 3, 4h, 4w] in
  // [0, 1] on lr's device.  Runs in eval mode without gradients.
  torch::Tensor upscale(const torch::Tensor& lr, const torch::Tensor& neighbours);
  // 8-bit BGR frame and its neighbours (neighbour_indices order) -> 8-bit BGR, 4x the size.
  cv::Mat upscale(const cv::Mat& lr, const std::vector<cv::Mat>& neighbours);

  // The neighbours of frame t in a clip of `count` frames (count = -1: not known yet, the clip
  // goes on): t - n/2 .. t + n - n/2 without t, clamped to the clip, the order training used
  // (data::make_sr_batch).
  std::vector<int64_t> neighbour_indices(int64_t t, int64_t count) const;

  // Tiling for frames of any size (default SrTilingOptions{}).
  void set_tiling(const SrTilingOptions& tiling);
  const SrTilingOptions& tiling() const { return tiling_; }

  int scale() const { return generator_->options().scale; }
  int neighbours() const { return generator_->options().neighbours; }
  torch::Device device() const { return device_; }
  int64_t step() const { return step_; }  // training steps of the loaded weights

 private:
  torch::Device device_;
  models::SpectraFrameGenerator generator_{nullptr};
  int64_t step_ = 0;
  SrTilingOptions tiling_;
};

struct SrScores {
  double psnr = 0;  // dB, mean over frames (RGB)
  double ssim = 0;
  // What papers report for x4 SR: the Y channel (BT.601) with a 4-pixel border cropped
  // (metrics::psnr_y / ssim_y).
  double psnr_y = 0;
  double ssim_y = 0;
  double sharpness_y = 0;  // metrics::sharpness_y: fine detail against the HR frame's (1 = as much)
};
struct SrEvaluation {
  int64_t frames = 0;
  SrScores model, bicubic;
};
nlohmann::json to_json(const SrEvaluation& e);

// Scores on clips with ground truth: `max_frames` evenly spaced frames (0 = all) of `dataset`,
// each centre-cropped to `crop` x `crop` (0 = the whole frame; cut down to multiples of the
// scale), downscaled by data::bicubic_downsample, upscaled by the model and by bicubic_upscale;
// 8-bit outputs against the HR frame.
SrEvaluation evaluate_sr(Upscaler& upscaler, const data::SrDataset& dataset, int64_t max_frames = 0, int crop = 0);

struct UpscaleVideoProgress {
  int64_t frames_done = 0, frames_total = 0;  // total as the container reports it (may be 0)
  double frames_per_second = 0;
};

struct UpscaleVideoOptions {
  std::string input;   // a video file or a folder of frames
  std::string output;  // a video file; empty = none (evaluation only)
  // The input is the LR video (output 4x its size).  Otherwise (evaluation mode) each frame, cut
  // to multiples of 4, is downscaled by bicubic x4 first, upscaled back, and scored against the
  // original beside bicubic upscaling.
  bool upscale_only = false;
  int64_t max_frames = 0;  // 0 = all
  bool overwrite = false;
  std::string codec = "libx264";
  int crf = 18;
  bool keep_audio = true;
  std::function<bool(const UpscaleVideoProgress&)> progress;  // return false to stop (not in JSON)
};
// Strict JSON of the fields above but `progress` (the binding's and any config's route).
void to_json(nlohmann::json& j, const UpscaleVideoOptions& o);
void from_json(const nlohmann::json& j, UpscaleVideoOptions& o);

struct UpscaleVideoResult {
  int64_t frames = 0;
  int lr_width = 0, lr_height = 0, width = 0, height = 0;  // LR input and SR output sizes
  double fps = 0;
  bool evaluated = false;  // evaluation mode: `scores` is set
  SrEvaluation scores;
  bool audio_kept = false;
  double seconds = 0;
  // Where the time went: flows + model (Upscaler::upscale) and the scores; the rest of `seconds`
  // is reading, decoding, downscaling and encoding.
  double upscale_seconds = 0, score_seconds = 0;
};
nlohmann::json to_json(const UpscaleVideoResult& r);

// Streams the input through the upscaler holding at most neighbours() + 1 frames: frame t is
// written as soon as frame t + n - n/2 has been read.  Every frame sees the same kind of
// neighbourhood as in training (no scene-cut special cases), so consecutive outputs stay
// consistent.  The output is written atomically (temporary file + rename).
UpscaleVideoResult upscale_video(Upscaler& upscaler, const UpscaleVideoOptions& options);

}  // namespace fregan::infer
