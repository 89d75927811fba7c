// Diversity and k-NN precision/recall (fregan/metrics/generation_metrics.h) on hand-computed sets.
#include <cmath>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "fregan/error.h"
#include "fregan/metrics/generation_metrics.h"

using namespace fregan;

namespace {

torch::Tensor points(std::initializer_list<std::initializer_list<double>> rows) {
  std::vector<torch::Tensor> out;
  for (const auto& r : rows) out.push_back(torch::tensor(std::vector<double>(r), torch::kFloat64));
  return torch::stack(out);
}

}  // namespace

TEST(GenerationMetrics, FeaturesAreBlockMeansOnThe255Scale) {
  // One 4x8 frame whose 2x2 blocks hold distinct values: at 2x4 each feature is its block's mean.
  auto frame = torch::zeros({1, 3, 4, 8});
  frame[0][0][0][0] = 1.0;  // block (0, 0) of channel 0: mean 0.25
  frame[0][1].fill_(0.5);   // channel 1 all 0.5
  frame[0][2][3][7] = 0.8;  // block (1, 3) of channel 2: mean 0.2
  const auto f = metrics::frame_features(frame, 2, 4);
  ASSERT_EQ(f.sizes(), torch::IntArrayRef({1, 24}));
  EXPECT_DOUBLE_EQ(f[0][0].item<double>(), 0.25 * 255);
  EXPECT_DOUBLE_EQ(f[0][1].item<double>(), 0.0);
  EXPECT_DOUBLE_EQ(f[0][8].item<double>(), 0.5 * 255);
  EXPECT_NEAR(f[0][23].item<double>(), 0.2 * 255, 1e-4);  // 0.8 in float32
  EXPECT_THROW(metrics::frame_features(torch::zeros({2, 1, 4, 4})), InvalidArgument);
}

TEST(GenerationMetrics, DiversityOfIdenticalAndKnownSets) {
  const auto same = torch::rand({1, 12}).repeat({5, 1});
  const auto d0 = metrics::diversity(same);
  EXPECT_NEAR(d0.pixel_std, 0.0, 1e-6);
  EXPECT_NEAR(d0.mean_pairwise_distance, 0.0, 1e-6);
  // Two points (0, 0), (2, 4): stds 1 and 2 -> 1.5; |diff| 2 and 4 -> 3.
  const auto d1 = metrics::diversity(points({{0, 0}, {2, 4}}));
  EXPECT_DOUBLE_EQ(d1.pixel_std, 1.5);
  EXPECT_DOUBLE_EQ(d1.mean_pairwise_distance, 3.0);
  // 0, 1, 3: mean 4/3, population std sqrt(42/27); pairs 1, 3, 2 -> 2.
  const auto d2 = metrics::diversity(points({{0}, {1}, {3}}));
  EXPECT_NEAR(d2.pixel_std, std::sqrt(42.0 / 27.0), 1e-12);
  EXPECT_NEAR(d2.mean_pairwise_distance, 2.0, 1e-12);
  EXPECT_THROW(metrics::diversity(points({{1, 2}})), InvalidArgument);
}

TEST(GenerationMetrics, PrecisionRecallOnALine) {
  // Real 0, 1, 10: 1-NN radii 1, 1, 9.  Generated 0.5, 1.5, 3: 1-NN radii 1, 1, 1.5.
  const auto real = points({{0}, {1}, {10}});
  const auto gen = points({{0.5}, {1.5}, {3}});
  // Precision: 0.5 and 1.5 lie within 1 of 0 or 1; 3 lies within 9 of 10 -> 3/3.
  // Recall: 0 and 1 lie within 1 of 0.5; 10 is 7 from 3 (radius 1.5) -> 2/3.
  auto pr = metrics::knn_precision_recall(real, gen, 1);
  EXPECT_DOUBLE_EQ(pr.precision, 1.0);
  EXPECT_DOUBLE_EQ(pr.recall, 2.0 / 3.0);
  // Swapping the sets swaps the two figures.
  auto rp = metrics::knn_precision_recall(gen, real, 1);
  EXPECT_DOUBLE_EQ(rp.precision, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(rp.recall, 1.0);
  // k = 2: real radii 10, 9, 10 cover all generated points; generated radii 2.5, 1.5, 2.5 miss 10.
  pr = metrics::knn_precision_recall(real, gen, 2);
  EXPECT_DOUBLE_EQ(pr.precision, 1.0);
  EXPECT_DOUBLE_EQ(pr.recall, 2.0 / 3.0);
  EXPECT_THROW(metrics::knn_precision_recall(real, gen, 3), InvalidArgument);  // needs more than k samples
}

TEST(GenerationMetrics, PrecisionRecallInThePlaneCountsTheSurfaceAsInside) {
  // Real (0,0), (3,4), (6,8): every 1-NN radius is 5.
  const auto real = points({{0, 0}, {3, 4}, {6, 8}});
  // (0,5) is exactly 5 from (0,0): inside.  (-3,-4.1) is 5.08 from (0,0): outside; (20,20) far away.
  const auto gen = points({{0, 5}, {-3, -4.1}, {20, 20}});
  const auto pr = metrics::knn_precision_recall(real, gen, 1);
  EXPECT_DOUBLE_EQ(pr.precision, 1.0 / 3.0);
  // Generated radii: (0,5) and (-3,-4.1) 9.58 apart, (20,20) 25 from (0,5); (0,5) covers every real point.
  EXPECT_DOUBLE_EQ(pr.recall, 1.0);
  // A set against itself: precision and recall 1.
  const auto self = metrics::knn_precision_recall(real, real, 1);
  EXPECT_DOUBLE_EQ(self.precision, 1.0);
  EXPECT_DOUBLE_EQ(self.recall, 1.0);
}
