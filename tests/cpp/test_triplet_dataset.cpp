#include <filesystem>
#include <set>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/videoio.hpp>
#include <torch/torch.h>

#include "fregan/data/triplet_dataset.h"
#include "fregan/error.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace fregan;

namespace {

// Writes frames 0..n-1 of indexed_frame into folder/NNN.png (names chosen so that plain string
// order would be wrong: 2.png vs 10.png).
void write_indexed_folder(const std::string& folder, int n, int w = 40, int h = 30) {
  fs::create_directories(folder);
  for (int i = 0; i < n; ++i) cv::imwrite(folder + "/" + std::to_string(i) + ".png", test::indexed_frame(w, h, i));
}

// 64x48 frames with horizontal and vertical ramps in G and R (crops, flips and order show in the
// values) and the frame index times `index_step` in B.
void write_ramp_folder(const std::string& folder, int n, int index_step) {
  fs::create_directories(folder);
  for (int i = 0; i < n; ++i) {
    cv::Mat f(48, 64, CV_8UC3);
    for (int y = 0; y < 48; ++y)
      for (int x = 0; x < 64; ++x) f.at<cv::Vec3b>(y, x) = cv::Vec3b(i * index_step, x * 3, y * 5);
    cv::imwrite(folder + "/" + std::to_string(i) + ".png", f);
  }
}

int index_of(const cv::Mat& frame) { return frame.at<cv::Vec3b>(0, 0)[0]; }

}  // namespace

TEST(TripletDataset, MiddleFrameIsTheTrueMiddleInNaturalOrder) {
  test::TempDir dir;
  write_indexed_folder(dir / "clip", 12);
  data::TripletDatasetOptions o;
  o.sources = {dir / "clip"};
  data::TripletDataset ds(o);
  ASSERT_EQ(ds.size(), 10u);
  for (size_t i = 0; i < ds.size(); ++i) {
    const auto t = ds.get(i);
    EXPECT_EQ(index_of(t.f0), static_cast<int>(i));
    EXPECT_EQ(index_of(t.f1), static_cast<int>(i) + 1);
    EXPECT_EQ(index_of(t.f2), static_cast<int>(i) + 2);
  }
}

TEST(TripletDataset, FrameSkipSpacesTheTriplet) {
  test::TempDir dir;
  write_indexed_folder(dir / "clip", 12);
  data::TripletDatasetOptions o;
  o.sources = {dir / "clip"};
  o.frame_skip = 3;
  data::TripletDataset ds(o);
  ASSERT_EQ(ds.size(), 6u);  // n = 0..5, n + 6 <= 11
  const auto t = ds.get(2);
  EXPECT_EQ(index_of(t.f0), 2);
  EXPECT_EQ(index_of(t.f1), 5);
  EXPECT_EQ(index_of(t.f2), 8);
}

TEST(TripletDataset, ReadsVideosAndFoldersOfClips) {
  test::TempDir dir;
  write_indexed_folder(dir / "clips/a", 5);
  write_indexed_folder(dir / "clips/b", 4);
  {
    cv::VideoWriter w(dir / "clips/c.avi", cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), 10, cv::Size(40, 30));
    ASSERT_TRUE(w.isOpened());
    for (int i = 0; i < 6; ++i) w.write(test::indexed_frame(40, 30, i * 20));
  }
  data::TripletDatasetOptions o;
  o.sources = {dir / "clips"};
  data::TripletDataset ds(o);
  EXPECT_EQ(ds.sources().size(), 3u);
  EXPECT_EQ(ds.size(), 3u + 2u + 4u);
}

TEST(TripletDataset, BadInputGivesClearErrors) {
  test::TempDir dir;
  data::TripletDatasetOptions o;
  o.sources = {dir / "missing"};
  EXPECT_THROW(data::TripletDataset{o}, FileError);
  fs::create_directories(dir / "empty");
  o.sources = {dir / "empty"};
  EXPECT_THROW(data::TripletDataset{o}, FileError);
  write_indexed_folder(dir / "short", 2);
  o.sources = {dir / "short"};
  try {
    data::TripletDataset ds(o);
    FAIL() << "a 2-frame clip has no triplet";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("no usable triplets"), std::string::npos);
  }
}

TEST(TripletDataset, SplitByClipNeverSharesAClipAndIsReproducible) {
  std::vector<data::FrameSource> clips;
  for (int i = 0; i < 10; ++i) clips.push_back({"clip" + std::to_string(i), true});
  const auto [train, val] = data::split_by_source(clips, 0.3, 42);
  EXPECT_EQ(val.size(), 3u);
  EXPECT_EQ(train.size(), 7u);
  std::set<std::string> seen(train.begin(), train.end());
  for (const auto& v : val) EXPECT_EQ(seen.count(v), 0u) << v;
  EXPECT_EQ(data::split_by_source(clips, 0.3, 42).second, val);
  // Two clips and any fraction: one on each side.
  const auto two = data::split_by_source({{"a", true}, {"b", true}}, 0.1, 1);
  EXPECT_EQ(two.first.size(), 1u);
  EXPECT_EQ(two.second.size(), 1u);
}

TEST(TripletLoader, BatchesAreAlignedDeterministicAndIndependentOfThreads) {
  test::TempDir dir;
  write_ramp_folder(dir / "clip", 6, 40);
  data::TripletDatasetOptions o;
  o.sources = {dir / "clip"};
  auto ds = std::make_shared<data::TripletDataset>(o);
  data::TripletLoaderOptions lo;
  lo.batch_size = 4;
  lo.crop = 32;
  lo.seed = 3;
  lo.workers = 2;
  data::TripletLoader a(ds, lo, 0);
  lo.workers = 1;
  data::TripletLoader b(ds, lo, 0);
  for (int k = 0; k < 5; ++k) {
    const auto x = a.next(), y = b.next();
    ASSERT_EQ(x.f0.sizes(), (std::vector<int64_t>{4, 3, 32, 32}));
    EXPECT_TRUE(torch::equal(x.f0, y.f0) && torch::equal(x.f1, y.f1) && torch::equal(x.f2, y.f2));
    // Same crop and flip for all three frames: G and R planes (x and y ramps) agree exactly.
    EXPECT_TRUE(torch::equal(x.f0.slice(1, 0, 2), x.f1.slice(1, 0, 2)));
    EXPECT_TRUE(torch::equal(x.f2.slice(1, 0, 2), x.f1.slice(1, 0, 2)));
    // B plane encodes the frame index: F1 is always the middle; F0/F2 are its neighbours in some order.
    const auto b0 = (x.f0.select(1, 2) * 255).round(), b1 = (x.f1.select(1, 2) * 255).round(),
               b2 = (x.f2.select(1, 2) * 255).round();
    EXPECT_TRUE(torch::equal((b0 + b2) / 2, b1));
    EXPECT_TRUE(torch::equal((b0 - b1).abs(), torch::full_like(b0, 40)));
  }
  // A loader started at batch 3 yields what the first one yielded as its 4th batch.
  data::TripletLoader c(ds, lo, 3);
  EXPECT_TRUE(torch::equal(c.next().f1, data::TripletLoader::make_batch(*ds, lo, 3).f1));
}

TEST(TripletDataset, NeighboursAreOnePairGapBeforeAndAfterAndNeverCrossAClipEnd) {
  test::TempDir dir;
  write_indexed_folder(dir / "clip", 12);
  data::TripletDatasetOptions o;
  o.sources = {dir / "clip"};
  o.neighbours = true;
  o.drop_static = false;
  data::TripletDataset ds(o);
  // Frame skip 1: before = n - 2, F0 = n, F1 = n + 1, F2 = n + 2, after = n + 4, so n = 2..7.
  ASSERT_EQ(ds.size(), 6u);
  for (size_t i = 0; i < ds.size(); ++i) {
    const auto t = ds.get(i);
    const int n = static_cast<int>(i) + 2;
    EXPECT_EQ(index_of(t.before), n - 2);
    EXPECT_EQ(index_of(t.f0), n);
    EXPECT_EQ(index_of(t.f1), n + 1);
    EXPECT_EQ(index_of(t.f2), n + 2);
    EXPECT_EQ(index_of(t.after), n + 4);
  }
  // Frame skip 2: the window n - 4 .. n + 8 needs n >= 4 and n + 8 <= 13 in 14 frames: n = 4, 5.
  write_indexed_folder(dir / "long", 14);
  o.sources = {dir / "long"};
  o.frame_skip = 2;
  data::TripletDataset wide(o);
  ASSERT_EQ(wide.size(), 2u);
  EXPECT_EQ(index_of(wide.get(1).before), 1);
  EXPECT_EQ(index_of(wide.get(1).after), 13);
  // A cut inside the window (not only inside the triplet) removes the window.
  data::TripletStats stats;
  std::vector<bool> cuts(11, false);
  cuts[1] = true;  // between frames 1 and 2: only windows starting before it reach across
  const auto starts = data::triplet_starts(12, 1, &cuts, nullptr, 0, stats, true);
  EXPECT_EQ(starts, (std::vector<int64_t>{4, 5, 6, 7}));
  EXPECT_EQ(stats.dropped_cut, 2);
  // Without neighbours the same cut leaves every triplet from n = 2 on.
  data::TripletStats plain;
  EXPECT_EQ(data::triplet_starts(12, 1, &cuts, nullptr, 0, plain).front(), 2);
}

TEST(TripletLoader, NeighboursAreCroppedLikeThePairAndSwappedWithItWhenReversed) {
  test::TempDir dir;
  write_ramp_folder(dir / "clip", 8, 30);
  data::TripletDatasetOptions o;
  o.sources = {dir / "clip"};
  o.neighbours = true;
  auto ds = std::make_shared<data::TripletDataset>(o);
  data::TripletLoaderOptions lo;
  lo.batch_size = 8;
  lo.crop = 32;
  lo.seed = 5;
  bool saw_reversed = false, saw_forward = false;
  for (int k = 0; k < 4; ++k) {
    const auto x = data::TripletLoader::make_batch(*ds, lo, k);
    ASSERT_TRUE(x.before.defined() && x.after.defined());
    EXPECT_TRUE(torch::equal(x.before.slice(1, 0, 2), x.f1.slice(1, 0, 2)));
    EXPECT_TRUE(torch::equal(x.after.slice(1, 0, 2), x.f1.slice(1, 0, 2)));
    const auto index = [](const torch::Tensor& f) {
      return (f.select(1, 2) * 255 / 30).round().select(1, 0).select(1, 0);
    };
    const auto before = index(x.before), f0 = index(x.f0), f1 = index(x.f1), f2 = index(x.f2), after = index(x.after);
    for (int64_t b = 0; b < 8; ++b) {
      const int64_t step = f2[b].item<int64_t>() - f0[b].item<int64_t>();  // +2 forward, -2 reversed
      ASSERT_EQ(std::abs(step), 2);
      (step > 0 ? saw_forward : saw_reversed) = true;
      EXPECT_EQ(f1[b].item<int64_t>(), f0[b].item<int64_t>() + step / 2);
      EXPECT_EQ(before[b].item<int64_t>(), f0[b].item<int64_t>() - step);
      EXPECT_EQ(after[b].item<int64_t>(), f2[b].item<int64_t>() + step);
    }
  }
  EXPECT_TRUE(saw_forward && saw_reversed);
  // Without neighbours the batch has none.
  o.neighbours = false;
  EXPECT_FALSE(data::TripletLoader::make_batch(data::TripletDataset(o), lo, 0).before.defined());
}
