#pragma once
// Super-resolution samples: a random HR crop of frame t, its LR made by bicubic downsampling (OpenCV
// INTER_CUBIC), and the LR crops of the same region in the neighbouring frames t-n/2 .. t+n/2
// (clamped at clip ends), all augmented alike.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>
#include <opencv2/core.hpp>
#include <torch/types.h>

#include "fregan/data/augment.h"

namespace fregan::data {

struct SrDatasetOptions {
  std::vector<std::string> sources;
  std::string split = "train";
  int64_t max_frames_per_source = 0;
};
// Strict JSON of the fields above (the binding's route from keyword arguments).
void to_json(nlohmann::json& j, const SrDatasetOptions& o);
void from_json(const nlohmann::json& j, SrDatasetOptions& o);

class SrDataset {
 public:
  explicit SrDataset(const SrDatasetOptions& options);
  size_t clips() const { return frames_.size(); }
  size_t size() const { return index_.size(); }  // frames
  const std::vector<cv::Mat>& clip(size_t c) const { return frames_[c]; }
  std::pair<size_t, int64_t> locate(size_t i) const { return index_[i]; }

 private:
  std::vector<std::vector<cv::Mat>> frames_;
  std::vector<std::shared_ptr<void>> mappings_;
  std::vector<std::pair<size_t, int64_t>> index_;
};

struct SrBatchOptions {
  int batch_size = 8;
  int scale = 4;
  int hr_crop = 128;   // multiple of scale; LR crop = hr_crop / scale
  int neighbours = 6;  // LR neighbour frames (half before, half after the centre)
  AugmentOptions augment{true, true, true};
  uint64_t seed = 0;
};
// Strict JSON of the fields above (the binding's route from keyword arguments).
void to_json(nlohmann::json& j, const SrBatchOptions& o);
void from_json(const nlohmann::json& j, SrBatchOptions& o);

struct SrBatch {
  torch::Tensor hr;          // [B, 3, hr_crop, hr_crop]
  torch::Tensor lr;          // [B, 3, hr_crop/scale, hr_crop/scale]
  torch::Tensor neighbours;  // [B, n, 3, hr_crop/scale, hr_crop/scale]
};

// The LR image of an HR image: bicubic downsampling by `scale` (H, W multiples of scale).
cv::Mat bicubic_downsample(const cv::Mat& hr, int scale);

SrBatch make_sr_batch(const SrDataset& dataset, const SrBatchOptions& options, int64_t k);

}  // namespace fregan::data
