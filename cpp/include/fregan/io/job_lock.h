#pragma once
// One job per output: an OS file lock (flock) on a lock file in the job's work folder, held for the
// whole job.  The kernel releases it when the process ends in any way (exit, crash, kill -9), so a
// dead job never blocks the next one, and a second job on the same output is refused at once
// instead of mixing its parts with the first's.
#include <string>

namespace fregan::io {

// The lock file's name inside a work folder.
constexpr const char* kJobLockName = "lock";

class JobLock {
 public:
  // Creates `work_dir` if needed and takes the lock on its lock file without waiting.  Throws
  // FileError, one line naming `output` and the fix, when another job (in this or another
  // process) holds it; FileError when the folder cannot be made.
  JobLock(const std::string& work_dir, const std::string& output);
  ~JobLock();  // releases the lock (the lock file stays unless remove_work_dir() ran)
  JobLock(const JobLock&) = delete;
  JobLock& operator=(const JobLock&) = delete;

  // Removes every file of the work folder but the lock file (a fresh start under the lock).
  void clear_work_dir();
  // Removes the work folder with its lock file, still holding the lock: a job waiting on the old
  // lock file sees it was removed and takes a new one (see the constructor).
  void remove_work_dir();
  const std::string& work_dir() const { return work_dir_; }

 private:
  std::string work_dir_;
  int fd_ = -1;
};

}  // namespace fregan::io
