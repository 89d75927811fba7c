#pragma once
// Video in and out.  Decoding goes through an `ffmpeg` process writing raw frames into a pipe (any
// container/codec FFmpeg reads: mp4, avi, mkv, webm, y4m, ...), so that the frames are the ones
// ffmpeg and players show: rotation applied, full or limited range and the matrix as tagged.
// Without an ffmpeg binary, OpenCV's FFmpeg backend decodes (no rotation, BT.601 limited range).  Encoding pipes raw
// frames into an `ffmpeg` process so that the audio of the source can be muxed back in and the codec/quality chosen;
// without an ffmpeg binary it falls back to OpenCV's writer (no audio) and says so.
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
  int rotation = 0;         // degrees of the display matrix, already applied to the frames
  // How the frames were converted to BGR, for the encoder to convert back the same way: full
  // (0..255, "pc", yuvj420p) or limited range, and ffmpeg's scaler's name of the YUV matrix
  // (bt601 when untagged).  Empty matrix: not known (raw .yuv, OpenCV's decoder).
  bool full_range = false;
  std::string matrix;
  // Bits per component of the source; above 8, frames are read as 16-bit BGR (CV_16UC3).
  int bits = 8;
  // The stream is interlaced — by its field order (tt/bb/tb/bt), or, when it has none, by the
  // combing ffmpeg's idet filter finds in its first kInterlaceProbeFrames frames: its frames were
  // deinterlaced (ffmpeg's bwdif, one frame per frame) before fregan sees them.
  bool deinterlaced = false;
};

// An untagged stream is interlaced when idet calls at least kInterlaceMinFrames of its first
// kInterlaceProbeFrames frames interlaced, and more than twice as many as it calls progressive.
constexpr int kInterlaceProbeFrames = 60;
constexpr int kInterlaceMinFrames = 8;

class VideoReader {
 public:
  // Throws FileError naming the file if it does not exist or cannot be decoded.  A `max_width`
  // above 0 makes ffmpeg shrink wider frames to it (area averaging, aspect kept): a cheap look at
  // the content (info() then gives the shrunk size).
  explicit VideoReader(const std::string& path, int max_width = 0);
  ~VideoReader();
  // Next frame as 8-bit BGR (16-bit for a source of more than 8 bits); false at the end of the stream.
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
  std::string codec = "libx264";  // any ffmpeg video encoder
  int crf = 18;                   // quality for x264/x265/vp9 (lower = better)
  // x264/x265 speed preset (ultrafast ... veryslow; empty = the encoder's default, medium): faster
  // presets make bigger files at the same CRF, not worse-looking ones.
  std::string preset;
  std::string audio_from;               // mux the audio stream of this file, if it has one
  std::vector<std::string> extra_args;  // more ffmpeg output options (e.g. colour metadata)
  // The conversion of BGR frames to YUV (VideoInfo's): empty matrix = the scaler's default
  // (BT.601, limited range).
  bool full_range = false;
  std::string matrix;
  // The source's bits per component: above 8, 16-bit frames are written at 10 bits (12 with
  // libx265 and ffv1 for a 12-bit source) where the codec keeps them (codec_keeps_bit_depth).
  int bits = 8;
  // Frames come with alpha (BGRA) and the codec keeps it (codec_keeps_alpha): FFV1 as BGRA (16-bit
  // frames as YUVA 4:4:4 16-bit), ProRes 4444 (yuva444p10le), VP9 (yuva420p, 8 bits), PNG, QuickTime
  // Animation.
  bool alpha = false;
};

// Whether the encoder writes more than 8 bits per component (libx264, libx265, libvpx-vp9, ffv1).
bool codec_keeps_bit_depth(const std::string& codec);

// Whether the encoder writes an alpha channel (ffv1, prores_ks, libvpx-vp9, png, qtrle).
bool codec_keeps_alpha(const std::string& codec);

// The codec for a video with alpha when none is named, by the container of `output`: .mkv ffv1,
// .mov prores_ks (4444), .webm libvpx-vp9; empty for a container that holds no alpha (.mp4, ...).
std::string alpha_codec_for_container(const std::string& output);

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
  // 8- or 16-bit BGR, or BGRA when the writer keeps alpha (a frame without alpha is then opaque; a
  // BGRA frame's alpha is dropped by a writer that does not keep it). Throws FileError "no space left on the device
  // ..." as soon as the output's device is full.
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
  bool deep_ = false;   // 16-bit frames into the pipe
  bool alpha_ = false;  // BGRA frames into the pipe
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
  bool probed = false;  // ffprobe ran and understood the file
  bool has_video = false;
  bool has_audio = false;
  // Frame durations of the first frames differ by more than 10% from each other: a variable
  // frame rate stream (phone recordings, screen captures).  (A truncated file's last packets are
  // left out: the pictures missing between them are not long frames.)  Where the header counts
  // the stream's frames (mp4, mov) and these at the first frames' rate would not fill its
  // duration, every frame's timestamp is read and decides: a rate that changes later is found too.
  bool variable_frame_rate = false;
  double min_frame_duration = 0, max_frame_duration = 0;  // seconds, over the first frames
  double typical_frame_rate = 0;  // 1 / the median frame duration (what a constant-rate copy should use)
  // The container's index names more data than the file holds (an mp4 cut short): the frames end
  // early, which is not a variable frame rate.
  bool truncated = false;
  // ffmpeg output options that carry the input's colour description (range, matrix, primaries,
  // transfer) to an encoded output, so a full-range or BT.709 input stays so.
  std::vector<std::string> color_args;
  // HDR10 (PQ or HLG transfer): the mastering display ("G(x,y)B(x,y)R(x,y)WP(x,y)L(max,min)", in
  // x265's units) and content light level ("MaxCLL,MaxFALL") of the first frame; empty if absent.
  std::string mastering_display, content_light;
};
StreamProbe probe_stream(const std::string& path);

// The presentation time (seconds) of every video frame of `path`, in order, from its packets (no
// decoding); empty when ffprobe is absent or cannot read them.
std::vector<double> frame_timestamps(const std::string& path);

// Joins video files of one codec and size end to end without re-encoding (ffmpeg's concat
// demuxer), muxing in the audio of `audio_from` when it has one (AAC), into `output`.
// Returns whether audio was muxed.  Throws FileError with ffmpeg's message.
bool concat_videos(const std::vector<std::string>& parts, const std::string& audio_from, const std::string& output);

}  // namespace fregan::io
