#pragma once
// Outputs are written to a temporary file beside the destination and renamed into place only when
// complete, so an interrupted job never leaves a half-written file under the final name and never
// destroys what was there before.
#include <string>

namespace fregan::io {

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
