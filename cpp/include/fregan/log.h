#pragma once
// Minimal levelled logging to stderr (progress lines, warnings).  Python can silence it.
#include <string>

namespace fregan::log {

enum class Level { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3, kOff = 4 };

void set_level(Level level);
Level level();
void info(const std::string& message);
void warn(const std::string& message);

}  // namespace fregan::log
