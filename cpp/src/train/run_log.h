#pragma once
// What the training loops (Trainer, DcganTrainer, SrTrainer) share: progress lines, log.jsonl,
// run folders, the train/validation split of their sources and the end of each step.
#include <cstdint>
#include <algorithm>
#include <cstdio>
#include <tuple>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fregan/data/frame_source.h"
#include "fregan/data/triplet_dataset.h"
#include "fregan/error.h"
#include "fregan/log.h"

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

// Which sources train and which validate: `val_data` when given; else, when every source is a
// prepared dataset, their own "val" split; else `val_fraction` of the clips held out, split by
// clip (seeded), never one clip on both sides.
struct SourceSplit {
  std::vector<std::string> train, val;
  bool all_prepared = false;       // every training source is a prepared dataset
  bool val_from_prepared = false;  // `val` are the prepared datasets, to be read with split "val"
};
inline SourceSplit split_sources(const std::vector<std::string>& data, const std::vector<std::string>& val_data,
                                 double val_fraction, uint64_t seed) {
  SourceSplit s{data, val_data};
  const auto clips = data::expand_sources(data);
  s.all_prepared = std::all_of(clips.begin(), clips.end(), [](const auto& c) { return c.prepared; });
  if (!s.val.empty()) return s;
  if (s.all_prepared) {
    s.val = data;
    s.val_from_prepared = true;
  } else if (val_fraction > 0) {
    if (clips.size() >= 2) {
      std::tie(s.train, s.val) = data::split_by_source(clips, val_fraction, seed);
    } else {
      log::warn("only one clip given: no validation split (pass --val-data)");
    }
  }
  return s;
}

// The end of every training step: the caller's callback (false stops the run), then `save_last`
// every `checkpoint_every` steps, at the last step and when stopping.  Returns whether to stop.
template <typename Progress>
bool end_step(const std::function<bool(const Progress&)>& callback, const Progress& progress, int64_t step,
              int64_t checkpoint_every, bool final_step, const std::function<void()>& save_last) {
  bool stop = false;
  if (callback && !callback(progress)) {
    log::info("stopped by the caller at step " + std::to_string(step));
    stop = true;
  }
  if (step % checkpoint_every == 0 || final_step || stop) save_last();
  return stop;
}

}  // namespace fregan::train::detail
