#pragma once
// Outputs are written to a temporary file beside the destination and renamed into place only when
// complete, so an interrupted job never leaves a half-written file under the final name and never
// destroys what was there before.
#include <string>

namespace fregan::io {

// Writes `bytes` to `path` (created or truncated) checking every step: each write, the flush to
// the disk (fsync) and the close.  A full disk throws FileError "no space left on the device
// holding '<folder>'" at once, not a 0-byte or truncated file later.
//
// Test hook: when the environment variable FREGAN_FAIL_WRITES_AFTER_BYTES is set to N, the
// checked writes of this process fail with ENOSPC (as a full disk would) once N bytes in total
// have gone through them: fault injection for tests on machines where a tiny filesystem cannot
// be mounted.
void write_file_checked(const std::string& path, const std::string& bytes);

// The test hook in code: checked writes fail with ENOSPC after `bytes` more bytes (-1: never).
void set_injected_write_failure(long long bytes);

// write_file_checked to a temporary file beside `path`, renamed onto it only when complete and
// flushed: `path` holds either its old content or all of `bytes`, never a part.
void write_file_atomically(const std::string& path, const std::string& bytes);

// A one-line description of a failed write of `path` with errno `error`: ENOSPC / EDQUOT / EFBIG
// become "no space left on the device holding '<folder>'" (the free space is checked too, since
// ffmpeg and OpenCV report a full disk in their own words, or not at all).
std::string describe_write_failure(const std::string& path, int error);

// True when the filesystem holding `path` (or its folder) has no room left (< 64 KiB free for us).
bool device_is_full(const std::string& path);

// Throws InvalidArgument if `path` exists and !overwrite, FileError if its folder does not exist
// or is not writable.
void check_output_path(const std::string& path, bool overwrite);

class AtomicOutput {
 public:
  // Checks `final_path` (see check_output_path) and picks a temporary name in the same folder that
  // keeps the extension (encoders choose their format by it).
  AtomicOutput(std::string final_path, bool overwrite);
  ~AtomicOutput();  // removes the temporary file unless committed
  AtomicOutput(const AtomicOutput&) = delete;
  AtomicOutput& operator=(const AtomicOutput&) = delete;

  const std::string& temp_path() const { return temp_path_; }
  const std::string& final_path() const { return final_path_; }
  // Renames the temporary file onto the final path (atomic on POSIX within one file system).
  void commit();

 private:
  std::string final_path_;
  std::string temp_path_;
  bool committed_ = false;
};

}  // namespace fregan::io
