#pragma once
// The model zoo: the checkpoints fregan ships, described by models/manifest.json beside them
// (written by scripts/model_manifest.py: file, task, size, sha256, the command and data that
// trained it, validation figures).  Everything that looks up a shipped model goes through here:
// the default interpolator and DCGAN, `--weights NAME`, `fregan models`, fregan.models()/load().
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace fregan::zoo {

struct ShippedModel {
  std::string name;   // zoo name, e.g. "fregan-flow"
  std::string task;   // "interpolation", "generation", "super-resolution"
  std::string model;  // registry model, e.g. "fregan-flow", "dcgan"
  std::string path;   // absolute path of the checkpoint file
  int64_t bytes = 0;
  nlohmann::json entry;  // the whole manifest entry (command, data, validation, ...)
};

// The folder holding the shipped checkpoints: fregan/models/ beside the installed package or
// binary, else the source tree's python/fregan/models.  Throws FileError if there is none.
std::string models_dir();

// Every entry of the manifest, in its order.  Throws FileError / InvalidArgument naming the
// manifest if it is missing or malformed.
std::vector<ShippedModel> list_models();

// The entry called `name`; throws InvalidArgument listing the known names if there is none.
ShippedModel find_model(const std::string& name);

// `name_or_path` as a checkpoint path: an existing file is returned as is, a zoo name gives its
// shipped file; anything else is a FileError naming both possibilities.
std::string resolve_weights(const std::string& name_or_path);

// The checkpoint used when none is named, for a task: $`env_var` if set (it must exist), else the
// shipped file `file_name`.
std::string default_weights(const std::string& file_name, const char* env_var);

}  // namespace fregan::zoo
