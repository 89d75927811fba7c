#include "fregan/data/augment.h"

#include <opencv2/core.hpp>
#include <torch/torch.h>

#include "fregan/error.h"

namespace fregan::data {

Augmentation Augmentation::draw(const AugmentOptions& o, std::mt19937_64& rng) {
  // Always three draws, so the random stream does not depend on which options are on.
  const bool h = rng() & 1, v = rng() & 1, r = rng() & 1;
  return {o.hflip && h, o.vflip && v, o.rotate && r};
}

cv::Mat augment(const cv::Mat& image, const Augmentation& a) {
  // Always into new buffers: `image` is usually a view of the dataset's (possibly read-only
  // memory-mapped) frames, which must never change.
  cv::Mat out = image;
  if (a.hflip || a.vflip) {
    cv::Mat flipped;
    cv::flip(out, flipped, a.hflip && a.vflip ? -1 : (a.hflip ? 1 : 0));
    out = flipped;
  }
  if (a.rot90) {
    cv::Mat rotated;
    cv::rotate(out, rotated, cv::ROTATE_90_CLOCKWISE);
    out = rotated;
  }
  return out;
}

void copy_to_batch(const cv::Mat& bgr, torch::Tensor& out, int64_t b) {
  require(bgr.type() == CV_8UC3 && bgr.rows == out.size(2) && bgr.cols == out.size(3), "copy_to_batch: size mismatch");
  auto acc = out.accessor<float, 4>();
  constexpr float kScale = 1.0f / 255.0f;
  for (int r = 0; r < bgr.rows; ++r) {
    const uint8_t* row = bgr.ptr<uint8_t>(r);
    for (int c = 0; c < bgr.cols; ++c) {
      acc[b][0][r][c] = row[3 * c + 2] * kScale;
      acc[b][1][r][c] = row[3 * c + 1] * kScale;
      acc[b][2][r][c] = row[3 * c + 0] * kScale;
    }
  }
}

}  // namespace fregan::data
