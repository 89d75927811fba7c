#include "fregan/io/output_guard.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <system_error>

#include <nlohmann/json.hpp>

#include "fregan/error.h"
#include "fregan/io/atomic_file.h"

namespace fs = std::filesystem;

namespace fregan::io {
namespace {

// The path with links and "..", "." resolved as far as it exists (the rest kept lexically).
fs::path resolved(const std::string& path) {
  std::error_code ec;
  fs::path p = fs::weakly_canonical(fs::absolute(path), ec);
  return ec ? fs::absolute(path).lexically_normal() : p;
}

// True when `inner` is `outer` or lies inside it.
bool is_within(const fs::path& inner, const fs::path& outer) {
  auto o = outer.begin(), i = inner.begin();
  for (; o != outer.end(); ++o, ++i) {
    if (o->empty()) continue;  // a trailing separator
    if (i == inner.end() || *i != *o) return false;
  }
  return true;
}

// The names fregan gives the files it writes into a folder output (frame_000000.png, ...): a
// user's file of such a name in a folder fregan made would be replaced, so it is refused.
bool has_fregan_file_name(const std::string& name) { return name.rfind("frame_", 0) == 0; }

}  // namespace

void check_output_is_not_an_input(const std::string& output, const std::vector<std::string>& inputs) {
  if (output.empty()) return;
  const fs::path out = resolved(output);
  for (const auto& input : inputs) {
    if (input.empty()) continue;
    const fs::path in = resolved(input);
    std::error_code ec;
    const bool same = in == out || (fs::exists(in) && fs::exists(out) && fs::equivalent(in, out, ec));
    if (same)
      throw InvalidArgument("the output '" + output + "' is the input '" + input + "': choose another output path");
    if (is_within(in, out)) {
      throw InvalidArgument("the output '" + output + "' contains the input '" + input +
                            "': choose an output outside the input's folder");
    }
  }
}

OutputFolderState inspect_output_folder(const std::string& folder) {
  OutputFolderState state;
  std::error_code ec;
  if (!fs::exists(folder, ec)) return state;
  state.exists = true;
  if (!fs::is_directory(folder, ec)) {
    state.empty = false;
    return state;
  }
  state.empty = fs::is_empty(folder, ec);
  const fs::path manifest = fs::path(folder) / kOutputManifestName;
  if (!fs::is_regular_file(manifest, ec)) return state;
  try {
    std::ifstream in(manifest);
    const auto j = nlohmann::json::parse(in);
    if (j.value("written_by", "") != "fregan") return state;
    for (const auto& f : j.at("files")) {
      const std::string name = f.get<std::string>();
      // Names only: a manifest never makes fregan touch anything outside its folder.
      if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") continue;
      state.fregan_files.push_back(name);
    }
    state.made_by_fregan = true;
  } catch (const std::exception&) {
    state.made_by_fregan = false;  // a damaged manifest proves nothing
  }
  return state;
}

void check_output_folder(const std::string& folder, bool overwrite) {
  const auto state = inspect_output_folder(folder);
  if (!state.exists || state.empty) return;
  if (!fs::is_directory(folder)) {
    throw InvalidArgument("output '" + folder +
                          "' is a file, not a folder for frames: choose a folder (or a video name)");
  }
  if (!state.made_by_fregan) {
    throw InvalidArgument("output folder '" + folder +
                          "' is not empty and fregan did not make it: fregan replaces only "
                          "folders it wrote itself; choose a new or empty folder");
  }
  if (!overwrite) {
    throw InvalidArgument("output folder '" + folder +
                          "' holds the frames of an earlier fregan run: pass --overwrite "
                          "(overwrite=True) to replace them");
  }
  const std::set<std::string> ours(state.fregan_files.begin(), state.fregan_files.end());
  for (const auto& entry : fs::directory_iterator(folder)) {
    const std::string name = entry.path().filename().string();
    if (has_fregan_file_name(name) && !ours.count(name)) {
      throw InvalidArgument("output folder '" + folder + "' holds '" + name +
                            "', which fregan did not write but would "
                            "replace: move it away or choose another folder");
    }
  }
}

void write_output_manifest(const std::string& folder, const std::vector<std::string>& files) {
  const nlohmann::json j = {{"written_by", "fregan"}, {"files", files}};
  write_file_atomically((fs::path(folder) / kOutputManifestName).string(), j.dump(1) + "\n");
}

void install_output_folder(const std::string& staging, const std::string& folder) {
  std::vector<std::string> new_files;
  for (const auto& entry : fs::directory_iterator(staging)) {
    const std::string name = entry.path().filename().string();
    if (name != kOutputManifestName) new_files.push_back(name);
  }
  std::sort(new_files.begin(), new_files.end());
  const auto state = inspect_output_folder(folder);
  std::error_code ec;
  if (!state.exists || state.empty) {
    write_output_manifest(staging, new_files);
    if (state.exists) fs::remove(folder, ec);  // an empty folder only
    fs::rename(staging, folder, ec);
    if (ec) throw FileError("cannot move the frames into '" + folder + "': " + ec.message());
    return;
  }
  // A folder fregan made (checked again here: it may have changed while the job ran).
  if (!state.made_by_fregan) {
    throw InvalidArgument("output folder '" + folder +
                          "' is not empty and fregan did not make it: the frames are "
                          "left in '" +
                          staging + "'");
  }
  const std::set<std::string> ours(state.fregan_files.begin(), state.fregan_files.end());
  for (const auto& name : new_files) {
    if (fs::exists(fs::path(folder) / name) && !ours.count(name)) {
      throw InvalidArgument("output folder '" + folder + "' holds '" + name +
                            "', which fregan did not write: the frames "
                            "are left in '" +
                            staging + "'");
    }
  }
  // The manifest first lists the old and the new files (so whatever point this stops at, a rerun
  // knows every frame file as fregan's), then the old frames go, the new ones come in, and the
  // manifest lists exactly them.
  std::set<std::string> both = ours;
  both.insert(new_files.begin(), new_files.end());
  write_output_manifest(folder, std::vector<std::string>(both.begin(), both.end()));
  for (const auto& name : state.fregan_files) fs::remove(fs::path(folder) / name, ec);
  for (const auto& name : new_files) {
    fs::rename(fs::path(staging) / name, fs::path(folder) / name, ec);
    if (ec) throw FileError("cannot move '" + name + "' into '" + folder + "': " + ec.message());
  }
  write_output_manifest(folder, new_files);
}

}  // namespace fregan::io
