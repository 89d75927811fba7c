#pragma once
// Video in and out.  Decoding goes through OpenCV's FFmpeg backend (any container/codec FFmpeg
// reads: mp4, avi, mkv, webm, y4m, ...).  Encoding pipes raw frames into an `ffmpeg` process so
// that the audio of the source can be muxed back in and the codec/quality chosen; without an
// ffmpeg binary it falls back to OpenCV's writer (no audio) and says so.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace cv {
class VideoWriter;
}

namespace fregan::io {

// True when the extension is a video container fregan reads (.mp4, .avi, .mkv, .webm, .y4m, ...).
// Raw .yuv (I420, no header) is read too when its name gives the size: "_352x288" or cif/qcif/4cif,
// and optionally the rate: "_12fps" (else 25 fps).
bool is_video_file(const std::string& path);

struct VideoInfo {
  int width = 0;
  int height = 0;
  double fps = 0;           // frames per second as the container reports it
  int64_t frame_count = 0;  // as the container reports it (may be an estimate)
};

class VideoReader {
 public:
  // Throws FileError naming the file if it does not exist or cannot be decoded.
  explicit VideoReader(const std::string& path);
  ~VideoReader();
  // Next frame as 8-bit BGR; false at the end of the stream.
  bool read(cv::Mat& bgr);
  const VideoInfo& info() const { return info_; }
  const std::string& path() const { return path_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string path_;
  VideoInfo info_;
};

struct VideoWriterOptions {
  double fps = 30.0;
  std::string codec = "libx264";   // any ffmpeg video encoder
  int crf = 18;                     // quality for x264/x265/vp9 (lower = better)
  // x264/x265 speed preset (ultrafast ... veryslow; empty = the encoder's default, medium): faster
  // presets make bigger files at the same CRF, not worse-looking ones.
  std::string preset;
  std::string audio_from;           // mux the audio stream of this file, if it has one
  std::vector<std::string> extra_args;  // more ffmpeg output options (e.g. colour metadata)
};

// Throws InvalidArgument for a preset the codec does not take (empty is always fine).
void check_encoder_preset(const std::string& codec, const std::string& preset);

// `codec`, or when it is empty the codec that fits the container of `output` (.mp4/.mkv/.mov:
// libx264, .webm: libvpx-vp9, .gif: gif, .ogv: libtheora, ...).  InvalidArgument for an unknown container.
std::string codec_for_container(const std::string& output, const std::string& codec);

// Before any work: the rate is a positive finite number, the preset and --crf fit the codec, and
// ffmpeg can encode a width x height video of these options into each of `containers` (".mkv",
// ".webm", ...), tried with two frames.  Throws InvalidArgument naming the codec, the container and
// the fix (an unknown encoder, a codec a container cannot hold, a size the encoder refuses).
void check_encoder_settings(const VideoWriterOptions& options, int width, int height,
                            const std::vector<std::string>& containers);

class VideoWriter {
 public:
  // Writes to `path` directly: callers wrap it in an AtomicOutput to get temp + rename.
  VideoWriter(const std::string& path, int width, int height, const VideoWriterOptions& options);
  ~VideoWriter();  // closes without throwing
  // Throws FileError "no space left on the device ..." as soon as the output's device is full.
  void write(const cv::Mat& bgr);
  // Flushes and waits for the encoder; throws FileError with ffmpeg's message if it failed, and
  // when the file is empty or holds fewer frames than were written (ffmpeg can exit 0 after "No
  // space left on device"): a file that close() accepts is complete.
  void close();
  bool keeps_audio() const { return keeps_audio_; }
  int64_t frames_written() const { return frames_written_; }

 private:
  std::string path_;
  int width_, height_;
  bool keeps_audio_ = false;
  int pid_ = -1;
  FILE* pipe_ = nullptr;
  // ffmpeg's messages go to an unnamed file in the temporary folder, not beside the output: on a
  // full disk they would be lost, and with them the reason.
  int log_fd_ = -1;
  int64_t frames_written_ = 0;
  std::unique_ptr<cv::VideoWriter> fallback_;
};

// The number of video frames in `path` as ffprobe counts its packets, or -1 when ffprobe is absent
// or cannot read it.
int64_t count_video_frames(const std::string& path);

// Throws FileError naming `path` unless it is a non-empty file holding `expected` video frames (the
// count is skipped without ffprobe); a full device is reported as such.
void check_video_file(const std::string& path, int64_t expected);

// True if an `ffmpeg` binary is on PATH.
bool have_ffmpeg();
// True if ffprobe finds an audio stream in `path` (false when ffprobe is absent).
bool has_audio_stream(const std::string& path);

// What ffprobe says about a file's first video stream (all defaults when ffprobe is absent or
// the file is a raw .yuv).
struct StreamProbe {
  bool probed = false;       // ffprobe ran and understood the file
  bool has_video = false;
  bool has_audio = false;
  // Frame durations of the first frames differ by more than 10% from each other: a variable
  // frame rate stream (phone recordings, screen captures).
  bool variable_frame_rate = false;
  double min_frame_duration = 0, max_frame_duration = 0;  // seconds, over the first frames
  double typical_frame_rate = 0;  // 1 / the median frame duration (what a constant-rate copy should use)
  // ffmpeg output options that carry the input's colour description (range, matrix, primaries,
  // transfer) to an encoded output, so a full-range or BT.709 input stays so.
  std::vector<std::string> color_args;
};
StreamProbe probe_stream(const std::string& path);

// Joins video files of one codec and size end to end without re-encoding (ffmpeg's concat
// demuxer), muxing in the audio of `audio_from` when it has one (AAC), into `output`.
// Returns whether audio was muxed.  Throws FileError with ffmpeg's message.
bool concat_videos(const std::vector<std::string>& parts, const std::string& audio_from, const std::string& output);

}  // namespace fregan::io
