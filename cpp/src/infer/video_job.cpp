#include "fregan/infer/video_job.h"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include <torch/torch.h>

#include "fregan/error.h"
#include "fregan/io/atomic_file.h"
#include "fregan/io/image.h"
#include "fregan/io/video.h"

namespace fregan::infer {
namespace {

// Decodes on its own thread, at most `capacity` frames ahead of the consumer.
class FrameQueue {
 public:
  FrameQueue(io::VideoReader& reader, size_t capacity) : reader_(reader), capacity_(capacity), thread_([this] { run(); }) {}
  ~FrameQueue() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  // Next frame, or nullopt at the end of the video.
  std::optional<cv::Mat> pop() {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [&] { return !frames_.empty() || done_; });
    if (error_) std::rethrow_exception(error_);
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
        if (!reader_.read(frame)) break;
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

  io::VideoReader& reader_;
  size_t capacity_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<cv::Mat> frames_;
  std::exception_ptr error_;
  bool done_ = false, stop_ = false;
  std::thread thread_;
};

}  // namespace

VideoJobResult interpolate_video(Interpolator& interpolator, const VideoJobOptions& o) {
  require(o.factor >= 2, "factor must be >= 2, got " + std::to_string(o.factor));
  require(!o.input.empty() && !o.output.empty(), "video job needs an input and an output path");
  require(io::is_video_file(o.output), "output '" + o.output + "' needs a video extension (.mp4, .mkv, .avi, ...)");
  const auto start = std::chrono::steady_clock::now();
  io::VideoReader reader(o.input);
  io::AtomicOutput output(o.output, o.overwrite);

  VideoJobResult result;
  result.input_fps = reader.info().fps;
  result.output_fps = reader.info().fps * o.factor;
  result.width = reader.info().width;
  result.height = reader.info().height;

  FrameQueue queue(reader, 8);
  std::optional<cv::Mat> previous = queue.pop();
  if (!previous) throw FileError("video '" + o.input + "' has no decodable frames");
  std::optional<cv::Mat> current = queue.pop();
  if (!current) throw InvalidArgument("video '" + o.input + "' has only 1 frame: at least 2 are needed to interpolate");

  io::VideoWriterOptions wo;
  wo.fps = result.output_fps;
  wo.codec = o.codec;
  wo.crf = o.crf;
  if (o.keep_audio) wo.audio_from = o.input;
  io::VideoWriter writer(output.temp_path(), previous->cols, previous->rows, wo);
  result.audio_kept = writer.keeps_audio();

  const int64_t expected = reader.info().frame_count;
  torch::Tensor prev_tensor = io::image_to_tensor(*previous);
  int64_t done = 1;
  while (current) {
    if (current->size() != previous->size()) {
      throw InvalidArgument("video '" + o.input + "' changes frame size at frame " + std::to_string(done));
    }
    const torch::Tensor cur_tensor = io::image_to_tensor(*current);
    writer.write(*previous);
    ++result.output_frames;
    for (const auto& frame : interpolator.interpolate_sequence(prev_tensor, cur_tensor, o.factor)) {
      writer.write(io::tensor_to_image(frame));
      ++result.output_frames;
    }
    previous = std::move(current);
    prev_tensor = cur_tensor;
    current = queue.pop();
    ++done;
    if (o.progress) o.progress(done, expected);
  }
  // Hold the last frame so the duration (and the audio alignment) is exactly the input's.
  for (int i = 0; i < o.factor; ++i) {
    writer.write(*previous);
    ++result.output_frames;
  }
  writer.close();
  output.commit();
  result.input_frames = done;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace fregan::infer
