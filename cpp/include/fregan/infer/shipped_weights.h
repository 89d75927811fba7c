#pragma once
// Where the checkpoints fregan ships are found (python/fregan/models/ in the source tree, or
// fregan/models/ beside the installed package), shared by every "default model" lookup.
#include <string>

namespace fregan::infer {

// `$env_var` if set (FileError when it names nothing), else the first existing of
// <package>/models/<file> (beside _core*.so or fregan/bin/fregan) and the source tree's
// python/fregan/models/<file>.  Throws FileError naming `what`, the file and the variable.
std::string find_shipped_weights(const std::string& file, const std::string& env_var, const std::string& what);

}  // namespace fregan::infer
