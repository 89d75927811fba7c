#include "fregan/zoo/zoo.h"

#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "fregan/error.h"

namespace fs = std::filesystem;

namespace fregan::zoo {
namespace {

constexpr const char* kManifestFile = "manifest.json";

// The folder of the binary or shared object this code is linked into.
fs::path this_module_dir() {
  Dl_info info{};
  if (::dladdr(reinterpret_cast<void*>(&models_dir), &info) && info.dli_fname) {
    return fs::absolute(info.dli_fname).parent_path();
  }
  return {};
}

std::vector<fs::path> candidate_dirs() {
  const fs::path here = this_module_dir();
  // Installed package: fregan/_core*.so and fregan/bin/fregan beside fregan/models/.
  std::vector<fs::path> dirs;
  // $FREGAN_MODELS_DIR first: a zoo kept elsewhere (and the tests' damaged copies).
  if (const char* env = std::getenv("FREGAN_MODELS_DIR"); env && *env) dirs.emplace_back(env);
  if (!here.empty()) {
    dirs.emplace_back(here / "models");
    dirs.emplace_back(here.parent_path() / "models");
  }
  dirs.emplace_back(FREGAN_SOURCE_MODEL_DIR);
  return dirs;
}

std::string known_names(const std::vector<ShippedModel>& models) {
  std::string names;
  for (const auto& m : models) names += (names.empty() ? "" : ", ") + m.name;
  return names.empty() ? "none" : names;
}

}  // namespace

std::string models_dir() {
  std::string looked;
  for (const auto& dir : candidate_dirs()) {
    if (fs::exists(dir / kManifestFile)) return fs::absolute(dir).lexically_normal().string();
    looked += (looked.empty() ? "" : ", ") + dir.string();
  }
  throw FileError("no shipped models found (looked for " + std::string(kManifestFile) + " in " + looked + ")");
}

std::vector<ShippedModel> list_models() {
  const fs::path dir = models_dir();
  const fs::path manifest_path = dir / kManifestFile;
  std::ifstream in(manifest_path);
  if (!in) throw FileError("cannot read the model manifest '" + manifest_path.string() + "'");
  nlohmann::json manifest;
  try {
    manifest = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw InvalidArgument("the model manifest '" + manifest_path.string() + "' is not valid JSON: " + e.what());
  }
  require(manifest.is_object() && manifest.contains("models") && manifest["models"].is_array(),
          "the model manifest '" + manifest_path.string() + "' has no \"models\" list");
  std::vector<ShippedModel> models;
  for (const auto& e : manifest["models"]) {
    require(
        e.is_object() && e.contains("name") && e.contains("file") && e.contains("task") && e.contains("model"),
        "the model manifest '" + manifest_path.string() + "' has an entry without name/file/task/model: " + e.dump());
    ShippedModel m;
    m.name = e["name"].get<std::string>();
    m.task = e["task"].get<std::string>();
    m.model = e["model"].get<std::string>();
    m.path = (dir / e["file"].get<std::string>()).string();
    m.bytes = e.value("bytes", int64_t{0});
    m.entry = e;
    models.push_back(std::move(m));
  }
  return models;
}

ShippedModel find_model(const std::string& name) {
  const auto models = list_models();
  for (const auto& m : models) {
    if (m.name == name) return m;
  }
  throw InvalidArgument("no shipped model called '" + name + "' (shipped: " + known_names(models) + ")");
}

std::string resolve_weights(const std::string& name_or_path) {
  require(!name_or_path.empty(), "weights: empty name");
  if (fs::exists(name_or_path)) return name_or_path;
  // A name, not a path: look it up in the zoo.  Something that looks like a path is reported as a
  // missing file.
  const bool looks_like_path = name_or_path.find('/') != std::string::npos || fs::path(name_or_path).has_extension();
  if (!looks_like_path) {
    std::vector<ShippedModel> models;
    try {
      models = list_models();
    } catch (const Error&) {
    }
    for (const auto& m : models) {
      if (m.name == name_or_path) return m.path;
    }
    throw FileError("weights '" + name_or_path +
                    "' is neither a file nor a shipped model (shipped: " + known_names(models) + ")");
  }
  throw FileError("checkpoint '" + name_or_path + "' does not exist");
}

std::string default_weights(const std::string& file_name, const char* env_var) {
  if (const char* env = std::getenv(env_var); env && *env) {
    if (!fs::exists(env)) throw FileError(std::string(env_var) + " names '" + env + "', which does not exist");
    return env;
  }
  std::string looked;
  for (const auto& dir : candidate_dirs()) {
    if (fs::exists(dir / file_name)) return (dir / file_name).string();
    looked += (looked.empty() ? "" : ", ") + dir.string();
  }
  throw FileError("no shipped " + file_name + " found (looked in " + looked + "); pass --weights or set " + env_var);
}

}  // namespace fregan::zoo
