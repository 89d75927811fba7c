#pragma once
// Raises a video's frame rate with an Interpolator, streaming with bounded memory: frames are
// decoded ahead on a reader thread (frame_input.h, pipeline.h), interpolated (two pairs at once
// where the model allows it), and converted and encoded on a worker thread into resumable parts
// (segmented_output.h).
//
// Timing (retiming.h): output frame k shows source time k / output_fps.  Each output frame copies
// an input frame or is interpolated between the two kept frames around its time; N input frames
// become ceil(N * output_fps / input_fps) output frames, so the output lasts exactly as long as the
// input (for --factor F: F * N frames) and its audio stays in sync.  Held frames removed (dedup)
// and a variable frame rate only move where the kept frames stand in time.
//
// Scene cuts: no frame is blended across a hard cut; the nearer of the two frames is repeated.
//
// Four-frame flows: pair i is interpolated with frames i - 1 and i + 2 as its neighbours where
// they exist (see VideoJobOptions::neighbours); the model keeps each pair's flows for the pairs
// beside it, so every pair's optical flow is still computed once.
//
// Resumable: running the same job again after an interruption (Ctrl-C, kill, crash) skips the
// finished parts, and the result is identical to an uninterrupted run; the output is replaced
// only when complete.
#include <cstdint>
#include <functional>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "fregan/data/scene.h"
#include "fregan/infer/interpolator.h"
#include "fregan/infer/segmented_output.h"  // video_job_work_dir

namespace fregan::infer {

struct VideoJobProgress {
  int64_t input_frames_done = 0;
  int64_t input_frames_total = 0;  // as the container reports it (0 if unknown)
  int64_t output_frames = 0;       // written so far (including resumed parts)
  double frames_per_second = 0;    // input frames per second of this run
  double eta_seconds = 0;
};
nlohmann::json to_json(const VideoJobProgress& p);

// The target rates a job takes: below 0.1 fps a clip of seconds has one frame; above 1000 fps no
// player shows it.
constexpr double kMinTargetFps = 0.1;
constexpr double kMaxTargetFps = 1000;
// The smallest frame side the models take (smaller ones fail inside the networks).
constexpr int kMinFrameSide = 8;
// dedup "auto" looks at this many frame pairs at the start of the input.
constexpr int kDedupProbePairs = 48;

struct VideoJobOptions {
  std::string input;       // a video, or a folder of frames
  std::string output;      // a video (by extension), or a folder for numbered PNG frames
  int factor = 2;          // output_fps = factor * input_fps ...
  double target_fps = 0;   // ... unless this is > 0 (any rate above or below the input's, in
                           // [kMinTargetFps, kMaxTargetFps])
  double input_fps = 0;    // a folder of frames has no rate: this one (0 = 25)
  bool overwrite = false;  // replace an existing output
  std::string codec;       // ffmpeg encoder; empty = the one that fits the output's container
                           // (.mp4/.mkv/.mov: libx264, .webm: libvpx-vp9, .gif: gif, ...)
  int crf = 18;            // x264/x265 0..51, vp9 0..63: lower is better (checked before any work)
  std::string preset;      // x264/x265 speed preset (empty = the encoder's default, medium)
  bool keep_audio = true;  // mux the input's audio into the output
  bool detect_cuts = true;
  // Four-frame (acceleration-aware) flows for models that use a pair's neighbours (fregan-flow):
  // where the frames before and after a pair exist, with no cut and no held frame (a neighbour
  // pair's thumbnail difference below scene.static_threshold: no motion to read an acceleration
  // from) between them and the pair.  Pairs at clip ends, cuts and held frames, and pairs that
  // hardly change themselves (below scene.static_threshold), stay two-frame.
  // false: every pair two-frame.
  bool neighbours = true;
  data::SceneOptions scene;  // scene.held_threshold: how different a held frame may be (--dedup-threshold)
  // Held frames (repeats: animation drawn "on twos", 12.5 fps content in a 25 fps file, a paused
  // screen recording) are removed before interpolation, and the motion is interpolated between the
  // distinct frames at their true times, so the output moves smoothly instead of keeping the
  // stutter.  "auto": on when at least a third of the first kDedupProbePairs frame pairs are held
  // (and the model takes any t); "on"; "off".
  std::string dedup = "auto";
  // A run of more than this many repeats is a pause, not a lower drawing rate: its last repeat is
  // kept, so the motion after the pause starts when it did instead of creeping through it.
  int dedup_max_run = 3;
  double segment_seconds = 10;  // input seconds per resumable part
  bool resume = true;           // continue a matching interrupted job instead of starting over
  // Called after every input frame; return false to stop (the finished parts are kept for a
  // later run; the output is not written).
  std::function<bool(const VideoJobProgress&)> progress;
};
// Strict JSON of the fields above but `progress` (scene as an object of data::SceneOptions'
// fields): the binding's route from keyword arguments.
void to_json(nlohmann::json& j, const VideoJobOptions& o);
void from_json(const nlohmann::json& j, VideoJobOptions& o);

struct VideoJobResult {
  int64_t input_frames = 0;
  int64_t output_frames = 0;
  int64_t interpolated_frames = 0;
  double input_fps = 0;
  double output_fps = 0;
  int width = 0, height = 0;
  bool audio_kept = false;
  int64_t scene_cuts = 0;          // input frame pairs with a hard cut (no frame blended across)
  int64_t duplicates_removed = 0;  // held frames dropped (dedup), of input_frames
  bool deinterlaced = false;       // the input was interlaced (by its field order) and deinterlaced first
  int64_t resumed_segments = 0;    // parts reused from an interrupted run
  bool completed = false;          // false when progress() stopped the job
  double seconds = 0;
};
nlohmann::json to_json(const VideoJobResult& r);

// Throws FileError / InvalidArgument with a message naming the problem (missing or undecodable
// input, no video stream, a single frame, variable frame rate, an unwritable output, ...).  The
// input is never modified, and the output never half-written.
VideoJobResult interpolate_video(Interpolator& interpolator, const VideoJobOptions& options);

}  // namespace fregan::infer
