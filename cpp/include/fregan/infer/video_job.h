#pragma once
// Raises a video's frame rate by an integer factor with an Interpolator, streaming: frames are
// decoded on a reader thread into a bounded queue, interpolated, and piped to the encoder.
//
// Frame count and duration: N input frames at R fps become factor * N frames at factor * R fps:
// between each pair of input frames factor - 1 new frames are made, and the last input frame is
// held for factor - 1 extra frames, so the output lasts exactly as long as the input and its
// audio stays in sync.
#include <cstdint>
#include <functional>
#include <string>

#include "fregan/infer/interpolator.h"

namespace fregan::infer {

struct VideoJobOptions {
  std::string input;
  std::string output;
  int factor = 2;              // power of two for middle-frame models
  bool overwrite = false;      // replace an existing output
  std::string codec = "libx264";
  int crf = 18;
  bool keep_audio = true;      // mux the input's audio into the output
  // Called after every input frame with (frames done, frames expected or 0 if unknown).
  std::function<void(int64_t, int64_t)> progress;
};

struct VideoJobResult {
  int64_t input_frames = 0;
  int64_t output_frames = 0;
  double input_fps = 0;
  double output_fps = 0;
  int width = 0, height = 0;
  bool audio_kept = false;
  double seconds = 0;
};

// Throws FileError / InvalidArgument with a message naming the problem; the output is written to
// a temporary file and renamed only when complete (never a half-written file).
VideoJobResult interpolate_video(Interpolator& interpolator, const VideoJobOptions& options);

}  // namespace fregan::infer
