#pragma once
// The frames a streaming job reads: a video (through io::VideoReader: rotation, range, bit depth
// and interlacing as the file says) or the images of a folder in natural order, with what the
// output needs to carry over (rate, colour description, bit depth, alpha, HDR10 metadata, the
// frames' own times for a variable-rate video).
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <opencv2/core/mat.hpp>

namespace fregan::io {
class VideoReader;
}

namespace fregan::infer {

struct FrameInput {
  // Fills the next frame (BGR, or BGRA with alpha; 16-bit above 8 bits); false at the end.
  std::function<bool(cv::Mat&)> read;
  int width = 0, height = 0;
  double fps = 0;
  int64_t frame_count = 0;  // as the container reports it (0 if unknown)
  bool is_folder = false;
  std::vector<std::string> color_args;  // the video's colour description, for the encoder
  bool full_range = false;              // how the reader converted to BGR (io::VideoInfo)
  std::string matrix;
  int bits = 8;                                  // bits per component of the source (frames are 16-bit above 8)
  bool alpha = false;                            // BGRA frames (a folder of PNG frames with alpha)
  bool deinterlaced = false;                     // an interlaced video, deinterlaced by the reader
  std::string mastering_display, content_light;  // HDR10 metadata (io::StreamProbe)
  std::shared_ptr<io::VideoReader> reader;
  // A variable-frame-rate video: every frame's presentation time (seconds, in order), and the
  // rate `fps` is its typical one (1 / the median frame duration).  Empty: frame n is at n / fps.
  std::vector<double> timestamps;
  double min_frame_duration = 0, max_frame_duration = 0;
};

// How a variable-frame-rate video is timed: each frame at its own time (FrameInput::timestamps,
// `fps` its typical rate) for a job that retimes frames, or at the container's rate for a job that
// writes every input frame once (the upscaler: the output then lasts as long as the input).
enum class InputTiming { kFrameTimes, kContainerRate };

// Opens `path` (a video or a folder of frames).  `input_fps` > 0 overrides the rate (a folder's
// default is 25) and turns off variable-rate timing.  Throws FileError / InvalidArgument naming
// the problem (missing, an image, no video stream, an empty folder).
FrameInput open_frame_input(const std::string& path, double input_fps = 0,
                            InputTiming timing = InputTiming::kFrameTimes);

}  // namespace fregan::infer
