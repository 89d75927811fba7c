#include "fregan/infer/shipped_weights.h"

#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>
#include <vector>

#include "fregan/error.h"

namespace fs = std::filesystem;

namespace fregan::infer {
namespace {

// The folder of the binary or shared object this code is linked into.
fs::path this_module_dir() {
  Dl_info info{};
  if (::dladdr(reinterpret_cast<void*>(&find_shipped_weights), &info) && info.dli_fname) {
    return fs::absolute(info.dli_fname).parent_path();
  }
  return {};
}

}  // namespace

std::string find_shipped_weights(const std::string& file, const std::string& env_var, const std::string& what) {
  if (const char* env = std::getenv(env_var.c_str()); env && *env) {
    if (!fs::exists(env)) throw FileError(env_var + " names '" + env + "', which does not exist");
    return env;
  }
  const fs::path here = this_module_dir();
  // Installed package: fregan/_core*.so and fregan/bin/fregan beside fregan/models/.
  const std::vector<fs::path> candidates = {here / "models" / file, here.parent_path() / "models" / file,
                                            fs::path(FREGAN_SOURCE_MODEL_DIR) / file};
  for (const auto& c : candidates) {
    if (!c.empty() && fs::exists(c)) return c.string();
  }
  throw FileError("no default " + what + " found (looked for " + file +
                  " beside the package and in the source tree); pass --weights or set " + env_var);
}

}  // namespace fregan::infer
