// DiffAugment (fregan/train/diff_augment.h): each transform does what it says on a batch built to
// show it, the same seed gives the same draw, and gradients pass through.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "fregan/error.h"
#include "fregan/train/diff_augment.h"

using namespace fregan;

TEST(DiffAugment, PolicyParsing) {
  const auto p = train::parse_diff_augment("color,cutout");
  EXPECT_TRUE(p.color);
  EXPECT_TRUE(p.cutout);
  EXPECT_FALSE(p.translation);
  EXPECT_FALSE(p.flip);
  EXPECT_FALSE(train::parse_diff_augment("").any());
  EXPECT_THROW(train::parse_diff_augment("color,rotate"), InvalidArgument);
}

TEST(DiffAugment, SameSeedSameDrawAndNoPolicyIsIdentity) {
  const auto x = torch::rand({6, 3, 16, 32}) * 2 - 1;
  const auto all = train::parse_diff_augment("color,translation,cutout,flip");
  torch::manual_seed(3);
  const auto a = train::diff_augment(x, all);
  torch::manual_seed(3);
  const auto b = train::diff_augment(x, all);
  EXPECT_TRUE(torch::equal(a, b));
  EXPECT_FALSE(torch::allclose(a, x));
  EXPECT_TRUE(torch::equal(train::diff_augment(x, {}), x));
}

TEST(DiffAugment, FlipMirrorsWholeSamples) {
  const auto x = torch::rand({32, 3, 4, 8});
  torch::manual_seed(1);
  const auto y = train::diff_augment(x, train::parse_diff_augment("flip"));
  int flipped = 0;
  for (int64_t b = 0; b < 32; ++b) {
    const bool same = torch::equal(y[b], x[b]), mirrored = torch::equal(y[b], x[b].flip(2));
    EXPECT_TRUE(same || mirrored) << b;
    flipped += mirrored;
  }
  EXPECT_GT(flipped, 4);
  EXPECT_LT(flipped, 28);
}

TEST(DiffAugment, TranslationMovesContentByAtMostAnEighth) {
  // One bright pixel in the middle of a 16x32 frame: it moves by at most 2 rows and 4 columns, and
  // the rest stays zero (zeros are shifted in).
  auto x = torch::zeros({16, 3, 16, 32});
  x.select(2, 8).select(2, 16).fill_(1.0);
  torch::manual_seed(2);
  const auto y = train::diff_augment(x, train::parse_diff_augment("translation"));
  bool moved = false;
  for (int64_t b = 0; b < 16; ++b) {
    const auto nz = y[b][0].nonzero();
    ASSERT_EQ(nz.size(0), 1) << b;
    const int64_t dy = nz[0][0].item<int64_t>() - 8, dx = nz[0][1].item<int64_t>() - 16;
    EXPECT_LE(std::abs(dy), 2);
    EXPECT_LE(std::abs(dx), 4);
    EXPECT_TRUE(torch::equal(y[b][0], y[b][1]) && torch::equal(y[b][0], y[b][2])) << "channels move together";
    moved = moved || dy != 0 || dx != 0;
  }
  EXPECT_TRUE(moved);
}

TEST(DiffAugment, CutoutZeroesOneRectangleOfAtMostHalfTheSize) {
  const auto x = torch::ones({8, 3, 16, 32});
  torch::manual_seed(4);
  const auto y = train::diff_augment(x, train::parse_diff_augment("cutout"));
  for (int64_t b = 0; b < 8; ++b) {
    const auto zero = y[b][0].eq(0);
    const auto rows = zero.any(1).nonzero(), cols = zero.any(0).nonzero();
    ASSERT_GT(rows.size(0), 0);
    const int64_t h = rows.size(0), w = cols.size(0);
    EXPECT_LE(h, 8);
    EXPECT_LE(w, 16);
    EXPECT_EQ(zero.sum().item<int64_t>(), h * w) << "a rectangle";
    EXPECT_TRUE(torch::equal(y[b][0], y[b][2]));
    EXPECT_TRUE(torch::equal(y[b].masked_select(y[b].ne(0)), torch::ones({3 * (16 * 32 - h * w)})));
  }
}

TEST(DiffAugment, ColorKeepsAGreyFrameUniformAndPassesGradients) {
  auto x = torch::full({4, 3, 8, 8}, 0.2).requires_grad_(true);
  torch::manual_seed(5);
  const auto y = train::diff_augment(x, train::parse_diff_augment("color,translation,cutout,flip"));
  torch::manual_seed(5);
  const auto c = train::diff_augment(x, train::parse_diff_augment("color"));
  for (int64_t b = 0; b < 4; ++b) {
    EXPECT_NEAR((c[b].max() - c[b].min()).item<double>(), 0.0, 1e-6) << "uniform grey stays uniform";
  }
  y.sum().backward();
  EXPECT_GT(x.grad().abs().sum().item<double>(), 0.0);
}
