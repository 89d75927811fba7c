#pragma once
// How well a generator's frames cover the frames it learned from, in a fixed feature space that
// needs no downloaded weights: the frames area-downscaled to a small fixed size (the coarse layout
// of a scene, not its grain), on the 0..255 scale.
//  - diversity: how different a set of frames are from each other (0 for identical frames);
//    a generator's fixed-noise samples against the same statistic on real frames tells a mode
//    collapse apart from a healthy run (DcganTrainer's collapse detector);
//  - k-NN precision and recall (Kynkaanniemi et al. 2019, "Improved Precision and Recall Metric
//    for Assessing Generative Models"): the share of generated frames inside the real frames'
//    manifold, and the share of real frames inside the generated frames' manifold.
#include <cstdint>

#include <torch/types.h>

namespace fregan::metrics {

// The default feature size: 20x40 keeps a frame's layout (where the people are) and drops the
// per-pixel grain a young generator adds, which would otherwise count as variety.
constexpr int kFeatureHeight = 20;
constexpr int kFeatureWidth = 40;

// Frames [N, 3, H, W] float in [0, 1] -> features [N, 3 * height * width] (float64, 0..255): each
// frame area-averaged (adaptive average pooling) to height x width.  Throws InvalidArgument for
// other shapes.
torch::Tensor frame_features(const torch::Tensor& frames, int height = kFeatureHeight, int width = kFeatureWidth);

struct Diversity {
  // Standard deviation across the set (population, as numpy's std), per feature, averaged.
  double pixel_std = 0;
  // Mean absolute difference between two features of a pair, averaged over all pairs i < j.
  double mean_pairwise_distance = 0;
};
// Of features [N, D] with N >= 2 (frame_features' output, or any other).
Diversity diversity(const torch::Tensor& features);

struct PrecisionRecall {
  double precision = 0;  // share of generated samples within the k-NN ball of some real sample
  double recall = 0;     // share of real samples within the k-NN ball of some generated sample
};
// Features [N, D] and [M, D] (Euclidean distances); a sample's k-NN radius is the distance to its
// k-th nearest other sample of its own set, and a point on a ball's surface counts as inside.
// Needs k >= 1 and more than k samples in each set.
PrecisionRecall knn_precision_recall(const torch::Tensor& real_features, const torch::Tensor& generated_features,
                                     int k = 3);

}  // namespace fregan::metrics
