#include "fregan/data/scene.h"

#include <algorithm>
#include <cmath>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

namespace fregan::data {

namespace {

// Thresholds are in 8-bit levels, whatever the frames' depth (16-bit frames of a 10-bit video).
cv::Mat gray8(const cv::Mat& bgr) {
  cv::Mat gray;
  cv::cvtColor(bgr, gray, bgr.channels() == 4 ? cv::COLOR_BGRA2GRAY : cv::COLOR_BGR2GRAY);
  if (gray.depth() == CV_16U) gray.convertTo(gray, CV_8U, 1.0 / 257.0);
  return gray;
}

}  // namespace

cv::Mat thumbnail(const cv::Mat& bgr) {
  cv::Mat small;
  const cv::Mat gray = gray8(bgr);
  cv::resize(gray, small, cv::Size(64, 36), 0, 0, cv::INTER_AREA);
  cv::GaussianBlur(small, small, cv::Size(3, 3), 0);
  return small;
}

double thumbnail_difference(const cv::Mat& a, const cv::Mat& b) {
  cv::Mat diff;
  cv::absdiff(a, b, diff);
  return cv::mean(diff)[0];
}

cv::Mat held_probe(const cv::Mat& bgr) {
  constexpr int kWidth = kHeldProbeWidth;
  cv::Mat small;
  const cv::Mat gray = gray8(bgr);
  const int height = std::max(8, static_cast<int>(std::lround(static_cast<double>(gray.rows) * kWidth / gray.cols)));
  cv::resize(gray, small, cv::Size(std::min(kWidth, gray.cols), std::min(height, gray.rows)), 0, 0, cv::INTER_AREA);
  // Compression noise is finest-grained: a light blur takes most of it from a repeat (fine noise
  // texture at CRF 23: 5.3 -> 2.4), little from an edge that moved.
  cv::GaussianBlur(small, small, cv::Size(5, 5), 1.0);
  return small;
}

double held_difference(const cv::Mat& a, const cv::Mat& b) {
  constexpr int kBlock = 8;
  cv::Mat diff, blocks;
  cv::absdiff(a, b, diff);
  diff.convertTo(diff, CV_32F);
  // Block means by area averaging: the last partial block is averaged over what it has.
  cv::resize(diff, blocks, cv::Size((diff.cols + kBlock - 1) / kBlock, (diff.rows + kBlock - 1) / kBlock), 0, 0,
             cv::INTER_AREA);
  double highest = 0;
  cv::minMaxLoc(blocks, nullptr, &highest);
  return highest;
}

bool is_cut(const std::vector<double>& d, size_t i, const SceneOptions& o) {
  if (d[i] <= o.cut_threshold) return false;
  const size_t n = d.size();
  std::vector<double> around;
  for (int k = 1; k <= o.neighbourhood; ++k) {
    if (i >= static_cast<size_t>(k)) around.push_back(d[i - k]);
    if (i + k < n) around.push_back(d[i + k]);
  }
  double median = 0;
  if (!around.empty()) {
    std::nth_element(around.begin(), around.begin() + around.size() / 2, around.end());
    median = around[around.size() / 2];
  }
  return d[i] > o.cut_ratio * median;
}

UsableNeighbours usable_neighbours(const cv::Mat& before, const cv::Mat& a, const cv::Mat& b, const cv::Mat& after,
                                   const SceneOptions& o) {
  // Held means identical here: four frames give no neighbourhood to tell a held frame from a small
  // motion by thumbnails, as the video job does over its stream.
  auto same = [](const cv::Mat& x, const cv::Mat& y) { return cv::norm(x, y, cv::NORM_INF) == 0; };
  UsableNeighbours use;
  if (same(a, b)) return use;
  std::vector<cv::Mat> thumbs;
  if (!before.empty()) thumbs.push_back(thumbnail(before));
  thumbs.push_back(thumbnail(a));
  thumbs.push_back(thumbnail(b));
  if (!after.empty()) thumbs.push_back(thumbnail(after));
  std::vector<double> d;
  for (size_t i = 0; i + 1 < thumbs.size(); ++i) d.push_back(thumbnail_difference(thumbs[i], thumbs[i + 1]));
  const size_t pair = before.empty() ? 0 : 1;
  use.before = !before.empty() && !same(before, a) && !is_cut(d, 0, o);
  use.after = !after.empty() && !same(b, after) && !is_cut(d, pair + 1, o);
  return use;
}

std::vector<bool> detect_cuts(const std::vector<cv::Mat>& thumbs, const SceneOptions& o) {
  if (thumbs.size() < 2) return {};
  const size_t n = thumbs.size() - 1;
  std::vector<double> d(n);
  for (size_t i = 0; i < n; ++i) d[i] = thumbnail_difference(thumbs[i], thumbs[i + 1]);
  std::vector<bool> cuts(n, false);
  for (size_t i = 0; i < n; ++i) cuts[i] = is_cut(d, i, o);
  return cuts;
}

}  // namespace fregan::data
