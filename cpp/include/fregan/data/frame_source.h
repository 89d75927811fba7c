#pragma once
// Where frames come from: video files (anything FFmpeg/OpenCV decodes) or folders of numbered
// frames (sorted by name, numerically where names are numbers: 2.png before 10.png).
#include <cstdint>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace fregan::data {

// One clip: a video file or a folder of frames; or a prepared dataset (many clips, see
// prepared_dataset.h).
struct FrameSource {
  std::string path;
  bool is_folder = false;
  bool prepared = false;  // a folder with a fregan-dataset manifest.json
  bool named = false;     // named by the user (an error in it is fatal) rather than found in a folder
};

// Expands the paths a user gives into clips: a video file is one clip; a folder holding images is
// one clip; a folder with a manifest.json is a prepared dataset; any other folder is searched
// recursively for videos, frame folders and prepared datasets.  Throws FileError for a path that
// does not exist or a folder with nothing usable in it.  Grayscale frames are replicated to 3
// channels, 16-bit frames scaled by 1/257, alpha dropped; FFmpeg decodes 10-bit video to 8-bit BGR.
std::vector<FrameSource> expand_sources(const std::vector<std::string>& paths);

// The image files of a frame folder, in frame order.
std::vector<std::string> list_frame_files(const std::string& folder);

// Decodes up to `max_frames` (0 = all) frames of a clip as 8-bit BGR.  A video that stops
// decoding part-way keeps the frames before the fault; `warning` (if given) then says how many of
// how many frames decoded.  Folders with frames of different sizes are refused (FileError).
std::vector<cv::Mat> read_frames(const FrameSource& source, int64_t max_frames = 0, std::string* warning = nullptr);

}  // namespace fregan::data
