#include "fregan/metrics/generation_metrics.h"

#include <torch/torch.h>

#include "fregan/error.h"

namespace fregan::metrics {
namespace {

void check_features(const torch::Tensor& f, const char* what, int64_t min_rows) {
  FREGAN_CHECK(f.dim() == 2, what, ": expected features [N, D], got ", f.sizes());
  FREGAN_CHECK(f.size(0) >= min_rows, what, ": need at least ", min_rows, " samples, got ", f.size(0));
}

// Exact pairwise distances (cdist's matrix-product shortcut would put a sample a rounding error
// away from itself, and a point on a ball's surface on either side of it).
torch::Tensor euclidean(const torch::Tensor& a, const torch::Tensor& b) {
  return torch::cdist(a, b, 2.0, /*compute_mode=*/2);
}

// Distance of every sample to its k-th nearest other sample of the same set.
torch::Tensor knn_radii(const torch::Tensor& f, int k) {
  const auto d = euclidean(f, f);
  // Column 0 of the sorted rows is the sample itself (distance 0), so column k is its k-th neighbour.
  return std::get<0>(d.sort(1)).select(1, k);
}

// Share of `points` within distance radii[j] of some centres[j].
double share_covered(const torch::Tensor& points, const torch::Tensor& centres, const torch::Tensor& radii) {
  const auto d = euclidean(points, centres);  // [P, C]
  return d.le(radii.unsqueeze(0)).any(1).to(torch::kFloat64).mean().item<double>();
}

}  // namespace

torch::Tensor frame_features(const torch::Tensor& frames, int height, int width) {
  FREGAN_CHECK(frames.dim() == 4 && frames.size(1) == 3, "frame features: expected frames [N, 3, H, W], got ",
               frames.sizes());
  FREGAN_CHECK(height >= 1 && width >= 1, "frame features: size must be positive, got ", height, "x", width);
  const auto small = torch::adaptive_avg_pool2d(frames.to(torch::kFloat64), {height, width});
  return small.mul(255.0).flatten(1);
}

Diversity diversity(const torch::Tensor& features) {
  check_features(features, "diversity", 2);
  const auto f = features.to(torch::kFloat64);
  Diversity out;
  out.pixel_std = f.std(0, /*unbiased=*/false).mean().item<double>();
  // Mean |a - b| over features = L1 distance / D; cdist's p=1 gives the L1 distance of every pair.
  const int64_t n = f.size(0);
  const auto l1 = torch::cdist(f, f, /*p=*/1.0);
  out.mean_pairwise_distance = l1.sum().item<double>() / (static_cast<double>(n) * (n - 1) * f.size(1));
  return out;
}

PrecisionRecall knn_precision_recall(const torch::Tensor& real_features, const torch::Tensor& generated_features,
                                     int k) {
  FREGAN_CHECK(k >= 1, "precision/recall: k must be >= 1, got ", k);
  check_features(real_features, "precision/recall (real)", k + 1);
  check_features(generated_features, "precision/recall (generated)", k + 1);
  FREGAN_CHECK(real_features.size(1) == generated_features.size(1),
               "precision/recall: real and generated features differ in size: ", real_features.size(1), " vs ",
               generated_features.size(1));
  const auto r = real_features.to(torch::kFloat64), g = generated_features.to(torch::kFloat64);
  PrecisionRecall out;
  out.precision = share_covered(g, r, knn_radii(r, k));
  out.recall = share_covered(r, g, knn_radii(g, k));
  return out;
}

}  // namespace fregan::metrics
