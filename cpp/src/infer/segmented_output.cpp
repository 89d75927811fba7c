#include "fregan/infer/segmented_output.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>

#include "fregan/error.h"
#include "fregan/io/atomic_file.h"
#include "fregan/io/output_guard.h"
#include "fregan/io/video.h"
#include "fregan/log.h"

namespace fs = std::filesystem;

namespace fregan::infer {

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

SegmentedOutput::SegmentedOutput(const std::string& output, bool video_out, nlohmann::json fingerprint, bool resume)
    : output_(output),
      video_out_(video_out),
      fingerprint_(std::move(fingerprint)),
      lock_(video_job_work_dir(output), output) {
  const fs::path work = lock_.work_dir();
  const fs::path state_path = work / "job.json";
  try {
    if (fs::exists(state_path) && resume) {
      try {
        std::ifstream f(state_path);
        const auto state = nlohmann::json::parse(f);
        if (state.at("fingerprint") == fingerprint_) {
          parts_done_ = state.at("segments_done").get<int64_t>();
          output_frames_done_ = state.at("output_frames").get<int64_t>();
          interpolated_frames_done_ = state.value("interpolated_frames", int64_t{0});
        } else if (state.value("segments_done", int64_t{0}) > 0) {
          log::warn("the interrupted run in '" + work.string() +
                    "' used other options or another input: starting over");
        }
      } catch (const std::exception&) {
        log::warn("the state of the interrupted run in '" + work.string() + "' is unreadable: starting over");
        parts_done_ = 0;
      }
    }
    if (parts_done_ == 0) {
      lock_.clear_work_dir();
      fs::create_directories(work / (video_out_ ? "" : "frames"));
      save_state(0, 0, 0);
    } else {
      keep_work_dir_ = true;
    }
  } catch (...) {
    if (!keep_work_dir_) lock_.remove_work_dir();
    throw;
  }
}

SegmentedOutput::~SegmentedOutput() {
  writer_.reset();
  if (!keep_work_dir_) lock_.remove_work_dir();
}

std::string SegmentedOutput::part_path(int64_t part, bool temporary) const {
  char name[64];
  std::snprintf(name, sizeof name, temporary ? "part_%05lld.tmp.mkv" : "part_%05lld.mkv", static_cast<long long>(part));
  return (fs::path(lock_.work_dir()) / name).string();
}

std::string SegmentedOutput::frame_path(int64_t k) const {
  char name[64];
  std::snprintf(name, sizeof name, "frame_%06lld.png", static_cast<long long>(k));
  return (fs::path(lock_.work_dir()) / "frames" / name).string();
}

void SegmentedOutput::save_state(int64_t parts, int64_t output_frames, int64_t interpolated_frames) const {
  // Through the checked atomic writer: a full disk fails here, never leaves a 0-byte job.json.
  const nlohmann::json state = {{"fingerprint", fingerprint_},
                                {"segments_done", parts},
                                {"output_frames", output_frames},
                                {"interpolated_frames", interpolated_frames}};
  io::write_file_atomically((fs::path(lock_.work_dir()) / "job.json").string(), state.dump(2) + "\n");
}

void SegmentedOutput::open_part(int64_t part, int width, int height, const io::VideoWriterOptions& options) {
  FREGAN_CHECK(!part_open_, "part ", current_part_, " is still open");
  current_part_ = part;
  if (video_out_) writer_ = std::make_unique<io::VideoWriter>(part_path(part, true), width, height, options);
  part_open_ = true;
}

void SegmentedOutput::finish_part(int64_t output_frames, int64_t interpolated_frames) {
  if (!part_open_) return;
  if (writer_) {
    writer_->close();
    writer_.reset();
    fs::rename(part_path(current_part_, true), part_path(current_part_, false));
  }
  part_open_ = false;
  save_state(current_part_ + 1, output_frames, interpolated_frames);
  keep_work_dir_ = true;
}

void SegmentedOutput::drop_part() {
  if (writer_) {
    writer_.reset();
    std::error_code ec;
    fs::remove(part_path(current_part_, true), ec);
  }
  part_open_ = false;
}

bool SegmentedOutput::assemble(int64_t parts, bool overwrite, const std::string& audio_from, int64_t output_frames) {
  bool audio_kept = false;
  if (video_out_) {
    std::vector<std::string> paths;
    for (int64_t s = 0; s < parts; ++s) {
      if (!fs::exists(part_path(s, false)))
        throw FileError("part " + part_path(s, false) + " is missing: rerun the job");
      paths.push_back(part_path(s, false));
    }
    io::AtomicOutput output(output_, overwrite);
    audio_kept = io::concat_videos(paths, audio_from, output.temp_path());
    io::check_video_file(output.temp_path(), output_frames);  // complete before it replaces anything
    output.commit();
  } else {
    // The frames are already under their final names: move them into place (the frames of an
    // earlier run in a folder fregan made are replaced only now; no other file is touched).
    io::install_output_folder((fs::path(lock_.work_dir()) / "frames").string(), output_);
  }
  keep_work_dir_ = true;
  lock_.remove_work_dir();
  return audio_kept;
}

}  // namespace fregan::infer
