#include "fregan/io/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <system_error>

#include "fregan/error.h"

namespace fs = std::filesystem;

namespace fregan::io {
namespace {

// Free bytes below which a device counts as full: a frame or a job.json no longer fits.
constexpr unsigned long long kFullDeviceBytes = 64 * 1024;

// The fault-injection budget of FREGAN_FAIL_WRITES_AFTER_BYTES (-1: no injection).
std::atomic<long long>& injected_write_budget() {
  static std::atomic<long long> budget{[] {
    const char* v = std::getenv("FREGAN_FAIL_WRITES_AFTER_BYTES");
    return v && *v ? std::atoll(v) : -1LL;
  }()};
  return budget;
}

// Bytes that may still be written before an injected ENOSPC (all of `wanted` without injection).
size_t allowed_by_injection(size_t wanted) {
  auto& budget = injected_write_budget();
  long long left = budget.load();
  if (left < 0) return wanted;
  while (true) {
    const long long take = std::min<long long>(left, static_cast<long long>(wanted));
    if (budget.compare_exchange_weak(left, left - take)) return static_cast<size_t>(take);
  }
}

std::string folder_of(const std::string& path) {
  const fs::path parent = fs::absolute(path).parent_path();
  return parent.empty() ? std::string(".") : parent.string();
}

// The top folder of the filesystem holding `path` (its mount point): the device a user must free.
std::string mount_point_of(const std::string& path) {
  fs::path dir = fs::absolute(path).lexically_normal();
  struct stat st {};
  while (::stat(dir.c_str(), &st) != 0 && dir.has_parent_path() && dir != dir.parent_path()) dir = dir.parent_path();
  const dev_t device = st.st_dev;
  while (dir.has_parent_path() && dir != dir.parent_path()) {
    struct stat up {};
    if (::stat(dir.parent_path().c_str(), &up) != 0 || up.st_dev != device) break;
    dir = dir.parent_path();
  }
  return dir.string();
}

}  // namespace

void set_injected_write_failure(long long bytes) { injected_write_budget().store(bytes < 0 ? -1 : bytes); }

bool device_is_full(const std::string& path) {
  struct statvfs s {};
  std::string probe = fs::is_directory(path) ? path : folder_of(path);
  if (::statvfs(probe.c_str(), &s) != 0) return false;
  return static_cast<unsigned long long>(s.f_bavail) * s.f_frsize < kFullDeviceBytes;
}

std::string describe_write_failure(const std::string& path, int error) {
  if (error == ENOSPC || error == EDQUOT || error == EFBIG || device_is_full(path)) {
    return "no space left on the device holding '" + mount_point_of(path) + "' (writing '" + path +
           "'): free some space or write elsewhere, then run the same command again";
  }
  return "cannot write '" + path + "': " + std::strerror(error);
}

void write_file_checked(const std::string& path, const std::string& bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw FileError(describe_write_failure(path, errno));
  size_t done = 0;
  int error = 0;
  while (done < bytes.size()) {
    const size_t allowed = allowed_by_injection(bytes.size() - done);
    if (allowed == 0) {
      error = ENOSPC;
      break;
    }
    const ssize_t n = ::write(fd, bytes.data() + done, allowed);
    if (n < 0) {
      if (errno == EINTR) continue;
      error = errno;
      break;
    }
    done += static_cast<size_t>(n);
  }
  // A full disk may show only here (delayed allocation, NFS): the flush and the close are checked too.
  if (!error && ::fsync(fd) != 0 && errno != EINVAL && errno != EROFS) error = errno;
  if (::close(fd) != 0 && !error) error = errno;
  if (error) throw FileError(describe_write_failure(path, error));
}

void write_file_atomically(const std::string& path, const std::string& bytes) {
  AtomicOutput out(path, /*overwrite=*/true);
  write_file_checked(out.temp_path(), bytes);
  out.commit();
}

void check_output_path(const std::string& path, bool overwrite) {
  require(!path.empty(), "output path is empty");
  const fs::path p(path);
  if (fs::exists(p)) {
    if (fs::is_directory(p)) throw InvalidArgument("output path '" + path + "' is a directory");
    if (!overwrite)
      throw InvalidArgument("output '" + path + "' already exists (pass --overwrite / overwrite=True to replace it)");
  }
  const fs::path dir = p.parent_path().empty() ? fs::path(".") : p.parent_path();
  if (!fs::is_directory(dir)) throw FileError("output folder '" + dir.string() + "' does not exist");
  if (::access(dir.c_str(), W_OK) != 0) throw FileError("output folder '" + dir.string() + "' is not writable");
}

AtomicOutput::AtomicOutput(std::string final_path, bool overwrite) : final_path_(std::move(final_path)) {
  check_output_path(final_path_, overwrite);
  const fs::path p(final_path_);
  std::random_device rd;
  const std::string tag = std::to_string(::getpid()) + "-" + std::to_string(rd() % 1000000);
  // Within the 255 bytes a file name may have, however long the final name is.
  std::string stem = p.stem().string();
  const size_t room = 255 - 1 - std::string(".partial-").size() - tag.size() - p.extension().string().size();
  if (stem.size() > room) stem.resize(room);
  temp_path_ = (p.parent_path() / ("." + stem + ".partial-" + tag + p.extension().string())).string();
}

AtomicOutput::~AtomicOutput() {
  if (!committed_) {
    std::error_code ec;
    fs::remove(temp_path_, ec);
  }
}

void AtomicOutput::commit() {
  if (!fs::exists(temp_path_)) throw FileError("nothing was written to '" + temp_path_ + "' for '" + final_path_ + "'");
  std::error_code ec;
  fs::rename(temp_path_, final_path_, ec);
  if (ec) throw FileError("cannot move '" + temp_path_ + "' to '" + final_path_ + "': " + ec.message());
  committed_ = true;
}

}  // namespace fregan::io
