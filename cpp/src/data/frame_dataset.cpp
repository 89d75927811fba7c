#include "fregan/data/frame_dataset.h"

#include <algorithm>
#include <numeric>
#include <random>

#include <opencv2/imgproc.hpp>
#include <torch/torch.h>

#include "fregan/data/augment.h"
#include "fregan/data/prepared_dataset.h"
#include "fregan/error.h"

namespace fregan::data {

FrameDataset::FrameDataset(const FrameDatasetOptions& o) {
  require(o.frame_skip >= 1, "frame_skip must be >= 1");
  require(o.target_frames >= 0, "target_frames must be >= 0");
  for (auto& clip : load_clips(o.sources, o.split, o.max_frames_per_source, mappings_)) {
    if (!clip.frames.empty()) frames_.push_back(std::move(clip.frames));
  }
  int64_t total = 0;
  for (const auto& f : frames_) total += static_cast<int64_t>(f.size());
  if (total == 0) throw InvalidArgument("no frames in the data given");
  skip_ = o.frame_skip;
  if (o.target_frames > 0 && total / skip_ > o.target_frames) {
    skip_ = static_cast<int>(std::max<int64_t>(skip_, total / o.target_frames));
  }
  // Keep only the frames used: a long video decoded at full size is large.
  for (size_t c = 0; c < frames_.size(); ++c) {
    std::vector<cv::Mat> kept;
    for (size_t n = 0; n < frames_[c].size(); n += static_cast<size_t>(skip_)) {
      index_.emplace_back(c, static_cast<int64_t>(kept.size()));
      kept.push_back(frames_[c][n]);
    }
    frames_[c] = std::move(kept);
  }
}

const cv::Mat& FrameDataset::get(size_t i) const {
  require(i < index_.size(),
          "frame index " + std::to_string(i) + " out of range (" + std::to_string(index_.size()) + ")");
  return frames_[index_[i].first][static_cast<size_t>(index_[i].second)];
}

namespace {

cv::Mat resized_frame(const FrameDataset& dataset, size_t i, int height, int width) {
  const cv::Mat& frame = dataset.get(i);
  cv::Mat resized;
  const bool shrink = frame.cols > width || frame.rows > height;
  cv::resize(frame, resized, cv::Size(width, height), 0, 0, shrink ? cv::INTER_AREA : cv::INTER_LINEAR);
  return resized;
}

}  // namespace

torch::Tensor make_frame_batch(const FrameDataset& dataset, const FrameBatchOptions& o, int64_t k) {
  require(o.batch_size >= 1 && o.height >= 1 && o.width >= 1, "frame batch: batch size and size must be positive");
  std::mt19937_64 rng(o.seed * 0x9E3779B97F4A7C15ULL + static_cast<uint64_t>(k) + 1);
  auto batch = torch::empty({o.batch_size, 3, o.height, o.width});
  const size_t n = dataset.size();
  for (int b = 0; b < o.batch_size; ++b) {
    const size_t i = o.shuffle ? std::uniform_int_distribution<size_t>(0, n - 1)(rng)
                               : static_cast<size_t>((k * o.batch_size + b) % static_cast<int64_t>(n));
    const cv::Mat resized = resized_frame(dataset, i, o.height, o.width);
    const bool flip = o.hflip && (rng() & 1);
    copy_to_batch(augment(resized, {flip, false, false}), batch, b);
  }
  return batch;
}

torch::Tensor evenly_spaced_frames(const FrameDataset& dataset, int64_t n, int height, int width) {
  require(n >= 1 && height >= 1 && width >= 1, "evenly spaced frames: count and size must be positive");
  auto frames = torch::empty({n, 3, height, width});
  const size_t last = dataset.size() - 1;
  for (int64_t b = 0; b < n; ++b) {
    const size_t i = n == 1 ? 0 : static_cast<size_t>(static_cast<double>(b) * last / (n - 1));
    copy_to_batch(resized_frame(dataset, i, height, width), frames, b);
  }
  return frames;
}

}  // namespace fregan::data
