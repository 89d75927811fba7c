#include "fregan/data/frame_source.h"

#include <algorithm>
#include <filesystem>

#include "fregan/error.h"
#include "fregan/io/image.h"
#include "fregan/io/video.h"
#include "fregan/log.h"

namespace fs = std::filesystem;

namespace fregan::data {
namespace {

// Natural order: digit runs compare as numbers so frame_2 < frame_10.
bool natural_less(const std::string& a, const std::string& b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (std::isdigit(static_cast<unsigned char>(a[i])) && std::isdigit(static_cast<unsigned char>(b[j]))) {
      size_t i2 = i, j2 = j;
      while (i2 < a.size() && std::isdigit(static_cast<unsigned char>(a[i2]))) ++i2;
      while (j2 < b.size() && std::isdigit(static_cast<unsigned char>(b[j2]))) ++j2;
      const std::string na = a.substr(i, i2 - i), nb = b.substr(j, j2 - j);
      const std::string ta = na.substr(std::min(na.find_first_not_of('0'), na.size()));
      const std::string tb = nb.substr(std::min(nb.find_first_not_of('0'), nb.size()));
      if (ta.size() != tb.size()) return ta.size() < tb.size();
      if (ta != tb) return ta < tb;
      i = i2;
      j = j2;
    } else {
      if (a[i] != b[j]) return a[i] < b[j];
      ++i;
      ++j;
    }
  }
  return a.size() - i < b.size() - j;
}

void search_folder(const fs::path& dir, std::vector<FrameSource>& out) {
  if (fs::exists(dir / "manifest.json")) {
    out.push_back({dir.string(), false, true, false});
    return;
  }
  if (!list_frame_files(dir.string()).empty()) {
    out.push_back({dir.string(), true});
    return;
  }
  std::vector<fs::path> entries;
  for (const auto& e : fs::directory_iterator(dir)) entries.push_back(e.path());
  std::sort(entries.begin(), entries.end(),
            [](const fs::path& a, const fs::path& b) { return natural_less(a.string(), b.string()); });
  for (const auto& p : entries) {
    if (fs::is_directory(p)) {
      search_folder(p, out);
    } else if (io::is_video_file(p.string())) {
      out.push_back({p.string(), false});
    }
  }
}

}  // namespace

std::vector<std::string> list_frame_files(const std::string& folder) {
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(folder)) {
    if (e.is_regular_file() && io::is_image_file(e.path().string())) files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end(), natural_less);
  return files;
}

std::vector<FrameSource> expand_sources(const std::vector<std::string>& paths) {
  std::vector<FrameSource> out;
  for (const auto& path : paths) {
    if (!fs::exists(path)) throw FileError("data path '" + path + "' does not exist");
    if (fs::is_directory(path)) {
      const size_t before = out.size();
      search_folder(path, out);
      if (out.size() == before) throw FileError("folder '" + path + "' holds no videos and no frames");
      if (out.size() == before + 1 && out.back().path == path) out.back().named = true;
    } else {
      out.push_back({path, false, false, true});
    }
  }
  return out;
}

std::vector<cv::Mat> read_frames(const FrameSource& source, int64_t max_frames, std::string* warning) {
  std::vector<cv::Mat> frames;
  if (source.is_folder) {
    for (const auto& file : list_frame_files(source.path)) {
      if (max_frames > 0 && static_cast<int64_t>(frames.size()) >= max_frames) break;
      frames.push_back(io::read_image(file));
      if (frames.back().size() != frames.front().size()) {
        throw FileError("folder '" + source.path + "' mixes frame sizes: '" + file + "' is " +
                        std::to_string(frames.back().cols) + "x" + std::to_string(frames.back().rows) +
                        ", the first frame " + std::to_string(frames.front().cols) + "x" +
                        std::to_string(frames.front().rows));
      }
    }
    return frames;
  }
  io::VideoReader reader(source.path);
  cv::Mat frame;
  std::string fault;
  while (max_frames <= 0 || static_cast<int64_t>(frames.size()) < max_frames) {
    try {
      if (!reader.read(frame)) break;
    } catch (const std::exception& e) {
      fault = e.what();
      break;
    }
    frames.push_back(frame.clone());
  }
  // Containers report a frame count; far fewer decoded frames means a truncated or corrupt file.
  const int64_t reported = reader.info().frame_count;
  const int64_t wanted = max_frames > 0 ? std::min(max_frames, reported) : reported;
  if (warning && (!fault.empty() || (reported > 0 && static_cast<int64_t>(frames.size()) + 2 < wanted))) {
    *warning = "'" + source.path + "': decoded " + std::to_string(frames.size()) + " of " + std::to_string(reported) +
               " frames the container announces" +
               (fault.empty() ? std::string(" (truncated, corrupt, or a wrong header)") : ": " + fault) +
               "; kept those";
  }
  return frames;
}

}  // namespace fregan::data
