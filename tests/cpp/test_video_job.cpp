#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/videoio.hpp>
#include <ATen/Parallel.h>
#include <torch/torch.h>

#include "fregan/data/scene.h"
#include "fregan/error.h"
#include "fregan/infer/export.h"
#include "fregan/infer/upscaler.h"
#include "fregan/infer/video_job.h"
#include "fregan/io/video.h"
#include "fregan/models/flow_guided.h"
#include "fregan/models/registry.h"
#include "fregan/models/checkpoint.h"
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
  o.progress = [&](const infer::VideoJobProgress& p) {
    ++calls;
    EXPECT_EQ(p.input_frames_done, calls);
    return true;
  };
  const auto r = infer::interpolate_video(*interp, o);
  EXPECT_EQ(r.input_frames, 5);
  EXPECT_EQ(r.output_frames, 10);
  EXPECT_DOUBLE_EQ(r.output_fps, 20.0);
  EXPECT_EQ(calls, 5);
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

namespace {

std::shared_ptr<infer::Interpolator> flow_interpolator() {
  auto model = models::create_model("fregan-flow");  // untrained: flow warping with a (1 - t) : t blend
  return std::make_shared<infer::Interpolator>(model.generator, torch::kCPU, "fregan-flow");
}

std::vector<cv::Mat> read_all(const std::string& path) {
  std::vector<cv::Mat> frames;
  io::VideoReader r(path);
  for (cv::Mat f; r.read(f);) frames.push_back(f.clone());
  return frames;
}

std::vector<std::string> sorted_files(const std::string& folder) {
  std::vector<std::string> names;
  // The frames only, not the manifest fregan writes beside them.
  for (const auto& e : fs::directory_iterator(folder)) {
    if (e.path().extension() == ".png") names.push_back(e.path().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

TEST(VideoJob, AnyTargetRateKeepsTheDurationWithAFlowModel) {
  test::TempDir dir;
  write_clip(dir / "in.avi", 6);  // 6 frames at 10 fps = 0.6 s
  auto interp = flow_interpolator();
  infer::VideoJobOptions o;
  o.input = dir / "in.avi";
  o.output = dir / "out.mp4";
  o.target_fps = 25;
  const auto r = infer::interpolate_video(*interp, o);
  EXPECT_EQ(r.output_frames, 15);  // ceil(6 * 2.5): 0.6 s at 25 fps
  EXPECT_EQ(read_all(dir / "out.mp4").size(), 15u);
  EXPECT_NEAR(io::VideoReader(dir / "out.mp4").info().fps, 25.0, 1e-3);
  // Factor 3 is fine for a model that takes any t ...
  o.target_fps = 0;
  o.factor = 3;
  o.output = dir / "x3.mp4";
  EXPECT_EQ(infer::interpolate_video(*interp, o).output_frames, 18);
  // ... and refused up front, leaving nothing, for a middle-frame model.
  o.output = dir / "x3b.mp4";
  EXPECT_THROW(infer::interpolate_video(*small_interpolator(), o), InvalidArgument);
  EXPECT_FALSE(fs::exists(dir / "x3b.mp4"));
  EXPECT_FALSE(fs::exists(infer::video_job_work_dir(dir / "x3b.mp4")));
}

TEST(VideoJob, FramesFolderInAndOutAndNoFrameIsBlendedAcrossACut) {
  test::TempDir dir;
  fs::create_directories(dir / "in");
  // Shot A: a square moving right on a textured background; shot B: a different scene.
  for (int i = 0; i < 8; ++i) {
    cv::Mat f = test::moving_square(64, 48, 4 + 3 * i, 10);
    if (i >= 4) f = cv::Scalar(255, 255, 255) - test::moving_square(64, 48, 40 - 3 * i, 10, 99);
    cv::imwrite(dir / ("in/" + std::to_string(100 + i) + ".png"), f);
  }
  auto interp = flow_interpolator();
  infer::VideoJobOptions o;
  o.input = dir / "in";
  o.output = dir / "out";
  const auto r = infer::interpolate_video(*interp, o);
  EXPECT_EQ(r.input_frames, 8);
  EXPECT_EQ(r.output_frames, 16);
  EXPECT_EQ(r.scene_cuts, 1);
  EXPECT_EQ(r.interpolated_frames, 6);  // 7 gaps, one of them a cut
  const auto files = sorted_files(dir / "out");
  ASSERT_EQ(files.size(), 16u);
  const cv::Mat before = cv::imread(dir / "in/103.png"), after = cv::imread(dir / "in/104.png");
  // Output 7 (t = 0.5 between input 3 and 4) repeats input 4 (the nearer at t >= 0.5), exactly.
  EXPECT_EQ(cv::norm(cv::imread(files[7]), after, cv::NORM_INF), 0.0);
  EXPECT_EQ(cv::norm(cv::imread(files[6]), before, cv::NORM_INF), 0.0);
  // Elsewhere new frames are made: output 1 differs from inputs 0 and 1.
  EXPECT_GT(cv::norm(cv::imread(files[1]), cv::imread(dir / "in/100.png"), cv::NORM_INF), 0.0);
  EXPECT_GT(cv::norm(cv::imread(files[1]), cv::imread(dir / "in/101.png"), cv::NORM_INF), 0.0);
  // No neighbour across the cut: pair (2, 3) is made with frame 1 before it and nothing after.
  auto input = [&](int i) { return cv::imread(dir / ("in/" + std::to_string(100 + i) + ".png")); };
  EXPECT_EQ(
      cv::norm(cv::imread(files[5]), interp->interpolate(input(1), input(2), input(3), cv::Mat(), 0.5), cv::NORM_INF),
      0.0);
  // ... and pair (4, 5) with frame 6 after it only.
  EXPECT_EQ(
      cv::norm(cv::imread(files[9]), interp->interpolate(cv::Mat(), input(4), input(5), input(6), 0.5), cv::NORM_INF),
      0.0);
  // Without cut detection the gap is interpolated.
  o.output = dir / "blended";
  o.detect_cuts = false;
  EXPECT_EQ(infer::interpolate_video(*interp, o).interpolated_frames, 7);
  EXPECT_FALSE(fs::exists(infer::video_job_work_dir(dir / "blended")));
}

TEST(VideoJob, AnInterruptedJobResumesToTheSameOutput) {
  test::TempDir dir;
  write_clip(dir / "in.avi", 12);
  auto interp = flow_interpolator();
  infer::VideoJobOptions o;
  o.input = dir / "in.avi";
  o.segment_seconds = 0.3;  // parts of 3 input frames
  o.output = dir / "whole.mp4";
  const auto whole = infer::interpolate_video(*interp, o);
  ASSERT_TRUE(whole.completed);

  o.output = dir / "resumed.mp4";
  o.progress = [](const infer::VideoJobProgress& p) { return p.input_frames_done < 8; };  // "killed" at frame 8
  const auto first = infer::interpolate_video(*interp, o);
  EXPECT_FALSE(first.completed);
  EXPECT_FALSE(fs::exists(dir / "resumed.mp4"));
  EXPECT_TRUE(fs::exists(infer::video_job_work_dir(dir / "resumed.mp4")));
  o.progress = [&](const infer::VideoJobProgress&) { return true; };
  const auto second = infer::interpolate_video(*interp, o);
  EXPECT_TRUE(second.completed);
  EXPECT_EQ(second.resumed_segments, 2);  // frames 0-5 were finished in two parts
  // The report is the whole job's, as if it had not been stopped (only the gaps from frame 6 on
  // were redone).
  EXPECT_EQ(second.interpolated_frames, whole.interpolated_frames);
  EXPECT_EQ(whole.interpolated_frames, 12 - 1);
  EXPECT_EQ(second.output_frames, whole.output_frames);
  EXPECT_FALSE(fs::exists(infer::video_job_work_dir(dir / "resumed.mp4")));
  const auto a = read_all(dir / "whole.mp4"), b = read_all(dir / "resumed.mp4");
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(cv::norm(a[i], b[i], cv::NORM_INF), 0.0) << "frame " << i;
}

namespace {

// fregan-flow with a non-zero head, and a switch that makes it fail on the n-th call.
struct FailingFlowNet : models::FlowGuidedNetImpl {
  std::atomic<int> calls{0};
  int fail_at = -1;
  using models::FlowGuidedNetImpl::forward_times;
  std::vector<torch::Tensor> forward_times(const models::FrameWindow& window,
                                           const std::vector<double>& times) override {
    if (calls++ == fail_at) throw FileError("synthetic failure in pair " + std::to_string(fail_at));
    return models::FlowGuidedNetImpl::forward_times(window, times);
  }
};

}  // namespace

TEST(VideoJob, TwoPairsInFlightKeepTheOrderAndTheThreadCountAndPassOnErrors) {
  // fregan-flow keeps no state between calls, so the job interpolates two pairs at once; the
  // frames must still come out in order, each exactly what the interpolator makes for its pair
  // with the frames before and after it (four-frame flows: the square accelerates).
  test::TempDir dir;
  fs::create_directories(dir / "in");
  for (int i = 0; i < 7; ++i) {
    cv::imwrite(dir / ("in/" + std::to_string(i) + ".png"), test::moving_square(64, 48, 4 + 2 * i + i * i, 10));
  }
  auto net = std::make_shared<FailingFlowNet>();
  torch::manual_seed(1);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : net->named_parameters()) {
      if (p.key().rfind("head", 0) == 0) p.value().normal_(0, 0.1);  // the net matters
    }
  }
  infer::Interpolator interp(net, torch::kCPU, "fregan-flow");
  ASSERT_TRUE(interp.supports_concurrent_calls());
  const int threads = at::get_num_threads();
  infer::VideoJobOptions o;
  o.input = dir / "in";
  o.output = dir / "out";
  o.detect_cuts = false;
  o.factor = 3;
  const auto r = infer::interpolate_video(interp, o);
  EXPECT_EQ(r.interpolated_frames, 12);
  EXPECT_EQ(at::get_num_threads(), threads);
  const auto files = sorted_files(dir / "out");
  ASSERT_EQ(files.size(), 21u);
  auto input = [&](int i) {
    return i < 0 || i >= 7 ? cv::Mat() : cv::imread(dir / ("in/" + std::to_string(i) + ".png"));
  };
  double largest_four_frame_change = 0;
  for (int i = 0; i + 1 < 7; ++i) {
    const cv::Mat a = input(i), b = input(i + 1);
    EXPECT_EQ(cv::norm(cv::imread(files[3 * i]), a, cv::NORM_INF), 0.0) << "input frame " << i;
    for (int j = 1; j <= 2; ++j) {
      const cv::Mat made = cv::imread(files[3 * i + j]);
      EXPECT_EQ(cv::norm(made, interp.interpolate(input(i - 1), a, b, input(i + 2), j / 3.0), cv::NORM_INF), 0.0)
          << "pair " << i << ", t = " << j << "/3";
      largest_four_frame_change =
          std::max(largest_four_frame_change, cv::norm(made, interp.interpolate(a, b, j / 3.0), cv::NORM_INF));
    }
  }
  EXPECT_GT(largest_four_frame_change, 20.0) << "the neighbours must change the accelerating square's frames";
  // neighbours = false: every pair two-frame.
  o.neighbours = false;
  o.output = dir / "two_frame";
  infer::interpolate_video(interp, o);
  const auto two_frame_files = sorted_files(dir / "two_frame");
  ASSERT_EQ(two_frame_files.size(), 21u);
  for (int i = 0; i + 1 < 7; ++i) {
    EXPECT_EQ(cv::norm(cv::imread(two_frame_files[3 * i + 1]), interp.interpolate(input(i), input(i + 1), 1 / 3.0),
                       cv::NORM_INF),
              0.0)
        << "pair " << i;
  }
  o.neighbours = true;
  // A failure in one pair stops the job with its message and leaves no output.
  net->calls = 0;
  net->fail_at = 3;
  o.output = dir / "failed.mp4";
  try {
    infer::interpolate_video(interp, o);
    FAIL() << "the failure was swallowed";
  } catch (const FileError& e) {
    EXPECT_NE(std::string(e.what()).find("synthetic failure in pair 3"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(dir / "failed.mp4"));
  EXPECT_EQ(at::get_num_threads(), threads);
}

TEST(VideoJob, AHeldFrameIsNoNeighbour) {
  // Frames 0 and 1 are the same (a held frame, as frame-rate conversions make): the motion from
  // frame 1 back to frame 0 is no motion, not a stop, so pair (1, 2) has no neighbour before it.
  test::TempDir dir;
  fs::create_directories(dir / "in");
  const int positions[] = {4, 4, 10, 18, 28};
  for (int i = 0; i < 5; ++i)
    cv::imwrite(dir / ("in/" + std::to_string(i) + ".png"), test::moving_square(64, 48, positions[i], 10));
  auto interp = flow_interpolator();
  infer::VideoJobOptions o;
  o.input = dir / "in";
  o.output = dir / "out";
  infer::interpolate_video(*interp, o);
  const auto files = sorted_files(dir / "out");
  ASSERT_EQ(files.size(), 10u);
  auto input = [&](int i) { return cv::imread(dir / ("in/" + std::to_string(i) + ".png")); };
  EXPECT_EQ(
      cv::norm(cv::imread(files[3]), interp->interpolate(cv::Mat(), input(1), input(2), input(3), 0.5), cv::NORM_INF),
      0.0);
  EXPECT_EQ(
      cv::norm(cv::imread(files[5]), interp->interpolate(input(1), input(2), input(3), input(4), 0.5), cv::NORM_INF),
      0.0);
  // A pair that is itself held has no motion to bend: two frames, whatever its neighbours do.
  fs::create_directories(dir / "held_pair");
  const int held[] = {4, 10, 18, 18, 28};
  for (int i = 0; i < 5; ++i)
    cv::imwrite(dir / ("held_pair/" + std::to_string(i) + ".png"), test::moving_square(64, 48, held[i], 10));
  o.input = dir / "held_pair";
  o.output = dir / "out_held_pair";
  infer::interpolate_video(*interp, o);
  const auto held_files = sorted_files(dir / "out_held_pair");
  auto held_input = [&](int i) { return cv::imread(dir / ("held_pair/" + std::to_string(i) + ".png")); };
  EXPECT_EQ(cv::norm(cv::imread(held_files[5]), interp->interpolate(held_input(2), held_input(3), 0.5), cv::NORM_INF),
            0.0);
}

TEST(Interpolator, ImagesWithNeighboursFollowTheVideoJobsRules) {
  // The 8-bit API given neighbours uses them as the video job would: not a held one, not one
  // across a cut, none for a still pair.
  auto interp = flow_interpolator();
  auto square = [](int x) { return test::moving_square(96, 64, x, 12); };
  const cv::Mat before = square(2), a = square(8), b = square(18), after = square(34);
  const auto two = interp->interpolate(cv::Mat(), a, b, cv::Mat(), 0.5);
  const auto four = interp->interpolate(before, a, b, after, 0.5);
  EXPECT_GT(cv::norm(four, two, cv::NORM_INF), 0.0);  // real neighbours change the result
  // A held frame before and a cut after: the neighbours are dropped.
  cv::Mat cut;
  cv::bitwise_not(square(34), cut);
  EXPECT_EQ(cv::norm(interp->interpolate(a, a.clone(), b, cut, 0.5),
                     interp->interpolate(cv::Mat(), a, b, cv::Mat(), 0.5), cv::NORM_INF),
            0.0);
  EXPECT_EQ(cv::norm(interp->interpolate(before, a, b, cut, 0.5), interp->interpolate(before, a, b, cv::Mat(), 0.5),
                     cv::NORM_INF),
            0.0);
  // A still pair uses no neighbour.
  EXPECT_EQ(cv::norm(interp->interpolate(before, a, a.clone(), after, 0.5), interp->interpolate(a, a.clone(), 0.5),
                     cv::NORM_INF),
            0.0);
  const auto use = data::usable_neighbours(before, a, b, cut);
  EXPECT_TRUE(use.before);
  EXPECT_FALSE(use.after);
}

TEST(VideoJob, EncoderPresetsAreCheckedUpFront) {
  test::TempDir dir;
  write_clip(dir / "in.avi", 4);
  auto interp = flow_interpolator();
  infer::VideoJobOptions o;
  o.input = dir / "in.avi";
  o.output = dir / "out.mp4";
  o.preset = "turbo";
  EXPECT_THROW(infer::interpolate_video(*interp, o), InvalidArgument);
  o.preset = "veryfast";
  o.codec = "libvpx-vp9";
  o.output = dir / "out.webm";
  EXPECT_THROW(infer::interpolate_video(*interp, o), InvalidArgument);
  EXPECT_FALSE(fs::exists(infer::video_job_work_dir(dir / "out.webm")));
  o.codec = "libx264";
  o.output = dir / "out.mp4";
  EXPECT_EQ(infer::interpolate_video(*interp, o).output_frames, 8);
  EXPECT_EQ(read_all(dir / "out.mp4").size(), 8u);
}

// The jobs' options read from JSON (the binding's route): missing keys keep the struct's defaults,
// unknown keys and wrong types are refused, and what is written reads back the same.
TEST(JobOptionsJson, DefaultsLiveInTheStructsAndReadingIsStrict) {
  const auto video =
      nlohmann::json{
          {"input", "in.mp4"}, {"output", "out.mp4"}, {"target_fps", 60}, {"scene", {{"held_threshold", 2.5}}}}
          .get<infer::VideoJobOptions>();
  EXPECT_EQ(video.input, "in.mp4");
  EXPECT_DOUBLE_EQ(video.target_fps, 60.0);
  EXPECT_DOUBLE_EQ(video.scene.held_threshold, 2.5);
  EXPECT_DOUBLE_EQ(video.scene.cut_threshold, data::SceneOptions{}.cut_threshold);
  EXPECT_EQ(video.crf, 18);
  EXPECT_EQ(video.codec, "");
  EXPECT_EQ(video.factor, 2);
  EXPECT_EQ(video.dedup, "auto");
  EXPECT_EQ(nlohmann::json(nlohmann::json(video).get<infer::VideoJobOptions>()), nlohmann::json(video));
  EXPECT_THROW((nlohmann::json{{"fps", 60}}.get<infer::VideoJobOptions>()), InvalidArgument);
  EXPECT_THROW((nlohmann::json{{"crf", "high"}}.get<infer::VideoJobOptions>()), InvalidArgument);
  EXPECT_THROW((nlohmann::json{{"scene", {{"held", 1}}}}.get<infer::VideoJobOptions>()), InvalidArgument);

  const auto upscale = nlohmann::json{{"input", "lr.mp4"}, {"upscale_only", true}}.get<infer::UpscaleVideoOptions>();
  EXPECT_TRUE(upscale.upscale_only);
  EXPECT_EQ(upscale.codec, "libx264");
  EXPECT_EQ(upscale.crf, 18);
  EXPECT_TRUE(upscale.keep_audio);
  EXPECT_THROW((nlohmann::json{{"factor", 2}}.get<infer::UpscaleVideoOptions>()), InvalidArgument);

  const auto exported = nlohmann::json{{"batch", 2}}.get<infer::ExportOptions>();
  EXPECT_EQ(exported.batch, 2);
  EXPECT_EQ(exported.height, 256);
  EXPECT_DOUBLE_EQ(exported.check_tolerance, 1e-4);
  EXPECT_THROW((nlohmann::json{{"size", 64}}.get<infer::ExportOptions>()), InvalidArgument);
}
