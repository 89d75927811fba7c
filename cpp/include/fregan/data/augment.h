#pragma once
// Augmentations applied identically to every frame of one sample (so F0/F1/F2, or HR/LR and
// neighbours, stay aligned), and the copy of a crop into a batch tensor.
#include <random>

#include <nlohmann/json_fwd.hpp>
#include <opencv2/core.hpp>
#include <torch/types.h>

namespace fregan::data {

struct AugmentOptions {
  bool hflip = true;    // random horizontal flip
  bool vflip = true;    // random vertical flip
  bool rotate = false;  // random 90-degree rotation (square crops only)
};
// Strict JSON of the fields above (the binding's route from keyword arguments).
void to_json(nlohmann::json& j, const AugmentOptions& o);
void from_json(const nlohmann::json& j, AugmentOptions& o);

// One draw of the random choices for one sample.
struct Augmentation {
  bool hflip = false, vflip = false, rot90 = false;
  static Augmentation draw(const AugmentOptions& o, std::mt19937_64& rng);
};

// Returns a new image (or `image` itself when nothing applies); never writes into `image`.
cv::Mat augment(const cv::Mat& image, const Augmentation& a);

// Copies an 8-bit BGR image into out[b] ([B, 3, H, W] float RGB in [0, 1]) element by element, so
// loader threads never enter torch's thread pool.
void copy_to_batch(const cv::Mat& bgr, torch::Tensor& out, int64_t b);

}  // namespace fregan::data
