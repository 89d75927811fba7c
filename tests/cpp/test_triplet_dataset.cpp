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
  // Frames with a horizontal ramp so crops, flips and order are all visible in the values.
  fs::create_directories(dir / "clip");
  for (int i = 0; i < 6; ++i) {
    cv::Mat f(48, 64, CV_8UC3);
    for (int y = 0; y < 48; ++y)
      for (int x = 0; x < 64; ++x) f.at<cv::Vec3b>(y, x) = cv::Vec3b(i * 40, x * 3, y * 5);
    cv::imwrite(dir / ("clip/" + std::to_string(i) + ".png"), f);
  }
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
