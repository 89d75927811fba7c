#pragma once
// The video job's timing, apart from any video: which input frames (and which t between them)
// make each output frame, where held frames are removed, and how a cut is crossed.
//
// Output frame k shows source time k / output_fps, i.e. position p = k * ratio⁻¹ in input frames
// (ratio = output_fps / input_fps).  The input frames kept (all of them, or the distinct ones when
// held frames are removed) stand at positions on that axis: frame n of a constant-rate input at n,
// a variable-rate input's frames at their timestamps.  The output frames whose positions fall in
// [position of kept frame i, position of kept frame i + 1) belong to pair i: a frame exactly at
// the pair's start copies it, the others are interpolated at t = p's place between the two
// positions, and across a hard cut the nearer frame is repeated instead (nothing blended across
// it).  After the last kept frame, the output frames up to the input's end hold it, so N input
// frames at a constant rate become ceil(N * ratio) output frames and the audio stays in sync.
#include <cstdint>
#include <optional>
#include <vector>

#include <opencv2/core/mat.hpp>

namespace fregan::infer {

// First output index k whose position k / ratio is at or after `position` (in input frames), i.e.
// ceil(position * ratio), robust to rounding.
int64_t first_output_at_or_after(double position, double ratio);

// Where input frame n stands, in input frames: n for a constant-rate input (`timestamps` empty),
// else (timestamp n - timestamp 0) * fps; frames past the last timestamp follow at 1 / fps.
double input_position(int64_t n, const std::vector<double>& timestamps, double fps);

struct OutputFrameSource {
  enum class Kind { first, second, interpolated };
  int64_t k = 0;            // output frame index
  Kind kind = Kind::first;  // a copy of the pair's first or second frame, or interpolated ...
  double t = 0;             // ... at this t in (0, 1)
};

// The output frames of the pair whose frames stand at `position` and `next_position` (for the
// last frame: next_position = the input's end, has_next false: every frame holds it).  `cut`: a
// hard cut lies between the two frames.
std::vector<OutputFrameSource> output_frames_of_pair(double position, double next_position, double ratio, bool has_next,
                                                     bool cut);

// Removes held frames (repeats) from a stream of frames, as the video job's dedup does: a frame
// whose held_difference to the last kept frame is below `threshold` is a repeat and dropped; a
// run of more than `max_run` repeats is a pause, not a lower drawing rate, so its last repeat is
// kept (just before the next distinct frame), and the motion after the pause starts when it did.
class HeldFrameRemover {
 public:
  HeldFrameRemover(double threshold, int max_run) : threshold_(threshold), max_run_(max_run) {}
  struct Kept {
    cv::Mat frame;
    int64_t index = 0;  // among all the input's frames
  };
  // Input frame `index` (in order): the frames it lets through, in order — none (a repeat), the
  // frame itself, or a pause's last repeat and then the frame.
  std::vector<Kept> push(cv::Mat frame, int64_t index);

 private:
  double threshold_;
  int max_run_;
  cv::Mat probe_of_kept_, last_held_;
  int64_t held_run_ = 0, last_held_index_ = -1;
};

}  // namespace fregan::infer
