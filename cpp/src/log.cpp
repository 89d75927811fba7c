#include "fregan/log.h"

#include <atomic>
#include <iostream>
#include <mutex>

namespace fregan::log {
namespace {
std::atomic<Level> g_level{Level::kInfo};
std::mutex g_mutex;
void emit(Level at, const char* tag, const std::string& message) {
  if (at < g_level.load()) return;
  std::lock_guard<std::mutex> lock(g_mutex);
  std::cerr << tag << message << std::endl;
}
}  // namespace

void set_level(Level level) { g_level = level; }
Level level() { return g_level.load(); }
void info(const std::string& message) { emit(Level::kInfo, "", message); }
void warn(const std::string& message) { emit(Level::kWarning, "warning: ", message); }

}  // namespace fregan::log
