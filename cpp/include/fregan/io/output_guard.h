#pragma once
// Rules that keep a user's data safe whatever options are given (issue 17):
//  - an output never is, replaces or contains an input;
//  - a folder output is replaced only where fregan made it: fregan writes a manifest
//    (kOutputManifestName) into every folder of frames it produces, listing the files it wrote, and
//    with --overwrite it removes only those files; a non-empty folder without the manifest is refused.
#include <string>
#include <vector>

namespace fregan::io {

// The manifest fregan writes into every output folder it fills: which files it wrote there.
constexpr const char* kOutputManifestName = ".fregan-output.json";

// Throws InvalidArgument naming both paths if `output` is one of `inputs` (the same file, through
// any link or relative path), or a folder holding one of them, or the folder an input folder is in.
void check_output_is_not_an_input(const std::string& output, const std::vector<std::string>& inputs);

// What an existing folder output holds, as far as fregan is concerned.
struct OutputFolderState {
  bool exists = false;
  bool empty = true;
  bool made_by_fregan = false;            // it holds fregan's manifest
  std::vector<std::string> fregan_files;  // the files the manifest lists (names inside the folder)
};
OutputFolderState inspect_output_folder(const std::string& folder);

// Before a job that fills `folder` with frames: refuses (InvalidArgument, one line naming the
// folder and the fix) a non-empty folder fregan did not make, and one it made unless `overwrite`.
// Also refuses a folder fregan made that holds a file of its own naming ("frame_...") it did not
// write (the job would have to replace it).
void check_output_folder(const std::string& folder, bool overwrite);

// Moves the files of `staging` (a folder of finished frames on the same filesystem) into `folder`:
// when `folder` does not exist or is empty, by renaming `staging` onto it; otherwise (a folder
// fregan made) by removing only the files its manifest lists and moving the new ones in.  Writes
// the manifest (atomically) listing the new files.  Files fregan did not write are left alone.
void install_output_folder(const std::string& staging, const std::string& folder);

// Writes the manifest of `folder` listing `files` (names inside it) through the atomic writer.
void write_output_manifest(const std::string& folder, const std::vector<std::string>& files);

}  // namespace fregan::io
