#pragma once
// Cheap content analysis on thumbnails: hard scene cuts (no training triplet and no interpolated
// frame may blend two shots) and near-static frame pairs (they teach nothing about motion).
#include <vector>

#include <nlohmann/json_fwd.hpp>
#include <opencv2/core.hpp>

namespace fregan::data {

struct SceneOptions {
  // A cut between frames i and i+1 when their thumbnail difference (mean absolute difference of
  // 64x36 grayscale thumbnails, 0..255) exceeds both cut_threshold and cut_ratio times the
  // median difference of the neighbouring frame pairs (so fast motion is not mistaken for a cut).
  double cut_threshold = 30.0;
  double cut_ratio = 3.0;
  int neighbourhood = 3;  // frame pairs on each side for the median
  // A triplet is near-static when its F0 and F2 thumbnails differ by less than this (0..255).
  double static_threshold = 0.5;
  // A frame is held (a repeat of the one before, as in animation "on twos" or 12.5 fps content in
  // 25 fps) when no 8x8 block of the two frames' 160-pixel-wide, lightly blurred grayscale copies
  // differs by more than this on average (0..255).  Measured in benchmarks/README.md: repeats
  // re-encoded at CRF 23..30 up to 2.4, moving pairs mostly 8 and more.
  double held_threshold = 3.0;
};
// Strict JSON of the fields above (as they travel inside the jobs' options).
void to_json(nlohmann::json& j, const SceneOptions& o);
void from_json(const nlohmann::json& j, SceneOptions& o);

// The 64x36 grayscale, slightly blurred thumbnail the measures use.
cv::Mat thumbnail(const cv::Mat& bgr);

// Mean absolute difference of two thumbnails, 0..255.
double thumbnail_difference(const cv::Mat& thumb_a, const cv::Mat& thumb_b);

// The width of the copies held_difference compares.
constexpr int kHeldProbeWidth = 160;

// The 160-pixel-wide grayscale copy held_difference compares (made once per frame).
cv::Mat held_probe(const cv::Mat& bgr);

// The largest mean absolute difference of the 8x8 blocks of two held_probe copies, 0..255: small
// for a repeated frame under compression noise, large wherever anything moved, however little of
// the frame it covers.
double held_difference(const cv::Mat& probe_a, const cv::Mat& probe_b);

// Whether pair i is a cut, given the thumbnail differences of pairs 0..n-1 (only pairs within
// `neighbourhood` of i are read, so a streaming caller needs that many pairs decoded ahead).
bool is_cut(const std::vector<double>& differences, size_t i, const SceneOptions& options = {});

// Which of the neighbours around the pair (a, b) a four-frame model may use (`before`, `after`;
// either may be empty), by the video job's rules as far as four frames tell them: none when the
// pair is a held frame (a == b: no motion to bend), and a neighbour only when it is not its pair
// frame held (identical) and no cut lies between them.
struct UsableNeighbours {
  bool before = false, after = false;
};
UsableNeighbours usable_neighbours(const cv::Mat& before, const cv::Mat& a, const cv::Mat& b, const cv::Mat& after,
                                   const SceneOptions& options = {});

// cuts[i] is true when a hard cut lies between frames i and i+1 (size: frames - 1).
std::vector<bool> detect_cuts(const std::vector<cv::Mat>& thumbnails, const SceneOptions& options = {});

}  // namespace fregan::data
