#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <opencv2/videoio.hpp>
#include <torch/torch.h>

#include "fregan/error.h"
#include "fregan/infer/video_job.h"
#include "fregan/io/video.h"
#include "fregan/models/registry.h"
#include "fregan/train/checkpoint.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace fregan;

namespace {

void write_clip(const std::string& path, int frames, double fps = 10) {
  cv::VideoWriter w(path, cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), fps, cv::Size(48, 40));
  ASSERT_TRUE(w.isOpened());
  for (int i = 0; i < frames; ++i) w.write(test::moving_square(48, 40, 4 + 3 * i, 8));
}

std::shared_ptr<infer::Interpolator> small_interpolator() {
  auto model = models::create_model("fregan", {{"base_channels", 4}, {"levels", 2}});
  return std::make_shared<infer::Interpolator>(model.generator, torch::kCPU, "fregan");
}

}  // namespace

TEST(VideoJob, DoublesTheFrameRateAndKeepsDurationAndSize) {
  test::TempDir dir;
  write_clip(dir / "in.avi", 5);
  auto interp = small_interpolator();
  infer::VideoJobOptions o;
  o.input = dir / "in.avi";
  o.output = dir / "out.mp4";
  int calls = 0;
  o.progress = [&](int64_t, int64_t) { ++calls; };
  const auto r = infer::interpolate_video(*interp, o);
  EXPECT_EQ(r.input_frames, 5);
  EXPECT_EQ(r.output_frames, 10);
  EXPECT_DOUBLE_EQ(r.output_fps, 20.0);
  EXPECT_EQ(calls, 4);
  io::VideoReader check(dir / "out.mp4");
  EXPECT_EQ(check.info().width, 48);
  EXPECT_EQ(check.info().height, 40);
  EXPECT_NEAR(check.info().fps, 20.0, 1e-3);
  int n = 0;
  for (cv::Mat f; check.read(f);) ++n;
  EXPECT_EQ(n, 10);  // 5 frames at 10 fps and 10 at 20 fps: both last 0.5 s
  // Only the output remains: no temporary or log files.
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir.path())) files += e.is_regular_file();
  EXPECT_EQ(files, 2);
}

TEST(VideoJob, FactorFourMakesThreeFramesPerGap) {
  test::TempDir dir;
  write_clip(dir / "in.avi", 3);
  auto interp = small_interpolator();
  infer::VideoJobOptions o;
  o.input = dir / "in.avi";
  o.output = dir / "out.mkv";
  o.factor = 4;
  const auto r = infer::interpolate_video(*interp, o);
  EXPECT_EQ(r.output_frames, 12);
  o.output = dir / "bad.mp4";
  o.factor = 3;
  EXPECT_THROW(infer::interpolate_video(*interp, o), InvalidArgument);
  EXPECT_FALSE(fs::exists(dir / "bad.mp4"));
}

TEST(VideoJob, BadInputsFailClearlyAndLeaveNothingBehind) {
  test::TempDir dir;
  auto interp = small_interpolator();
  infer::VideoJobOptions o;
  o.input = dir / "missing.mp4";
  o.output = dir / "out.mp4";
  EXPECT_THROW(infer::interpolate_video(*interp, o), FileError);

  write_clip(dir / "one.avi", 1);
  o.input = dir / "one.avi";
  try {
    infer::interpolate_video(*interp, o);
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("only 1 frame"), std::string::npos);
  }
  EXPECT_FALSE(fs::exists(dir / "out.mp4"));

  std::ofstream(dir / "junk.mp4") << "not a video";
  o.input = dir / "junk.mp4";
  EXPECT_THROW(infer::interpolate_video(*interp, o), FileError);

  // An existing output is refused and left as it was.
  write_clip(dir / "in.avi", 3);
  std::ofstream(dir / "exists.mp4") << "keep me";
  o.input = dir / "in.avi";
  o.output = dir / "exists.mp4";
  EXPECT_THROW(infer::interpolate_video(*interp, o), InvalidArgument);
  std::ifstream kept(dir / "exists.mp4");
  std::string content;
  std::getline(kept, content);
  EXPECT_EQ(content, "keep me");
  for (const auto& e : fs::directory_iterator(dir.path())) {
    EXPECT_EQ(e.path().filename().string().find(".partial"), std::string::npos) << e.path();
  }
}
