#pragma once
// Single frames for unconditional GANs (DCGAN): every k-th frame of each clip, with the skip raised
// per clip to reach a target count, shuffled or in temporal order.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>
#include <opencv2/core.hpp>
#include <torch/types.h>

#include "fregan/data/frame_source.h"

namespace fregan::data {

struct FrameDatasetOptions {
  std::vector<std::string> sources;   // videos, frame folders, prepared datasets, folders of them
  std::string split = "train";        // prepared datasets: train, val, test or all
  int frame_skip = 1;                 // keep every frame_skip-th frame
  int64_t target_frames = 0;          // > 0: raise the skip so about this many frames are kept in all
  int64_t max_frames_per_source = 0;  // decode at most this many frames per clip (0 = all)
};
// Strict JSON of the fields above (the binding's route from keyword arguments).
void to_json(nlohmann::json& j, const FrameDatasetOptions& o);
void from_json(const nlohmann::json& j, FrameDatasetOptions& o);

class FrameDataset {
 public:
  explicit FrameDataset(const FrameDatasetOptions& options);
  size_t size() const { return index_.size(); }
  // 8-bit BGR, in temporal order within each clip and clip after clip.
  const cv::Mat& get(size_t i) const;
  int effective_skip() const { return skip_; }

 private:
  std::vector<std::vector<cv::Mat>> frames_;
  std::vector<std::shared_ptr<void>> mappings_;
  std::vector<std::pair<size_t, int64_t>> index_;
  int skip_ = 1;
};

struct FrameBatchOptions {
  int batch_size = 64;
  int height = 160, width = 320;  // frames are resized (area/linear) to this size
  bool shuffle = true;            // false: batch k holds frames k*B .. k*B+B-1 in temporal order
  bool hflip = false;
  uint64_t seed = 0;
};
// Strict JSON of the fields above (the binding's route from keyword arguments).
void to_json(nlohmann::json& j, const FrameBatchOptions& o);
void from_json(const nlohmann::json& j, FrameBatchOptions& o);

// Batch k as [B, 3, height, width] float RGB in [0, 1], a function of (seed, k) alone.
torch::Tensor make_frame_batch(const FrameDataset& dataset, const FrameBatchOptions& options, int64_t k);

// n frames spread evenly over the dataset (first to last, in order; repeats when n > size) as
// [n, 3, height, width] float RGB in [0, 1], resized as make_frame_batch does: a fixed reference
// set of real frames (e.g. the diversity of the real frames against a generator's samples).
torch::Tensor evenly_spaced_frames(const FrameDataset& dataset, int64_t n, int height, int width);

}  // namespace fregan::data
