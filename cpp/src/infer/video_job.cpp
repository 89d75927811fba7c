#include "fregan/infer/video_job.h"

#include <sys/stat.h>

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <future>
#include <fstream>
#include <mutex>
#include <optional>
#include <thread>

#include <ATen/Parallel.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "fregan/data/frame_source.h"
#include "fregan/device.h"
#include "fregan/error.h"
#include "fregan/io/atomic_file.h"
#include "fregan/io/image.h"
#include "fregan/io/job_lock.h"
#include "fregan/io/output_guard.h"
#include "fregan/io/video.h"
#include "fregan/log.h"

namespace fs = std::filesystem;

namespace fregan::infer {
namespace {

using ReadFrame = std::function<bool(cv::Mat&)>;

// Decodes on its own thread, at most `capacity` frames ahead of the consumer.
class FrameQueue {
 public:
  FrameQueue(ReadFrame read, size_t capacity) : read_(std::move(read)), capacity_(capacity), thread_([this] { run(); }) {}
  ~FrameQueue() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  // Next frame, or nullopt at the end of the input.
  std::optional<cv::Mat> pop() {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [&] { return !frames_.empty() || done_; });
    if (frames_.empty() && error_) std::rethrow_exception(error_);
    if (frames_.empty()) return std::nullopt;
    cv::Mat f = std::move(frames_.front());
    frames_.pop_front();
    cv_.notify_all();
    return f;
  }

 private:
  void run() {
    try {
      cv::Mat frame;
      while (true) {
        {
          std::unique_lock<std::mutex> lock(mutex_);
          cv_.wait(lock, [&] { return stop_ || frames_.size() < capacity_; });
          if (stop_) break;
        }
        if (!read_(frame)) break;
        std::lock_guard<std::mutex> lock(mutex_);
        frames_.push_back(frame.clone());
        cv_.notify_all();
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      error_ = std::current_exception();
    }
    std::lock_guard<std::mutex> lock(mutex_);
    done_ = true;
    cv_.notify_all();
  }

  ReadFrame read_;
  size_t capacity_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<cv::Mat> frames_;
  std::exception_ptr error_;
  bool done_ = false, stop_ = false;
  std::thread thread_;
};

// Runs tasks in submission order on its own thread, at most `capacity` waiting: converting and
// encoding (or saving) finished frames overlaps the interpolation of the next pair instead of
// stalling it whenever the encoder's pipe is full.  A failed task's exception is rethrown by the
// next submit() or drain().
class SerialWorker {
 public:
  explicit SerialWorker(size_t capacity) : capacity_(capacity), thread_([this] { run(); }) {}
  ~SerialWorker() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void submit(std::function<void()> task) {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [&] { return tasks_.size() < capacity_ || error_; });
    rethrow_locked();
    tasks_.push_back(std::move(task));
    cv_.notify_all();
  }
  // Waits until every submitted task has run.
  void drain() {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [&] { return (tasks_.empty() && !busy_) || error_; });
    rethrow_locked();
  }

 private:
  void rethrow_locked() {
    if (!error_) return;
    auto e = error_;
    error_ = nullptr;
    tasks_.clear();
    std::rethrow_exception(e);
  }
  void run() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (true) {
      cv_.wait(lock, [&] { return stop_ || !tasks_.empty(); });
      if (tasks_.empty()) return;  // stopping with nothing left
      auto task = std::move(tasks_.front());
      tasks_.pop_front();
      busy_ = true;
      lock.unlock();
      std::exception_ptr failure;
      try {
        task();
      } catch (...) {
        failure = std::current_exception();
      }
      lock.lock();
      busy_ = false;
      if (failure && !error_) error_ = failure;
      if (error_) tasks_.clear();
      cv_.notify_all();
    }
  }

  size_t capacity_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  std::exception_ptr error_;
  bool busy_ = false, stop_ = false;
  std::thread thread_;
};

// The input: a video through VideoReader, or the images of a folder in natural order.
struct Input {
  ReadFrame read;
  int width = 0, height = 0;
  double fps = 0;
  int64_t frame_count = 0;
  bool is_folder = false;
  std::vector<std::string> color_args;  // the video's colour description, for the encoder
  bool full_range = false;              // how the reader converted to BGR (io::VideoInfo)
  std::string matrix;
  int bits = 8;                         // bits per component of the source (frames are 16-bit above 8)
  bool alpha = false;                   // BGRA frames (a folder of PNG frames with alpha)
  std::string mastering_display, content_light;  // HDR10 metadata (io::StreamProbe)
  std::shared_ptr<io::VideoReader> reader;
  // A variable-frame-rate video: every frame's presentation time (seconds, in order), and the
  // rate `fps` is its typical one (1 / the median frame duration).  Empty: frame n is at n / fps.
  std::vector<double> timestamps;
  double min_frame_duration = 0, max_frame_duration = 0;
};

Input open_input(const VideoJobOptions& o) {
  Input in;
  if (!fs::exists(o.input)) throw FileError("input '" + o.input + "' does not exist");
  if (fs::is_directory(o.input)) {
    auto files = std::make_shared<std::vector<std::string>>(data::list_frame_files(o.input));
    if (files->empty()) throw FileError("folder '" + o.input + "' holds no images");
    const cv::Mat first = io::read_frame(files->front());
    in.width = first.cols;
    in.height = first.rows;
    in.fps = o.input_fps > 0 ? o.input_fps : 25.0;
    in.frame_count = static_cast<int64_t>(files->size());
    in.is_folder = true;
    in.bits = first.depth() == CV_16U ? 16 : 8;
    in.alpha = first.channels() == 4;
    auto next = std::make_shared<size_t>(0);
    in.read = [files, next](cv::Mat& out) {
      if (*next >= files->size()) return false;
      out = io::read_frame((*files)[(*next)++]);
      return true;
    };
    return in;
  }
  if (io::is_image_file(o.input)) throw InvalidArgument("'" + o.input + "' is an image: pass a video or a folder of frames");
  const auto probe = io::probe_stream(o.input);
  if (probe.probed && !probe.has_video) {
    throw FileError("'" + o.input + "' has no video stream" + std::string(probe.has_audio ? " (it is audio only)" : ""));
  }
  in.color_args = probe.color_args;
  if (probe.truncated) {
    log::warn("'" + o.input + "' is cut short (its index names more data than the file holds): the output covers the "
              "frames it has");
  }
  if (probe.variable_frame_rate && o.input_fps <= 0) {
    // Each frame at its own time: the output frames between two of them are interpolated at the
    // times that fall between theirs.
    in.timestamps = io::frame_timestamps(o.input);
    in.min_frame_duration = probe.min_frame_duration;
    in.max_frame_duration = probe.max_frame_duration;
  }
  in.reader = std::make_shared<io::VideoReader>(o.input);
  in.width = in.reader->info().width;
  in.height = in.reader->info().height;
  in.fps = o.input_fps > 0 ? o.input_fps : in.reader->info().fps;
  if (!in.timestamps.empty() && probe.typical_frame_rate > 0) in.fps = probe.typical_frame_rate;
  in.frame_count = in.reader->info().frame_count;
  in.full_range = in.reader->info().full_range;
  in.bits = in.reader->info().bits;
  if (in.reader->info().deinterlaced) {
    log::info("'" + o.input + "' is interlaced: deinterlaced (bwdif) before interpolation; the output is progressive");
  }
  in.mastering_display = probe.mastering_display;
  in.content_light = probe.content_light;
  in.matrix = in.reader->info().matrix;
  auto reader = in.reader;
  in.read = [reader](cv::Mat& out) { return reader->read(out); };
  return in;
}

// Through the checked atomic writer: a full disk fails here, never leaves a 0-byte job.json.
void write_json_atomically(const fs::path& path, const nlohmann::json& j) {
  io::write_file_atomically(path.string(), j.dump(2) + "\n");
}

// Nanoseconds since 1970 (std::filesystem's clock counts from another epoch, giving negative numbers).
int64_t modification_time_ns(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

// First index k with k / ratio >= position (in input frames), i.e. ceil(position * ratio), robust
// to rounding.
int64_t first_output_at_or_after(double position, double ratio) {
  return static_cast<int64_t>(std::ceil(position * ratio - 1e-6));
}

// How many of the first pairs of `read`'s frames (at most `pairs`) are held frames, and how many
// pairs were seen.
std::pair<int, int> count_held_pairs(const ReadFrame& read, int pairs, double threshold) {
  cv::Mat frame, last;
  int held = 0, seen = 0;
  while (seen < pairs && read(frame)) {
    cv::Mat probe = data::held_probe(frame);
    if (!last.empty()) {
      ++seen;
      if (data::held_difference(last, probe) < threshold) ++held;
    }
    last = probe;
  }
  return {held, seen};
}

}  // namespace

std::string video_job_work_dir(const std::string& output) {
  fs::path p(output);
  if (!p.has_filename()) p = p.parent_path();  // "out/" -> "out.fregan-job"
  std::string name = p.filename().string() + ".fregan-job";
  // A file name may have 255 bytes: a long output name is shortened, with a hash of it kept unique.
  constexpr size_t kMaxName = 255;
  if (name.size() > kMaxName) {
    char tag[24];
    std::snprintf(tag, sizeof tag, "-%016zx", std::hash<std::string>{}(p.filename().string()));
    name = p.filename().string().substr(0, kMaxName - 11 - 17) + tag + ".fregan-job";
  }
  return (p.parent_path() / name).string();
}

VideoJobResult interpolate_video(Interpolator& interpolator, const VideoJobOptions& o) {
  require(!o.input.empty() && !o.output.empty(), "video job needs an input and an output path");
  require(o.output.find_first_of("\n\r") == std::string::npos,
          "the output path has a line break, which ffmpeg's list of parts cannot hold: choose a name without one");
  require(o.target_fps > 0 || o.factor >= 2, "factor must be >= 2 (or give a target fps), got " + std::to_string(o.factor));
  require(std::isfinite(o.target_fps) && std::isfinite(o.input_fps) && o.target_fps >= 0 && o.input_fps >= 0,
          "frame rates must be positive numbers");
  require(o.target_fps == 0 || (o.target_fps >= kMinTargetFps && o.target_fps <= kMaxTargetFps),
          "the target frame rate must be between 0.1 and 1000 fps, got " +
              std::to_string(o.target_fps));
  require(o.segment_seconds > 0, "segment_seconds must be > 0");
  if (!o.codec.empty()) io::check_encoder_preset(o.codec, o.preset);  // the chosen codec's: check_encoder_settings
  if (!interpolator.supports_any_time()) {
    require(o.target_fps == 0 && o.factor >= 2 && (o.factor & (o.factor - 1)) == 0,
            "model '" + interpolator.model_name() + "' predicts middle frames only: use --factor 2, 4, 8, ..., or a "
            "flow-guided model (fregan-flow) for --fps and other factors");
  }
  const auto start = std::chrono::steady_clock::now();
  std::error_code ec;
  // Neither the output nor the job's work folder (removed at the end) may be or hold the input.
  io::check_output_is_not_an_input(o.output, {o.input});
  io::check_output_is_not_an_input(video_job_work_dir(o.output), {o.input});
  const bool video_out = io::is_video_file(o.output);
  if (!video_out && fs::path(o.output).has_extension() && !fs::is_directory(o.output)) {
    throw InvalidArgument("output '" + o.output + "' is neither a video (.mp4, .mkv, ...) nor a folder for frames");
  }
  Input in = open_input(o);
  if (in.width < kMinFrameSide || in.height < kMinFrameSide) {
    throw InvalidArgument("'" + o.input + "' is " + std::to_string(in.width) + "x" + std::to_string(in.height) +
                          " (WxH): fregan needs frames of at least " + std::to_string(kMinFrameSide) + "x" +
                          std::to_string(kMinFrameSide) + " pixels");
  }
  if (!in.timestamps.empty() && !interpolator.supports_any_time()) {
    char msg[512];
    std::snprintf(msg, sizeof msg,
                  "'%s' has a variable frame rate (frame durations from %.1f to %.1f ms) and model '%s' predicts middle "
                  "frames only: use a flow-guided model (fregan-flow, the default), which interpolates each frame at its "
                  "own time, or convert it first: ffmpeg -i '%s' -fps_mode cfr -r %g constant.mp4",
                  o.input.c_str(), in.min_frame_duration * 1000, in.max_frame_duration * 1000,
                  interpolator.model_name().c_str(), o.input.c_str(), in.fps);
    throw InvalidArgument(msg);
  }
  // Held frames: dropped where asked, or (auto) where a third of the first pairs are held; only a
  // model that takes any t can interpolate across the gaps they leave.
  require(o.dedup == "auto" || o.dedup == "on" || o.dedup == "off",
          "dedup must be 'auto', 'on' or 'off', got '" + o.dedup + "'");
  require(o.scene.held_threshold >= 0 && o.scene.held_threshold <= 255,
          "the held-frame threshold must be between 0 and 255, got " + std::to_string(o.scene.held_threshold));
  require(o.dedup_max_run >= 1, "dedup_max_run must be >= 1, got " + std::to_string(o.dedup_max_run));
  if (o.dedup == "on" && !interpolator.supports_any_time()) {
    throw InvalidArgument("removing held frames (--dedup on) needs a model that interpolates at any t (fregan-flow); "
                          "model '" + interpolator.model_name() + "' predicts middle frames only");
  }
  bool dedup = o.dedup == "on";
  if (o.dedup == "auto" && interpolator.supports_any_time()) {
    // A fresh pass over the first frames, one frame in memory at a time (a video's shrunk by ffmpeg
    // to the width the measure looks at: no full-size frames converted and piped for this look).
    ReadFrame first_frames = in.is_folder ? open_input(o).read : ReadFrame();
    if (!in.is_folder) {
      auto reader = std::make_shared<io::VideoReader>(o.input, data::kHeldProbeWidth);
      first_frames = [reader](cv::Mat& frame) { return reader->read(frame); };
    }
    const auto [held, pairs] = count_held_pairs(first_frames, kDedupProbePairs, o.scene.held_threshold);
    dedup = pairs > 0 && 3 * held >= pairs;
    if (dedup) {
      log::info(std::to_string(held) + " of the first " + std::to_string(pairs) +
                " frame pairs are held frames: removing held frames (--dedup off to keep them)");
    }
  }
  // The encoder is asked before any work: an unknown codec, a codec the container cannot hold or a
  // --crf out of range fails here, not after the whole job.
  std::string codec = video_out ? io::codec_for_container(o.output, o.codec) : o.codec;
  if (video_out && o.codec.empty() && in.bits > 8 && codec == "libx264") {
    // Players decode 10-bit HEVC (and its HDR10 metadata) far more widely than 10-bit H.264.
    codec = "libx265";
    log::info("'" + o.input + "' has " + std::to_string(in.bits) + "-bit colour: encoding with libx265 to keep it");
  }
  io::VideoWriterOptions wo;
  wo.fps = o.target_fps > 0 ? o.target_fps : in.fps * o.factor;
  wo.codec = codec;
  wo.crf = o.crf;
  wo.preset = o.preset;
  wo.extra_args = in.color_args;
  wo.full_range = in.full_range;
  wo.matrix = in.matrix;
  wo.bits = in.bits;
  if (video_out) {
    // What the codec cannot keep is said once, before the work.
    if (in.bits > 8 && !io::codec_keeps_bit_depth(codec)) {
      log::warn("'" + o.input + "' has " + std::to_string(in.bits) + "-bit colour but codec '" + codec +
                "' writes 8 bits: use --codec libx265, libx264, libvpx-vp9 or ffv1 to keep it");
    }
    const bool hdr10 = !in.mastering_display.empty() || !in.content_light.empty();
    if (hdr10 && codec == "libx265") {
      std::string params = "hdr10=1";
      if (!in.mastering_display.empty()) params += ":master-display=" + in.mastering_display;
      if (!in.content_light.empty()) params += ":max-cll=" + in.content_light;
      wo.extra_args.insert(wo.extra_args.end(), {"-x265-params", params});
    } else if (hdr10) {
      log::warn("'" + o.input + "' carries HDR10 mastering-display / content-light metadata, which codec '" + codec +
                "' does not write: use --codec libx265 to keep it");
    }
    io::check_encoder_settings(wo, in.width, in.height, {".mkv", fs::path(o.output).extension().string()});
  }
  if (in.alpha && video_out) {
    log::warn("'" + o.input + "' has alpha, which fregan keeps in folders of PNG frames only: the video '" + o.output +
              "' is written without it");
  }
  // Checks the output early (exists without overwrite, folder missing or unwritable).
  if (video_out) io::check_output_path(o.output, o.overwrite);
  else {
    io::check_output_folder(o.output, o.overwrite);  // only a folder fregan made is replaced
    const fs::path parent = fs::absolute(o.output).parent_path();
    if (!fs::is_directory(parent)) throw FileError("the folder of the output '" + o.output + "' does not exist");
  }

  VideoJobResult result;
  result.input_fps = in.fps;
  result.deinterlaced = in.reader && in.reader->info().deinterlaced;
  result.output_fps = o.target_fps > 0 ? o.target_fps : in.fps * o.factor;
  result.width = in.width;
  result.height = in.height;
  const double ratio = result.output_fps / result.input_fps;  // output frames per input frame
  const int64_t segment_frames = std::max<int64_t>(2, std::llround(o.segment_seconds * in.fps));

  // The work folder: parts of a previous run are reused only if they were made the same way.
  const fs::path work = video_job_work_dir(o.output);
  nlohmann::json fingerprint = {
      {"input", fs::absolute(o.input).string()},
      {"input_bytes", in.is_folder ? 0 : static_cast<int64_t>(fs::file_size(o.input))},
      {"input_mtime", modification_time_ns(o.input)},
      {"model", interpolator.model_name()}, {"output_fps", result.output_fps}, {"input_fps", in.fps},
      {"codec", codec}, {"crf", o.crf}, {"preset", o.preset}, {"video_out", video_out}, {"segment_frames", segment_frames},
      {"detect_cuts", o.detect_cuts}, {"cut_threshold", o.scene.cut_threshold}, {"cut_ratio", o.scene.cut_ratio},
      {"neighbours", o.neighbours && interpolator.uses_neighbours()}, {"static_threshold", o.scene.static_threshold},
      {"size", {in.width, in.height}}, {"dedup", dedup}, {"held_threshold", o.scene.held_threshold},
      {"dedup_max_run", o.dedup_max_run}, {"timestamps", !in.timestamps.empty()}};
  // One job per output, for the whole job (released however this process ends); a job refused
  // before it finished a part leaves no work folder behind.
  io::JobLock job_lock(work.string(), o.output);
  struct RemoveUnusedWorkDir {
    io::JobLock& lock;
    bool keep = false;
    ~RemoveUnusedWorkDir() {
      if (!keep) lock.remove_work_dir();
    }
  } unused_work_dir{job_lock};
  int64_t segments_done = 0, frames_in_done_segments = 0;
  const fs::path state_path = work / "job.json";
  if (fs::exists(state_path) && o.resume) {
    try {
      std::ifstream f(state_path);
      const auto state = nlohmann::json::parse(f);
      if (state.at("fingerprint") == fingerprint) {
        segments_done = state.at("segments_done").get<int64_t>();
        frames_in_done_segments = state.at("output_frames").get<int64_t>();
      } else if (state.value("segments_done", int64_t{0}) > 0) {
        log::warn("the interrupted run in '" + work.string() + "' used other options or another input: starting over");
      }
    } catch (const std::exception&) {
      log::warn("the state of the interrupted run in '" + work.string() + "' is unreadable: starting over");
      segments_done = 0;
    }
  }
  if (segments_done == 0) {
    job_lock.clear_work_dir();
    fs::create_directories(work / (video_out ? "" : "frames"));
  } else {
    unused_work_dir.keep = true;
    log::info("resuming '" + o.output + "': " + std::to_string(segments_done) + " finished part(s) of " +
              std::to_string(segment_frames) + " input frames reused");
  }
  result.resumed_segments = segments_done;
  auto save_state = [&](int64_t done, int64_t frames) {
    write_json_atomically(state_path, {{"fingerprint", fingerprint}, {"segments_done", done}, {"output_frames", frames}});
  };
  if (segments_done == 0) save_state(0, 0);

  wo.fps = result.output_fps;
  auto segment_path = [&](int64_t s, bool temp) {
    char name[64];
    std::snprintf(name, sizeof name, temp ? "part_%05lld.tmp.mkv" : "part_%05lld.mkv", static_cast<long long>(s));
    return (work / name).string();
  };

  FrameQueue queue(in.read, 8);
  const bool four_frame = o.neighbours && interpolator.uses_neighbours();
  // A window of decoded frames: pair i needs frames i and i + 1 (and i - 1, i + 2 as its
  // neighbours), and its cut decision the thumbnail differences of `neighbourhood` pairs on each
  // side (for the neighbour after it, those of pair i + 1).
  std::deque<cv::Mat> window;  // frames window_start, window_start + 1, ...
  int64_t window_start = 0, decoded = 0;
  bool ended = false;
  std::vector<double> differences;  // thumbnail difference of pair (j, j + 1), all j so far
  cv::Mat last_thumb;
  // Where each kept frame stands on the input's timeline, in input frames (frame n of a constant-
  // rate input at n; held frames removed leave gaps; a variable-rate input's frames at their
  // timestamps), and where the input ends (the last frame holds until then).
  std::vector<double> positions;
  std::vector<int64_t> source_index;  // each kept frame's index among all decoded frames
  int64_t source_frames = 0;          // frames decoded, held ones included
  double end_position = 0;
  auto position_of = [&](int64_t n) {
    if (in.timestamps.empty()) return static_cast<double>(n);
    const auto& ts = in.timestamps;
    if (n < static_cast<int64_t>(ts.size())) return (ts[static_cast<size_t>(n)] - ts.front()) * in.fps;
    return (ts.back() - ts.front()) * in.fps + static_cast<double>(n + 1 - static_cast<int64_t>(ts.size()));
  };
  // Held frames being skipped: the last of them, kept if the run turns out to be a pause.
  cv::Mat held_probe_of_kept, last_held;
  int64_t held_run = 0, last_held_index = -1;
  auto keep = [&](cv::Mat frame, int64_t n) {
    if (o.detect_cuts || four_frame) {
      cv::Mat thumb = data::thumbnail(frame);
      if (!last_thumb.empty()) differences.push_back(data::thumbnail_difference(last_thumb, thumb));
      last_thumb = thumb;
    }
    positions.push_back(position_of(n));
    source_index.push_back(n);
    window.push_back(std::move(frame));
    ++decoded;
  };
  auto decode_one = [&]() {
    while (!ended) {
      auto f = queue.pop();
      if (!f) {
        ended = true;
        end_position = position_of(source_frames);
        return;
      }
      const int64_t n = source_frames++;
      if (f->cols != in.width || f->rows != in.height) {
        throw InvalidArgument("'" + o.input + "' changes frame size at frame " + std::to_string(n) + " (" +
                              std::to_string(f->cols) + "x" + std::to_string(f->rows) + " after " +
                              std::to_string(in.width) + "x" + std::to_string(in.height) + ")");
      }
      if (dedup) {
        cv::Mat probe = data::held_probe(*f);
        if (!held_probe_of_kept.empty() && data::held_difference(held_probe_of_kept, probe) < o.scene.held_threshold) {
          ++held_run;
          last_held = std::move(*f);
          last_held_index = n;
          continue;  // a repeat: the next distinct frame decides where the motion goes
        }
        // A hold longer than dedup_max_run is a pause, not a lower drawing rate: its last repeat is
        // kept, so that the motion after it starts when it did.
        if (held_run > o.dedup_max_run) keep(std::move(last_held), last_held_index);
        held_run = 0;
        held_probe_of_kept = probe;
      }
      keep(std::move(*f), n);
      return;
    }
  };

  decode_one();
  if (decoded == 0) throw FileError("'" + o.input + "' has no decodable frames");
  decode_one();
  if (source_frames < 2) throw InvalidArgument("'" + o.input + "' has only 1 frame: at least 2 are needed to interpolate");

  std::unique_ptr<io::VideoWriter> writer;
  // Declared after the writer so that it stops (and finishes its tasks) first.
  const size_t pairs_in_flight = interpolator.supports_concurrent_calls() ? 2 : 1;
  SerialWorker output_worker(4);
  bool segment_open = false;
  int64_t current_segment = -1, output_frames = frames_in_done_segments, work_started_at = -1;
  auto work_start = std::chrono::steady_clock::now();
  auto finish_segment = [&]() {
    if (!segment_open) return;
    output_worker.drain();
    if (writer) {
      writer->close();
      writer.reset();
      fs::rename(segment_path(current_segment, true), segment_path(current_segment, false));
    }
    segment_open = false;
    save_state(current_segment + 1, output_frames);
    unused_work_dir.keep = true;  // a finished part: kept for a rerun
  };
  // Output frame k: an input frame or an interpolated one (converted on the worker thread).
  auto write = [&](cv::Mat frame, torch::Tensor made, cv::Mat alpha, int64_t k) {
    io::VideoWriter* sink = writer.get();
    const int depth = in.bits > 8 ? CV_16U : CV_8U;
    output_worker.submit([&work, sink, frame = std::move(frame), made = std::move(made), alpha = std::move(alpha), k,
                          pairs_in_flight, depth]() {
      // Beside two pairs in flight on one thread each, a parallel conversion only oversubscribes.
      if (pairs_in_flight > 1) set_loop_threads_of_this_thread(1);
      const cv::Mat image = made.defined() ? io::with_alpha(io::tensor_to_image(made, depth), alpha) : frame;
      if (sink) {
        sink->write(io::colour_of(image));
      } else {
        char name[64];
        std::snprintf(name, sizeof name, "frame_%06lld.png", static_cast<long long>(k));
        io::write_image((work / "frames" / name).string(), image, true);
      }
    });
    ++output_frames;
  };
  // Pairs being interpolated, oldest first: two at once where the model allows it (fregan-flow's
  // optical flow, net and renderer leave cores idle in turns, which the other pair fills), their
  // output frames written in order.
  struct PendingPair {
    int64_t k_begin = 0;
    std::vector<cv::Mat> frames;  // output frames k_begin, ...: input frames, or empty where ...
    std::vector<int64_t> slots;   // ... these come from `made`, in order
    std::vector<cv::Mat> alphas;  // the alpha of each of `made`'s frames (frames with alpha)
    std::future<std::vector<torch::Tensor>> made;
  };
  // The workers lower torch's thread count, whose default is shared: put it back however the job ends.
  struct RestoreThreads {
    int threads = at::get_num_threads();
    ~RestoreThreads() { at::set_num_threads(threads); }  // also this thread's loop threads
  } restore_threads;
  // This thread converts each input frame while the pairs run: one thread, as the writer's.
  if (pairs_in_flight > 1) set_loop_threads_of_this_thread(1);
  std::deque<PendingPair> pending;  // declared after the writer and its worker: waits for its tasks first
  auto write_oldest_pair = [&]() {
    PendingPair pair = std::move(pending.front());
    pending.pop_front();
    std::vector<torch::Tensor> made_frames(pair.frames.size());
    std::vector<cv::Mat> made_alphas(pair.frames.size());
    if (pair.made.valid()) {
      const auto made = pair.made.get();
      for (size_t j = 0; j < made.size(); ++j) {
        made_frames[static_cast<size_t>(pair.slots[j])] = made[j];
        if (j < pair.alphas.size()) made_alphas[static_cast<size_t>(pair.slots[j])] = pair.alphas[j];
      }
      result.interpolated_frames += static_cast<int64_t>(made.size());
    }
    for (size_t slot = 0; slot < pair.frames.size(); ++slot) {
      write(pair.frames[slot], made_frames[slot], made_alphas[slot], pair.k_begin + static_cast<int64_t>(slot));
    }
  };
  auto write_pending_pairs = [&]() {
    while (!pending.empty()) write_oldest_pair();
  };
  auto progress_after = [&](int64_t i) {  // the report after input frame i
    VideoJobProgress p;
    p.input_frames_done = source_index[static_cast<size_t>(i)] + 1;
    p.input_frames_total = std::max(in.frame_count, source_frames);
    p.output_frames = output_frames;
    if (work_started_at >= 0) {
      const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - work_start).count();
      p.frames_per_second = static_cast<double>(i + 1 - work_started_at) / std::max(elapsed, 1e-9);
      p.eta_seconds = static_cast<double>(std::max<int64_t>(0, p.input_frames_total - i - 1)) / std::max(p.frames_per_second, 1e-9);
    }
    return p;
  };
  // Each frame's tensor is made once for the (up to four) pairs it is in: the model recognises a
  // frame it has prepared by its tensor.
  std::deque<std::pair<int64_t, torch::Tensor>> tensors;  // the last few frames' tensors, by index
  constexpr size_t kKeptTensors = 4;                       // frames i - 1 .. i + 2
  auto tensor_of = [&](int64_t index) {
    for (const auto& [j, tensor] : tensors) {
      if (j == index) return tensor;
    }
    tensors.emplace_back(index, io::image_to_tensor(io::colour_of(window[static_cast<size_t>(index - window_start)])));
    while (tensors.size() > kKeptTensors) tensors.pop_front();
    return tensors.back().second;
  };
  // Whether a cut lies between frames j and j + 1, decided once per pair (the first time it is
  // asked, with the same frames decoded ahead as when pair j itself is reached: resumed and
  // uninterrupted runs decide alike).
  std::vector<int8_t> cut_known;
  auto cut_between = [&](int64_t j) {
    if (!o.detect_cuts) return false;
    const size_t k = static_cast<size_t>(j);
    if (cut_known.size() <= k) cut_known.resize(k + 1, -1);
    if (cut_known[k] < 0) cut_known[k] = data::is_cut(differences, k, o.scene) ? 1 : 0;
    return cut_known[k] == 1;
  };
  // Frame j + 1 (or j) usable as the neighbour of a pair ending (or starting) at it: no cut and no
  // held frame between them.
  auto moves_on_to = [&](int64_t j) {
    return !cut_between(j) && differences[static_cast<size_t>(j)] >= o.scene.static_threshold;
  };

  for (int64_t i = 0;; ++i) {
    // Decode far enough ahead for the cut decisions of pair i and of pair i + 1 (its neighbour).
    while (!ended && decoded < i + 3 + o.scene.neighbourhood) decode_one();
    if (i >= decoded) break;
    const cv::Mat& frame = window[static_cast<size_t>(i - window_start)];
    const bool has_next = i + 1 < decoded;
    const int64_t segment = i / segment_frames;
    const double position = positions[static_cast<size_t>(i)];
    const double next_position = has_next ? positions[static_cast<size_t>(i + 1)] : end_position;
    const int64_t k_begin = first_output_at_or_after(position, ratio);
    // (For the last frame, [k_begin, k_end) are the frames that hold it to the end.)
    const int64_t k_end = first_output_at_or_after(next_position, ratio);
    const bool cut = has_next && cut_between(i);
    if (cut) ++result.scene_cuts;
    if (segment >= segments_done) {
      if (segment != current_segment) {
        write_pending_pairs();
        finish_segment();
        current_segment = segment;
        if (work_started_at < 0) {
          work_started_at = i;
          work_start = std::chrono::steady_clock::now();
        }
        if (video_out) writer = std::make_unique<io::VideoWriter>(segment_path(segment, true), in.width, in.height, wo);
        segment_open = true;
      }
      PendingPair pair;
      pair.k_begin = k_begin;
      pair.frames.resize(static_cast<size_t>(std::max<int64_t>(0, k_end - k_begin)));
      std::vector<double> times;
      for (int64_t k = k_begin; k < k_end; ++k) {
        const double t = (static_cast<double>(k) / ratio - position) / (next_position - position);
        auto& slot = pair.frames[static_cast<size_t>(k - k_begin)];
        if (t < 1e-6 || !has_next) slot = frame;
        else if (cut) slot = t < 0.5 ? frame : window[static_cast<size_t>(i + 1 - window_start)];
        else {
          times.push_back(t);
          pair.slots.push_back(k - k_begin);
          if (in.alpha) {
            pair.alphas.push_back(io::alpha_between(io::alpha_of(frame),
                                                    io::alpha_of(window[static_cast<size_t>(i + 1 - window_start)]), t));
          }
        }
      }
      if (!times.empty()) {
        models::FrameWindow pair_window{{}, tensor_of(i), tensor_of(i + 1), {}};
        // A pair that hardly changes (a held frame, a screen where one character is typed) has no
        // motion to bend: its neighbours' motion would only move what stands still.
        const bool pair_moves = four_frame && differences[static_cast<size_t>(i)] >= o.scene.static_threshold;
        if (pair_moves && i >= 1 && moves_on_to(i - 1)) pair_window.before = tensor_of(i - 1);
        if (pair_moves && i + 2 < decoded && moves_on_to(i + 1)) pair_window.after = tensor_of(i + 2);
        pair.made = std::async(std::launch::async, [&interpolator, single_threaded = pairs_in_flight > 1,
                                                    pair_window = std::move(pair_window), times = std::move(times)] {
          if (single_threaded) at::set_num_threads(1);  // two of these share the cores
          return interpolator.interpolate_times(pair_window, times);
        });
      }
      pending.push_back(std::move(pair));
      while (pending.size() >= pairs_in_flight) write_oldest_pair();
    }
    // Frames before i are no longer needed (frame i is pair i + 1's neighbour before).
    while (window_start < i) {
      window.pop_front();
      ++window_start;
    }
    // Before the report on the last input frame, the pairs still in flight are written, so that
    // report counts every output frame.
    if (ended && i + 1 >= decoded) write_pending_pairs();
    if (o.progress) {
      if (!o.progress(progress_after(i))) {
        // Keep the finished parts for a later run; drop the part in progress.
        try {
          write_pending_pairs();
          output_worker.drain();
        } catch (const std::exception&) {
          // The part in progress is dropped anyway.
        }
        if (writer) {
          writer.reset();
          fs::remove(segment_path(current_segment, true), ec);
        }
        result.input_frames = source_index[static_cast<size_t>(i)] + 1;
        result.output_frames = output_frames;
        result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        log::info("stopped: rerun the same command to continue from the finished parts in '" + work.string() + "'");
        return result;
      }
    }
  }
  write_pending_pairs();
  finish_segment();
  result.input_frames = source_frames;
  result.duplicates_removed = source_frames - decoded;
  result.output_frames = output_frames;

  // Assemble the output.
  if (video_out) {
    std::vector<std::string> parts;
    for (int64_t s = 0; s * segment_frames < decoded; ++s) {
      if (!fs::exists(segment_path(s, false))) throw FileError("part " + segment_path(s, false) + " is missing: rerun the job");
      parts.push_back(segment_path(s, false));
    }
    io::AtomicOutput output(o.output, o.overwrite);
    result.audio_kept = io::concat_videos(parts, o.keep_audio && !in.is_folder ? o.input : "", output.temp_path());
    io::check_video_file(output.temp_path(), output_frames);  // complete before it replaces anything
    output.commit();
  } else {
    // Frames of the parts are already under their final names: move them into place (the frames
    // of an earlier run in a folder fregan made are replaced only now; no other file is touched).
    io::install_output_folder((work / "frames").string(), o.output);
  }
  unused_work_dir.keep = true;
  job_lock.remove_work_dir();
  result.completed = true;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace fregan::infer
