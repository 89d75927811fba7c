#pragma once
// What both training loops (Trainer, DcganTrainer) do with their progress lines and log.jsonl.
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fregan/error.h"

namespace fregan::train::detail {

// "1h05m" or "3m07s".
inline std::string format_duration(double seconds) {
  const auto s = static_cast<int64_t>(seconds);
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%lldh%02lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
  else std::snprintf(buf, sizeof buf, "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
  return buf;
}

// "name value, name value" of a step's loss terms, for progress lines.
inline std::string format_terms(const std::map<std::string, double>& terms) {
  std::string out;
  for (const auto& [name, value] : terms) {
    char t[96];
    std::snprintf(t, sizeof t, "%s%s %.4f", out.empty() ? "" : ", ", name.c_str(), value);
    out += t;
  }
  return out;
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

// Whether to continue the run whose last checkpoint is `last_path`: true with `resume` when it
// exists; refuses to clobber it without `overwrite`, and to resume what is not there.
inline bool should_resume(const std::string& out_dir, const std::string& last_path, bool resume, bool overwrite) {
  if (std::ifstream(last_path).good()) {
    if (resume) return true;
    if (!overwrite) {
      throw InvalidArgument("'" + out_dir + "' already holds a run (last.pt): pass --resume to continue it or --overwrite to start afresh");
    }
    return false;
  }
  if (resume) throw FileError("nothing to resume: '" + last_path + "' does not exist");
  return false;
}

}  // namespace fregan::train::detail
