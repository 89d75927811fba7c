#include "fregan/data/sr_dataset.h"

#include <random>

#include <opencv2/imgproc.hpp>
#include <torch/torch.h>

#include "fregan/data/prepared_dataset.h"
#include "fregan/error.h"

namespace fregan::data {

SrDataset::SrDataset(const SrDatasetOptions& o) {
  for (auto& clip : load_clips(o.sources, o.split, o.max_frames_per_source, mappings_)) {
    if (clip.frames.empty()) continue;
    const size_t c = frames_.size();
    for (int64_t n = 0; n < static_cast<int64_t>(clip.frames.size()); ++n) index_.emplace_back(c, n);
    frames_.push_back(std::move(clip.frames));
  }
  if (index_.empty()) throw InvalidArgument("no frames in the data given");
}

cv::Mat bicubic_downsample(const cv::Mat& hr, int scale) {
  require(scale >= 1 && hr.cols % scale == 0 && hr.rows % scale == 0,
          "bicubic_downsample: " + std::to_string(hr.cols) + "x" + std::to_string(hr.rows) + " is not a multiple of " +
              std::to_string(scale));
  cv::Mat lr;
  cv::resize(hr, lr, cv::Size(hr.cols / scale, hr.rows / scale), 0, 0, cv::INTER_CUBIC);
  return lr;
}

SrBatch make_sr_batch(const SrDataset& dataset, const SrBatchOptions& o, int64_t k) {
  require(o.scale >= 2 && o.hr_crop % o.scale == 0, "hr_crop must be a multiple of the scale");
  require(o.neighbours >= 0, "neighbours must be >= 0");
  std::mt19937_64 rng(o.seed * 0x9E3779B97F4A7C15ULL + static_cast<uint64_t>(k) + 1);
  const int hc = o.hr_crop, lc = o.hr_crop / o.scale;
  SrBatch batch{torch::empty({o.batch_size, 3, hc, hc}), torch::empty({o.batch_size, 3, lc, lc}),
                torch::empty({o.batch_size, o.neighbours, 3, lc, lc})};
  for (int b = 0; b < o.batch_size; ++b) {
    const auto [c, t] = dataset.locate(std::uniform_int_distribution<size_t>(0, dataset.size() - 1)(rng));
    const auto& clip = dataset.clip(c);
    const cv::Mat& frame = clip[static_cast<size_t>(t)];
    if (frame.cols < hc || frame.rows < hc) {
      throw InvalidArgument("frames of " + std::to_string(frame.cols) + "x" + std::to_string(frame.rows) +
                            " are smaller than the " + std::to_string(hc) + " HR crop");
    }
    // Crop origin on the LR grid so HR and LR crops cover exactly the same pixels.
    const int x = std::uniform_int_distribution<int>(0, (frame.cols - hc) / o.scale)(rng) * o.scale;
    const int y = std::uniform_int_distribution<int>(0, (frame.rows - hc) / o.scale)(rng) * o.scale;
    const cv::Rect crop(x, y, hc, hc);
    const Augmentation aug = Augmentation::draw(o.augment, rng);
    const cv::Mat hr = augment(frame(crop), aug);
    copy_to_batch(hr, batch.hr, b);
    copy_to_batch(bicubic_downsample(hr, o.scale), batch.lr, b);
    const int64_t before = o.neighbours / 2;
    const int64_t last = static_cast<int64_t>(clip.size()) - 1;
    int slot = 0;
    for (int64_t d = -before; slot < o.neighbours; ++d) {
      if (d == 0) continue;
      const int64_t j = std::clamp<int64_t>(t + d, 0, last);
      auto view = batch.neighbours.select(1, slot);
      copy_to_batch(bicubic_downsample(augment(clip[static_cast<size_t>(j)](crop), aug), o.scale), view, b);
      ++slot;
    }
  }
  return batch;
}

}  // namespace fregan::data
