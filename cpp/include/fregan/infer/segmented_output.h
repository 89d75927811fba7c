#pragma once
// The resumable output of a streaming job: the output is made in parts (a video part per segment of
// the input, or the PNG frames of a folder output) in a work folder beside it ("<output>.fregan-job"),
// which one job at a time holds (io::JobLock).  Each finished part is recorded in job.json with the
// job's fingerprint (input, model, options); a rerun with the same fingerprint skips the finished
// parts, and its result is identical to an uninterrupted run.  The parts become the output only when
// all are done: video parts joined (with the input's audio) into a temporary file renamed onto the
// output, frames moved into the output folder; the work folder is then removed.
#include <cstdint>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "fregan/io/job_lock.h"

namespace fregan::io {
class VideoWriter;
struct VideoWriterOptions;
}  // namespace fregan::io

namespace fregan::infer {

// The work folder a job on `output` keeps its parts in.
std::string video_job_work_dir(const std::string& output);

class SegmentedOutput {
 public:
  // Takes the job lock on the work folder of `output` (FileError when another job holds it) and,
  // with `resume`, finds the finished parts of an interrupted run with the same `fingerprint`;
  // otherwise starts an empty work folder.  `video_out`: video parts, else PNG frames.
  SegmentedOutput(const std::string& output, bool video_out, nlohmann::json fingerprint, bool resume);
  // A job that finished no part leaves no work folder behind.
  ~SegmentedOutput();
  SegmentedOutput(const SegmentedOutput&) = delete;
  SegmentedOutput& operator=(const SegmentedOutput&) = delete;

  int64_t parts_done() const { return parts_done_; }                  // finished parts found at the start
  int64_t output_frames_done() const { return output_frames_done_; }  // the output frames in them
  // ... and how many of those were interpolated (0 from a job folder of a fregan before 0.1.1).
  int64_t interpolated_frames_done() const { return interpolated_frames_done_; }
  const std::string& work_dir() const { return lock_.work_dir(); }

  // Starts part `part` (video: an encoder writing its temporary file).
  void open_part(int64_t part, int width, int height, const io::VideoWriterOptions& options);
  bool part_open() const { return part_open_; }
  // The open part's encoder (null for a folder output or when no part is open); valid until the
  // part is finished or dropped.
  io::VideoWriter* writer() const { return writer_.get(); }
  // Where output frame k goes in a folder output.
  std::string frame_path(int64_t k) const;
  // Closes the open part (every frame of it must have been written) and records it with the
  // output frames made so far and how many of them were interpolated (this part's included), so a
  // resumed run reports the whole job's counts.
  void finish_part(int64_t output_frames, int64_t interpolated_frames);
  // Stopped early: the part in progress is dropped; the finished ones stay for a rerun.
  void drop_part();

  // Makes the output of `parts` finished parts (all of them: FileError names a missing one): a
  // video joined, with the audio of `audio_from` when non-empty, checked to hold `output_frames`
  // frames before it replaces anything, or the frames moved into the output folder.  Removes the
  // work folder.  Returns whether audio was muxed.
  bool assemble(int64_t parts, bool overwrite, const std::string& audio_from, int64_t output_frames);

 private:
  std::string part_path(int64_t part, bool temporary) const;
  void save_state(int64_t parts, int64_t output_frames, int64_t interpolated_frames) const;

  std::string output_;
  bool video_out_;
  nlohmann::json fingerprint_;
  io::JobLock lock_;
  int64_t parts_done_ = 0, output_frames_done_ = 0, interpolated_frames_done_ = 0;
  bool keep_work_dir_ = false;  // a part finished: the folder stays for a rerun
  bool part_open_ = false;
  int64_t current_part_ = -1;
  std::unique_ptr<io::VideoWriter> writer_;
};

}  // namespace fregan::infer
