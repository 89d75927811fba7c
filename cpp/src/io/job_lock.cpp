#include "fregan/io/job_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "fregan/error.h"
#include "fregan/io/atomic_file.h"

namespace fs = std::filesystem;

namespace fregan::io {

JobLock::JobLock(const std::string& work_dir, const std::string& output) : work_dir_(work_dir) {
  const std::string lock_path = (fs::path(work_dir) / kJobLockName).string();
  // A job that finishes removes the folder and its lock file while holding the lock; one that took
  // the old file's lock meanwhile holds a lock nobody else can see, so it checks that the file it
  // locked is still the one at the path, and tries again if not.
  for (int attempt = 0; attempt < 100; ++attempt) {
    std::error_code ec;
    fs::create_directories(work_dir, ec);
    if (ec && !fs::is_directory(work_dir)) {
      throw FileError(ec.value() == ENOSPC ? describe_write_failure(work_dir, ENOSPC)
                                           : "cannot make the job folder '" + work_dir + "': " + ec.message());
    }
    const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
      if (errno == ENOENT) continue;  // the folder was just removed by a finishing job
      throw FileError(describe_write_failure(lock_path, errno));
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int error = errno;
      ::close(fd);
      if (error == EWOULDBLOCK) {
        throw FileError("another fregan job is writing '" + output + "' (it holds '" + lock_path +
                        "'): wait for it to end, or choose another output");
      }
      throw FileError("cannot lock '" + lock_path + "': " + std::strerror(error));
    }
    struct stat locked {
    }, at_path{};
    if (::fstat(fd, &locked) == 0 && ::stat(lock_path.c_str(), &at_path) == 0 && locked.st_ino == at_path.st_ino &&
        locked.st_dev == at_path.st_dev) {
      fd_ = fd;
      return;
    }
    ::close(fd);  // the file was removed after we opened it: lock the new one
  }
  throw FileError("cannot lock the job folder '" + work_dir + "': it keeps being removed");
}

JobLock::~JobLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the only descriptor releases the flock
}

void JobLock::clear_work_dir() {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(work_dir_, ec)) {
    if (entry.path().filename() != kJobLockName) fs::remove_all(entry.path(), ec);
  }
}

void JobLock::remove_work_dir() {
  clear_work_dir();
  std::error_code ec;
  fs::remove(fs::path(work_dir_) / kJobLockName, ec);
  fs::remove(work_dir_, ec);
}

}  // namespace fregan::io
