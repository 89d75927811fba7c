#include <filesystem>
#include <fstream>
#include <set>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>
#include <torch/torch.h>

#include "fregan/data/frame_dataset.h"
#include "fregan/data/prepared_dataset.h"
#include "fregan/data/scene.h"
#include "fregan/data/sr_dataset.h"
#include "fregan/data/triplet_dataset.h"
#include "fregan/error.h"
#include "fregan/io/video.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace fregan;

namespace {

// A clip of `n` frames: a square moving right over scene A, then from frame `cut` on a different
// scene B (another background and colour): a hard cut between cut-1 and cut.
void write_clip_with_cut(const std::string& folder, int n, int cut) {
  fs::create_directories(folder);
  for (int i = 0; i < n; ++i) {
    cv::Mat f = test::moving_square(64, 48, 2 + 2 * i, 12, 7);
    if (i >= cut) {
      f = cv::Scalar(255, 255, 255) - f;  // the negative: a different shot
      cv::circle(f, cv::Point(10 + i, 30), 8, cv::Scalar(0, 0, 255), cv::FILLED);
    }
    cv::imwrite(folder + "/" + std::to_string(i) + ".png", f);
  }
}

void write_moving_folder(const std::string& folder, int n, int w = 64, int h = 48, int speed = 2) {
  fs::create_directories(folder);
  for (int i = 0; i < n; ++i)
    cv::imwrite(folder + "/" + std::to_string(i) + ".png", test::moving_square(w, h, 2 + speed * i, 12));
}

}  // namespace

TEST(Scene, HardCutIsFoundAndNoTripletCrossesIt) {
  test::TempDir dir;
  write_clip_with_cut(dir / "clip", 12, 6);
  std::vector<cv::Mat> thumbs;
  for (int i = 0; i < 12; ++i)
    thumbs.push_back(data::thumbnail(cv::imread(dir / ("clip/" + std::to_string(i) + ".png"))));
  const auto cuts = data::detect_cuts(thumbs);
  ASSERT_EQ(cuts.size(), 11u);
  for (size_t i = 0; i < cuts.size(); ++i) EXPECT_EQ(cuts[i], i == 5) << i;

  data::TripletDatasetOptions o;
  o.sources = {dir / "clip"};
  data::TripletDataset ds(o);
  // Starts 0..9; those spanning frames 5|6 are n = 4 and 5.
  EXPECT_EQ(ds.stats().dropped_cut, 2);
  EXPECT_EQ(ds.size(), 8u);
  for (size_t i = 0; i < ds.size(); ++i) {
    const auto t = ds.get(i);
    EXPECT_TRUE(t.index + 2 <= 5 || t.index >= 6) << t.index;
  }
}

TEST(Scene, HeldDifferenceIgnoresCompressionNoiseButNotASmallMotion) {
  // 640x360 (the probe shrinks it to 160 px): a repeat with +-3 levels of noise on every pixel,
  // and the same frame with a 24-px square moved by 4 px (1 px at the probe's size).
  const cv::Mat a = test::moving_square(640, 360, 200, 24);
  cv::Mat noisy = a.clone(), noise(a.size(), CV_8UC3);
  cv::randu(noise, 0, 7);
  cv::add(noisy, noise, noisy);
  cv::subtract(noisy, cv::Scalar::all(3), noisy);
  const cv::Mat moved = test::moving_square(640, 360, 204, 24);
  const double threshold = data::SceneOptions{}.held_threshold;
  EXPECT_LT(data::held_difference(data::held_probe(a), data::held_probe(noisy)), threshold);
  EXPECT_GT(data::held_difference(data::held_probe(a), data::held_probe(moved)), threshold);
  // 16-bit frames (a 10-bit video) measure in 8-bit levels too.
  cv::Mat a16, moved16;
  a.convertTo(a16, CV_16U, 257.0);
  moved.convertTo(moved16, CV_16U, 257.0);
  EXPECT_NEAR(data::held_difference(data::held_probe(a16), data::held_probe(moved16)),
              data::held_difference(data::held_probe(a), data::held_probe(moved)), 0.5);
}

TEST(Scene, NearStaticTripletsAreDroppedAndCounted) {
  test::TempDir dir;
  fs::create_directories(dir / "clip");
  // Frames 0..3 identical (a frozen picture), then motion.
  for (int i = 0; i < 8; ++i)
    cv::imwrite(dir / ("clip/" + std::to_string(i) + ".png"), test::moving_square(64, 48, i < 4 ? 2 : 2 + 3 * i, 12));
  data::TripletDatasetOptions o;
  o.sources = {dir / "clip"};
  data::TripletDataset ds(o);
  EXPECT_EQ(ds.stats().dropped_static, 2);  // n = 0, 1: F0 == F2
  EXPECT_EQ(ds.size(), 4u);
  o.drop_static = false;
  EXPECT_EQ(data::TripletDataset(o).size(), 6u);
}

TEST(PreparedDataset, RoundTripIsBitExactAndSplitIsByClip) {
  test::TempDir dir;
  for (int c = 0; c < 6; ++c) write_moving_folder(dir / ("clips/c" + std::to_string(c)), 5 + c);
  data::PrepareOptions po;
  po.videos = {dir / "clips"};
  po.out = dir / "ds";
  po.val_fraction = 0.2;
  po.test_fraction = 0.2;
  po.seed = 5;
  const auto report = data::prepare_dataset(po);
  EXPECT_EQ(report.clips, 6);
  EXPECT_EQ(report.train_clips + report.val_clips + report.test_clips, 6);
  EXPECT_GE(report.val_clips, 1);
  EXPECT_GE(report.test_clips, 1);

  const auto ds = data::open_prepared_dataset(dir / "ds");
  std::map<std::string, std::set<std::string>> by_split;
  for (const auto& clip : ds.clips) by_split[clip.split].insert(clip.source);
  for (const auto& a : by_split)
    for (const auto& b : by_split)
      if (a.first < b.first)
        for (const auto& s : a.second) EXPECT_EQ(b.second.count(s), 0u) << s << " in " << a.first << " and " << b.first;

  // Every mapped frame equals the decoded original, bit for bit.
  for (const auto& clip : ds.clips) {
    std::shared_ptr<void> keep;
    const auto frames = data::map_frames(dir / ("ds/" + clip.file), clip.frames, clip.width, clip.height, keep);
    for (int64_t i = 0; i < clip.frames; ++i) {
      const cv::Mat original = cv::imread(clip.source + "/" + std::to_string(i) + ".png");
      ASSERT_EQ(cv::norm(frames[static_cast<size_t>(i)], original, cv::NORM_INF), 0.0) << clip.source << " " << i;
    }
  }
  // Training reads the train split only; the triplet counts add up over splits.
  data::TripletDatasetOptions o;
  o.sources = {dir / "ds"};
  size_t total = 0;
  for (const char* split : {"train", "val", "test"}) {
    o.split = split;
    total += data::TripletDataset(o).size();
  }
  o.split = "all";
  EXPECT_EQ(data::TripletDataset(o).size(), total);
  EXPECT_EQ(static_cast<int64_t>(total), report.samples);

  // Same seed, same split; a second run reuses every clip file.
  po.overwrite = true;
  const auto again = data::prepare_dataset(po);
  EXPECT_EQ(again.reused_clips, 6);
  EXPECT_EQ(data::open_prepared_dataset(dir / "ds").clips[0].split, ds.clips[0].split);
}

TEST(PreparedDataset, DamageAndForeignVersionsAreRefused) {
  test::TempDir dir;
  write_moving_folder(dir / "clip", 5);
  data::PrepareOptions po;
  po.videos = {dir / "clip"};
  po.out = dir / "ds";
  data::prepare_dataset(po);
  EXPECT_THROW(data::prepare_dataset(po), InvalidArgument);  // exists, no overwrite

  // A crash before the manifest: refused with a message saying so.
  fs::rename(dir / "ds/manifest.json", dir / "manifest.bak");
  try {
    data::open_prepared_dataset(dir / "ds");
    FAIL();
  } catch (const FileError& e) {
    EXPECT_NE(std::string(e.what()).find("did not finish"), std::string::npos);
  }
  fs::rename(dir / "manifest.bak", dir / "ds/manifest.json");
  // A newer format version.
  std::ifstream in(dir / "ds/manifest.json");
  auto j = nlohmann::json::parse(in);
  in.close();
  j["version"] = 99;
  std::ofstream(dir / "ds/manifest.json") << j.dump();
  EXPECT_THROW(data::open_prepared_dataset(dir / "ds"), InvalidArgument);
  j["version"] = data::kDatasetFormatVersion;
  std::ofstream(dir / "ds/manifest.json") << j.dump();
  // A truncated frame file.
  fs::resize_file(dir / "ds/clips/0000.bgr", 100);
  data::TripletDatasetOptions o;
  o.sources = {dir / "ds"};
  o.split = "all";
  EXPECT_THROW(data::TripletDataset{o}, FileError);
}

TEST(Augmentation, KeepsFramesAlignedThroughFlipsAndRotations) {
  test::TempDir dir;
  write_moving_folder(dir / "clip", 6, 64, 64, 3);
  data::TripletDatasetOptions o;
  o.sources = {dir / "clip"};
  o.drop_static = false;
  auto ds = std::make_shared<data::TripletDataset>(o);
  data::TripletLoaderOptions lo;
  lo.crop = 64;  // the whole frame: the only randomness left is the augmentation
  lo.batch_size = 16;
  lo.rotate = true;
  lo.temporal_reverse = false;
  const auto batch = data::TripletLoader::make_batch(*ds, lo, 0);
  for (int b = 0; b < 16; ++b) {
    // The frames differ only where the square moves; the background (noise pattern) must match
    // pixel for pixel, which it does only if all three got the same flips/rotation.
    const auto same = (batch.f0[b] - batch.f1[b]).abs().sum(0).eq(0).to(torch::kFloat).mean().item<double>();
    EXPECT_GT(same, 0.85) << b;
  }
}

TEST(SrDataset, LowResolutionIsTheBicubicDownsampleOfTheHighResolutionCrop) {
  test::TempDir dir;
  write_moving_folder(dir / "clip", 5, 96, 80);
  data::SrDatasetOptions o;
  o.sources = {dir / "clip"};
  data::SrDataset ds(o);
  data::SrBatchOptions bo;
  bo.batch_size = 4;
  bo.hr_crop = 64;
  bo.neighbours = 2;
  bo.augment = {false, false, false};
  const auto batch = data::make_sr_batch(ds, bo, 3);
  EXPECT_EQ(batch.lr.sizes(), (std::vector<int64_t>{4, 3, 16, 16}));
  EXPECT_EQ(batch.neighbours.sizes(), (std::vector<int64_t>{4, 2, 3, 16, 16}));
  for (int b = 0; b < 4; ++b) {
    // Rebuild the HR crop as 8-bit BGR and downsample it with OpenCV directly.
    auto hr = (batch.hr[b] * 255).round().to(torch::kUInt8).permute({1, 2, 0}).contiguous();
    cv::Mat rgb(64, 64, CV_8UC3, hr.data_ptr<uint8_t>()), bgr, expected;
    cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
    cv::resize(bgr, expected, cv::Size(16, 16), 0, 0, cv::INTER_CUBIC);
    auto lr = (batch.lr[b] * 255).round().to(torch::kUInt8).permute({1, 2, 0}).contiguous();
    cv::Mat lr_rgb(16, 16, CV_8UC3, lr.data_ptr<uint8_t>()), lr_bgr;
    cv::cvtColor(lr_rgb, lr_bgr, cv::COLOR_RGB2BGR);
    EXPECT_EQ(cv::norm(lr_bgr, expected, cv::NORM_INF), 0.0);
  }
}

TEST(FrameDataset, SkipsToATargetCountAndKeepsTemporalOrder) {
  test::TempDir dir;
  fs::create_directories(dir / "clip");
  for (int i = 0; i < 40; ++i)
    cv::imwrite(dir / ("clip/" + std::to_string(i) + ".png"), test::indexed_frame(32, 16, i));
  data::FrameDatasetOptions o;
  o.sources = {dir / "clip"};
  o.target_frames = 10;
  data::FrameDataset ds(o);
  EXPECT_EQ(ds.effective_skip(), 4);
  EXPECT_EQ(ds.size(), 10u);
  EXPECT_EQ(ds.get(3).at<cv::Vec3b>(0, 0)[0], 12);
  data::FrameBatchOptions bo;
  bo.batch_size = 3;
  bo.height = 16;
  bo.width = 32;
  bo.shuffle = false;
  const auto batch = data::make_frame_batch(ds, bo, 1);  // frames 3, 4, 5 of the dataset: 12, 16, 20
  EXPECT_EQ(batch.sizes(), (std::vector<int64_t>{3, 3, 16, 32}));
  EXPECT_NEAR(batch[0][2][0][0].item<float>() * 255, 12, 1e-3);  // B channel (index) is RGB plane 2
  EXPECT_NEAR(batch[2][2][0][0].item<float>() * 255, 20, 1e-3);
}

TEST(RealData, SharedClipsDecodeToTheirFrameCounts) {
  const fs::path root = FREGAN_SHARED_DATA;
  if (!fs::is_directory(root)) GTEST_SKIP() << "real data folder " << root << " is absent";
  const std::map<std::string, int64_t> expected = {
      {"videos/vtest.avi", 795},         {"videos/Megamind.avi", 270},  {"videos/tree.avi", 68},
      {"videos/juggle.mp4", 123},        {"videos/car-turn.mp4", 81},   {"videos/foreman_h264.mp4", 60},
      {"videos/foreman_vp9.webm", 60},   {"videos/foreman_cif.yuv", 2}, {"videos/CiscoVT2people_320x192_12fps.yuv", 9},
      {"frames/adacof_sample_video", 68}};
  for (const auto& [path, frames] : expected) {
    const auto sources = data::expand_sources({(root / path).string()});
    ASSERT_EQ(sources.size(), 1u);
    EXPECT_EQ(static_cast<int64_t>(data::read_frames(sources[0]).size()), frames) << path;
  }
  io::VideoReader cisco((root / "videos/CiscoVT2people_320x192_12fps.yuv").string());
  EXPECT_EQ(cisco.info().width, 320);
  EXPECT_EQ(cisco.info().height, 192);
  EXPECT_DOUBLE_EQ(cisco.info().fps, 12.0);
}
