#include "fregan/io/atomic_file.h"

#include <unistd.h>

#include <filesystem>
#include <random>
#include <system_error>

#include "fregan/error.h"

namespace fs = std::filesystem;

namespace fregan::io {

void check_output_path(const std::string& path, bool overwrite) {
  require(!path.empty(), "output path is empty");
  const fs::path p(path);
  if (fs::exists(p)) {
    if (fs::is_directory(p)) throw InvalidArgument("output path '" + path + "' is a directory");
    if (!overwrite) throw InvalidArgument("output '" + path + "' already exists (pass --overwrite / overwrite=True to replace it)");
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
  temp_path_ = (p.parent_path() / ("." + p.stem().string() + ".partial-" + tag + p.extension().string())).string();
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
