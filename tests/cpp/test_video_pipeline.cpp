// The video job's parts that need no video: its timing plan, held-frame removal, the read-ahead
// and worker threads, and the resumable work folder.
#include <atomic>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/core.hpp>

#include "fregan/infer/pipeline.h"
#include "fregan/infer/retiming.h"
#include "fregan/infer/segmented_output.h"
#include "fregan/io/video.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace fregan;
using Kind = infer::OutputFrameSource::Kind;

TEST(Retiming, FirstOutputFrameAtOrAfterAPositionIsItsCeilingRobustToRounding) {
  EXPECT_EQ(infer::first_output_at_or_after(1.0, 2.0), 2);
  EXPECT_EQ(infer::first_output_at_or_after(0.5, 2.0), 1);
  EXPECT_EQ(infer::first_output_at_or_after(0.3, 2.5), 1);  // 0.75
  // 0.1 * 30 is 3.0000000000000004 in doubles: still output frame 3, not 4.
  EXPECT_EQ(infer::first_output_at_or_after(0.1, 30.0), 3);
}

TEST(Retiming, DoublingCopiesEachFrameAndInterpolatesTheMiddle) {
  const auto frames = infer::output_frames_of_pair(3, 4, 2.0, true, false);
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[0].k, 6);
  EXPECT_EQ(frames[0].kind, Kind::first);
  EXPECT_EQ(frames[1].k, 7);
  EXPECT_EQ(frames[1].kind, Kind::interpolated);
  EXPECT_DOUBLE_EQ(frames[1].t, 0.5);
}

TEST(Retiming, AnyRatioGivesTheTimesBetweenTheFramesAndKeepsTheDuration) {
  // 2.5x: pair (1, 2) covers positions 1.2 and 1.6 (output frames 3 and 4).
  const auto frames = infer::output_frames_of_pair(1, 2, 2.5, true, false);
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[0].k, 3);
  EXPECT_NEAR(frames[0].t, 0.2, 1e-12);
  EXPECT_EQ(frames[1].k, 4);
  EXPECT_NEAR(frames[1].t, 0.6, 1e-12);
  // Three frames at 2.5x become ceil(3 * 2.5) = 8 output frames, each made once; the last frame
  // holds to the input's end.
  size_t total = 0;
  int64_t next_k = 0;
  for (int i = 0; i < 3; ++i) {
    for (const auto& f : infer::output_frames_of_pair(i, i + 1, 2.5, i < 2, false)) {
      EXPECT_EQ(f.k, next_k++);
      if (i == 2) EXPECT_EQ(f.kind, Kind::first);
      ++total;
    }
  }
  EXPECT_EQ(total, 8u);
  // Slowing down (0.4x): most pairs make no frame at all.
  EXPECT_TRUE(infer::output_frames_of_pair(1, 2, 0.4, true, false).empty());
  EXPECT_EQ(infer::output_frames_of_pair(2, 3, 0.4, true, false).size(), 1u);  // position 2.5
}

TEST(Retiming, NothingIsBlendedAcrossACutTheNearerFrameIsRepeated) {
  const auto frames = infer::output_frames_of_pair(0, 1, 4.0, true, true);
  ASSERT_EQ(frames.size(), 4u);
  EXPECT_EQ(frames[0].kind, Kind::first);   // t = 0
  EXPECT_EQ(frames[1].kind, Kind::first);   // t = 0.25
  EXPECT_EQ(frames[2].kind, Kind::second);  // t = 0.5
  EXPECT_EQ(frames[3].kind, Kind::second);  // t = 0.75
}

TEST(Retiming, VariableRateFramesStandAtTheirTimestamps) {
  const std::vector<double> ts{10.0, 10.04, 10.12};  // 25 fps typical, one frame missing
  EXPECT_DOUBLE_EQ(infer::input_position(0, ts, 25), 0);
  EXPECT_NEAR(infer::input_position(1, ts, 25), 1, 1e-9);
  EXPECT_NEAR(infer::input_position(2, ts, 25), 3, 1e-9);
  EXPECT_NEAR(infer::input_position(3, ts, 25), 4, 1e-9);  // past the timestamps: 1 / fps on
  EXPECT_DOUBLE_EQ(infer::input_position(7, {}, 25), 7);
  // Doubling across the gap (positions 1 to 3) interpolates at t = 0.25, 0.5, 0.75.
  const auto frames = infer::output_frames_of_pair(1, 3, 2.0, true, false);
  ASSERT_EQ(frames.size(), 4u);
  EXPECT_EQ(frames[0].kind, Kind::first);
  EXPECT_NEAR(frames[1].t, 0.25, 1e-12);
  EXPECT_NEAR(frames[3].t, 0.75, 1e-12);
}

TEST(Retiming, HeldFramesAreDroppedAndAPauseKeepsItsLastRepeat) {
  auto grey = [](int v) { return cv::Mat(32, 48, CV_8UC3, cv::Scalar::all(v)); };
  infer::HeldFrameRemover remover(/*threshold=*/2.0, /*max_run=*/3);
  // A, A (held), B, then B held four times (a pause longer than 3), then C.
  const std::vector<int> values{50, 50, 120, 120, 120, 120, 120, 200};
  std::vector<int64_t> kept_indices;
  std::vector<int> kept_values;
  for (size_t n = 0; n < values.size(); ++n) {
    for (auto& kept : remover.push(grey(values[n]), static_cast<int64_t>(n))) {
      kept_indices.push_back(kept.index);
      kept_values.push_back(kept.frame.at<cv::Vec3b>(0, 0)[0]);
    }
  }
  EXPECT_EQ(kept_indices, (std::vector<int64_t>{0, 2, 6, 7}));
  EXPECT_EQ(kept_values, (std::vector<int>{50, 120, 120, 200}));
  // A short hold (<= max_run) keeps no repeat.
  infer::HeldFrameRemover short_hold(2.0, 3);
  std::vector<int64_t> indices;
  for (int n = 0; n < 4; ++n) {
    for (auto& kept : short_hold.push(grey(n < 3 ? 50 : 90), n)) indices.push_back(kept.index);
  }
  EXPECT_EQ(indices, (std::vector<int64_t>{0, 3}));
}

TEST(Pipeline, ReadAheadDeliversInOrderThenTheReadersFailure) {
  int next = 0;
  infer::ReadAhead<int> items(
      [&next](int& item) {
        if (next == 5) throw std::runtime_error("disk gone");
        item = next++;
        return true;
      },
      2);
  for (int expected = 0; expected < 5; ++expected) EXPECT_EQ(items.pop().value(), expected);
  EXPECT_THROW(items.pop(), std::runtime_error);
  int count = 0;
  infer::ReadAhead<int> finite(
      [&count](int& item) {
        item = count;
        return count++ < 3;
      },
      8);
  EXPECT_EQ(finite.pop().value(), 0);
  EXPECT_EQ(finite.pop().value(), 1);
  EXPECT_EQ(finite.pop().value(), 2);
  EXPECT_FALSE(finite.pop().has_value());
}

TEST(Pipeline, SerialWorkerRunsTasksInOrderAndRethrowsAFailure) {
  std::vector<int> order;
  {
    infer::SerialWorker worker(2);
    for (int i = 0; i < 10; ++i) worker.submit([&order, i] { order.push_back(i); });
    worker.drain();
    EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
    worker.submit([] { throw std::runtime_error("encoder died"); });
    EXPECT_THROW(worker.drain(), std::runtime_error);
    worker.submit([&order] { order.push_back(10); });  // works again after the failure was told
    worker.drain();
  }
  EXPECT_EQ(order.back(), 10);
}

TEST(SegmentedOutput, AFinishedPartIsReusedOnlyByTheSameJob) {
  test::TempDir dir;
  const std::string output = dir / "frames_out";
  const nlohmann::json fingerprint = {{"model", "x"}, {"fps", 50}};
  {
    infer::SegmentedOutput parts(output, /*video_out=*/false, fingerprint, /*resume=*/true);
    EXPECT_EQ(parts.parts_done(), 0);
    parts.open_part(0, 8, 8, {});
    std::ofstream(parts.frame_path(0)) << "frame";
    parts.finish_part(1, 0);
    parts.open_part(1, 8, 8, {});
    parts.drop_part();  // stopped during part 1
  }
  EXPECT_TRUE(fs::exists(infer::video_job_work_dir(output)));
  {
    infer::SegmentedOutput other(output, false, {{"model", "y"}, {"fps", 50}}, true);
    EXPECT_EQ(other.parts_done(), 0);  // another job: starts over (and finishes nothing)
  }
  EXPECT_FALSE(fs::exists(infer::video_job_work_dir(output)));
  {
    infer::SegmentedOutput parts(output, false, fingerprint, true);
    EXPECT_EQ(parts.parts_done(), 0);  // the other job cleared it
    parts.open_part(0, 8, 8, {});
    std::ofstream(parts.frame_path(0)) << "frame";
    parts.finish_part(1, 1);
  }
  infer::SegmentedOutput resumed(output, false, fingerprint, true);
  EXPECT_EQ(resumed.parts_done(), 1);
  EXPECT_EQ(resumed.output_frames_done(), 1);
  EXPECT_EQ(resumed.interpolated_frames_done(), 1);
  EXPECT_FALSE(resumed.assemble(1, false, "", 1));
  EXPECT_TRUE(fs::exists(fs::path(output) / "frame_000000.png"));
  EXPECT_FALSE(fs::exists(infer::video_job_work_dir(output)));
}
