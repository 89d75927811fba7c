#include "fregan/infer/frame_input.h"

#include <filesystem>

#include "fregan/data/frame_source.h"
#include "fregan/error.h"
#include "fregan/io/image.h"
#include "fregan/io/video.h"
#include "fregan/log.h"

namespace fs = std::filesystem;

namespace fregan::infer {

FrameInput open_frame_input(const std::string& path, double input_fps, InputTiming timing) {
  FrameInput in;
  if (!fs::exists(path)) throw FileError("input '" + path + "' does not exist");
  if (fs::is_directory(path)) {
    auto files = std::make_shared<std::vector<std::string>>(data::list_frame_files(path));
    if (files->empty()) throw FileError("folder '" + path + "' holds no images");
    const cv::Mat first = io::read_frame(files->front());
    in.width = first.cols;
    in.height = first.rows;
    in.fps = input_fps > 0 ? input_fps : 25.0;
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
  if (io::is_image_file(path)) throw InvalidArgument("'" + path + "' is an image: pass a video or a folder of frames");
  const auto probe = io::probe_stream(path);
  if (probe.probed && !probe.has_video) {
    throw FileError("'" + path + "' has no video stream" + std::string(probe.has_audio ? " (it is audio only)" : ""));
  }
  in.color_args = probe.color_args;
  if (probe.truncated) {
    log::warn("'" + path +
              "' is cut short (its index names more data than the file holds): the output covers the "
              "frames it has");
  }
  if (probe.variable_frame_rate && input_fps <= 0 && timing == InputTiming::kFrameTimes) {
    // Each frame at its own time: the output frames between two of them are interpolated at the
    // times that fall between theirs.
    in.timestamps = io::frame_timestamps(path);
    in.min_frame_duration = probe.min_frame_duration;
    in.max_frame_duration = probe.max_frame_duration;
  }
  in.reader = std::make_shared<io::VideoReader>(path);
  const auto& info = in.reader->info();
  in.width = info.width;
  in.height = info.height;
  in.fps = input_fps > 0 ? input_fps : info.fps;
  if (!in.timestamps.empty() && probe.typical_frame_rate > 0) in.fps = probe.typical_frame_rate;
  in.frame_count = info.frame_count;
  in.full_range = info.full_range;
  in.bits = info.bits;
  in.deinterlaced = info.deinterlaced;
  if (info.deinterlaced) {
    log::info("'" + path + "' is interlaced: deinterlaced (bwdif) as it is read; the output is progressive");
  }
  in.mastering_display = probe.mastering_display;
  in.content_light = probe.content_light;
  in.matrix = info.matrix;
  auto reader = in.reader;
  in.read = [reader](cv::Mat& out) { return reader->read(out); };
  return in;
}

}  // namespace fregan::infer
