#pragma once
// Loads a generator once and interpolates frames of any size with it: pads to the model's size
// multiple (replicate padding), runs, crops back, clamps to [0, 1].
#include <memory>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <torch/types.h>

#include "fregan/models/interpolation_net.h"

namespace fregan::infer {

// The checkpoint fregan uses when none is named: $FREGAN_WEIGHTS if set, else the shipped
// fregan-flow.pt (beside the installed package, or in the source tree).  Throws FileError
// when none is found.
std::string default_weights_path();

// Memory-bounded inference: frames larger than `tile` (after padding to the model's size multiple)
// are run through the network in overlapping tile x tile pieces, stitched with a cosine blend, so
// peak memory depends on the tile, not the frame.  Tiles start at multiples of the model's
// size_multiple() (tile is rounded down and overlap up to one), so pooling grids line up with the
// whole frame's.  Each tile's pixels within overlap/4 of a cut edge get no weight and the next
// overlap/2 ramp from 0 to 1, so a tiled result equals the untiled one exactly when overlap/4 covers
// the model's receptive-field radius (the pixels a network output depends on, plus K/2 for the
// kernel models); smaller overlaps still blend without visible seams but may differ slightly.
struct TilingOptions {
  int64_t tile = 0;       // side of a square tile in pixels; 0 = whole frames
  int64_t overlap = 128;  // pixels shared by neighbouring tiles; must be < tile
};

class Interpolator {
 public:
  // Loads `weights` (empty = default_weights_path()) on `device` ("auto", "cpu", "cuda[:N]").
  explicit Interpolator(const std::string& weights = "", const std::string& device = "auto");
  // Uses a generator in memory (e.g. the one being trained) without copying it.
  Interpolator(std::shared_ptr<models::InterpolationNetImpl> net, torch::Device device, std::string model_name);

  // f0, f1: [3, H, W] or [B, 3, H, W] float RGB in [0, 1] (any device); returns the frame at time
  // t in (0, 1) on f0's device.  Flow-guided models take any t; models that predict the middle
  // frame reach other dyadic t (0.25, 0.375, ...) by recursive bisection, and refuse other t.
  torch::Tensor interpolate(const torch::Tensor& f0, const torch::Tensor& f1, double t = 0.5);
  // Images of equal size as stored (io::read_frame): 8- or 16-bit, BGR or BGRA.  The colour goes
  // through the model; the result has the deeper of the two depths and, where either image has
  // alpha (an image without it counting as opaque), alpha: moved with the colour by a model that
  // warps_alpha() (fregan-flow), else blended at t ((1 - t) a0 + t a1).
  cv::Mat interpolate(const cv::Mat& f0, const cv::Mat& f1, double t = 0.5);
  // The factor-1 frames at t = 1/factor, ..., (factor-1)/factor (a power of two for middle-frame
  // models); each intermediate frame is computed once.
  std::vector<torch::Tensor> interpolate_sequence(const torch::Tensor& f0, const torch::Tensor& f1, int factor);
  // The frames at the given times in (0, 1), in order.
  std::vector<torch::Tensor> interpolate_times(const torch::Tensor& f0, const torch::Tensor& f1,
                                               const std::vector<double>& times);
  // The same with the pair's neighbours (the frames before f0 and after f1 in their video; either
  // may be undefined), shaped like f0: a four-frame model (fregan-flow) makes the flows to t
  // acceleration-aware, other models ignore the neighbours.  The model keeps the flows of the last
  // few frame pairs, so calls over consecutive pairs of a video compute each pair's flows once.
  std::vector<torch::Tensor> interpolate_times(const models::FrameWindow& window, const std::vector<double>& times);
  torch::Tensor interpolate(const models::FrameWindow& window, double t = 0.5);
  // Images as above; `before` / `after` may be empty.  A neighbour is used only where the video job
  // would use it (data::usable_neighbours: not across a cut, not a held frame, not for a still pair).
  cv::Mat interpolate(const cv::Mat& before, const cv::Mat& f0, const cv::Mat& f1, const cv::Mat& after,
                      double t = 0.5);
  // Whether RGBA frames ([4, H, W] tensors) go through the model, the alpha moved with the colour.
  bool warps_alpha() const { return net_->warps_alpha(); }
  // Whether the model uses a pair's neighbours.
  bool uses_neighbours() const { return net_->uses_neighbours(); }
  // Whether any t in (0, 1) is reachable (else only k / 2^d).
  bool supports_any_time() const { return net_->supports_timestep(); }
  // interpolate*() may be called from two threads at once (see InterpolationNetImpl).
  bool supports_concurrent_calls() const { return net_->stateless_inference(); }

  // Throws InvalidArgument for tile < 0 or, with tiling on, overlap < 0 or overlap >= tile, and for
  // tiling a model whose motion comes from optical flow over the whole frame (fregan-flow, the
  // flow-aligned seeds): tiles change its result and save no memory.
  void set_tiling(const TilingOptions& tiling);

  // The memory one interpolation of an HxW pair needs beyond what is loaded, in bytes (the model's
  // measured peak per pixel), and the check every entry point makes before the work: when the
  // machine has less available (available_memory_bytes()), a model that tiles well is switched to
  // tiles that fit (said once in the log), and any other is refused with the figures and the fix.
  int64_t estimated_bytes(int64_t height, int64_t width) const;
  // What tiles cannot save, per pixel: the float frames, their padded copies, the tiled output's
  // accumulators and the 8-bit images around them.
  static constexpr int64_t kFrameBytesPerPixel = 96;
  void fit_to_memory(int64_t height, int64_t width);
  const TilingOptions& tiling() const { return tiling_; }

  const std::string& model_name() const { return model_name_; }
  torch::Device device() const { return device_; }

 private:
  torch::Tensor midpoint(const torch::Tensor& f0, const torch::Tensor& f1);      // [B,3,H,W] on device_
  torch::Tensor at(const torch::Tensor& f0, const torch::Tensor& f1, double t);  // pad, run, crop, clamp
  // at() for several t; untiled, one forward_times() call (fregan-flow computes its flow once).
  std::vector<torch::Tensor> at_times(const torch::Tensor& f0, const torch::Tensor& f1,
                                      const std::vector<double>& times);
  // The network on padded frames (multiples of size_multiple()), by tiles when they exceed the tile.
  torch::Tensor run_tiled(const torch::Tensor& f0, const torch::Tensor& f1, double t);
  std::shared_ptr<models::InterpolationNetImpl> net_;
  torch::Device device_;
  std::string model_name_;
  TilingOptions tiling_;
};

}  // namespace fregan::infer
