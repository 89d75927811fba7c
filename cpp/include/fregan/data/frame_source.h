#pragma once
// Where frames come from: video files (anything FFmpeg/OpenCV decodes) or folders of numbered
// frames (sorted by name, numerically where names are numbers: 2.png before 10.png).
#include <cstdint>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace fregan::data {

// One clip: a video file or a folder of frames.
struct FrameSource {
  std::string path;
  bool is_folder = false;
};

// Expands the paths a user gives into clips: a video file is one clip; a folder holding images is
// one clip; any other folder is searched recursively for videos and frame folders.  Throws
// FileError for a path that does not exist or a folder with nothing usable in it.  Files that
// cannot be clips (raw .yuv, text) inside a searched folder are skipped with a warning.
std::vector<FrameSource> expand_sources(const std::vector<std::string>& paths);

// The image files of a frame folder, in frame order.
std::vector<std::string> list_frame_files(const std::string& folder);

// Decodes up to `max_frames` (0 = all) frames of a clip as 8-bit BGR.  A video that stops
// decoding part-way keeps the frames before the fault (with a warning).
std::vector<cv::Mat> read_frames(const FrameSource& source, int64_t max_frames = 0);

}  // namespace fregan::data
