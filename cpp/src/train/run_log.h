#pragma once
// What both training loops (Trainer, DcganTrainer) do with their progress lines and log.jsonl.
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace fregan::train::detail {

// "1h05m" or "3m07s".
inline std::string format_duration(double seconds) {
  const auto s = static_cast<int64_t>(seconds);
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%lldh%02lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
  else std::snprintf(buf, sizeof buf, "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
  return buf;
}

// Keeps the log lines of steps <= `step` (a resumed run rewrites what came after its checkpoint).
inline void truncate_log(const std::string& path, int64_t step) {
  std::ifstream in(path);
  if (!in) return;
  std::vector<std::string> kept;
  std::string line;
  while (std::getline(in, line)) {
    try {
      if (nlohmann::json::parse(line).value("step", int64_t{0}) <= step) kept.push_back(line);
    } catch (const std::exception&) {
      // A line cut by a crash: drop it.
    }
  }
  in.close();
  std::ofstream out(path, std::ios::trunc);
  for (const auto& l : kept) out << l << '\n';
}

}  // namespace fregan::train::detail
