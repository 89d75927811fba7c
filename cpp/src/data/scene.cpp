#include "fregan/data/scene.h"

#include <algorithm>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

namespace fregan::data {

cv::Mat thumbnail(const cv::Mat& bgr) {
  cv::Mat gray, small;
  cv::cvtColor(bgr, gray, cv::COLOR_BGR2GRAY);
  cv::resize(gray, small, cv::Size(64, 36), 0, 0, cv::INTER_AREA);
  cv::GaussianBlur(small, small, cv::Size(3, 3), 0);
  return small;
}

double thumbnail_difference(const cv::Mat& a, const cv::Mat& b) {
  cv::Mat diff;
  cv::absdiff(a, b, diff);
  return cv::mean(diff)[0];
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
