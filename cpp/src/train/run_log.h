#pragma once
// What the training loops (Trainer, DcganTrainer, SrTrainer) share: the start of their
// constructors (start_run, adam), the run folder with its log.jsonl and resume rules, the
// train/validation split of their sources and the one loop they run (run_steps).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/optim/adam.h>

#include "fregan/data/frame_source.h"
#include "fregan/data/triplet_dataset.h"
#include "fregan/device.h"
#include "fregan/error.h"
#include "fregan/log.h"
#include "fregan/models/checkpoint.h"
#include "fregan/train/run_options.h"

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

// The start of every trainer's constructor once its options are checked: `threads` intra-op
// threads (the run's, or a distributed rank's share), the run's device, and the run's seed, which
// the models' first weights are drawn from.
inline torch::Device start_run(const RunOptions& run, int threads) {
  set_num_threads(threads);
  const torch::Device device = select_device(run.device);
  torch::manual_seed(run.seed);
  return device;
}

// Adam over `parameters` at `lr` with the run's betas (each trainer has one for G and one for D).
inline std::unique_ptr<torch::optim::Adam> adam(const std::vector<torch::Tensor>& parameters, double lr,
                                                const RunOptions& run) {
  return std::make_unique<torch::optim::Adam>(parameters, torch::optim::AdamOptions(lr).betas({run.beta1, run.beta2}));
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
      throw InvalidArgument(
          "'" + out_dir +
          "' already holds a run (last.pt): pass --resume to continue it or --overwrite to start afresh");
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

// The run folder every trainer writes: last.pt, best.pt and log.jsonl in out_dir, and the rules for
// resuming.  Distributed, every rank decides the same; only the writing rank (rank 0) creates the
// folder and writes the log.
class RunFolder {
 public:
  RunFolder(const RunOptions& run, bool writer = true)
      : run_(run), writer_(writer), last_(path("last.pt")), best_(path("best.pt")), log_path_(path("log.jsonl")) {
    require(!run.out_dir.empty(), "training needs an output folder (--out)");
    require(!run.data.empty(), "training needs data (--data VIDEO_OR_FOLDER ...)");
    if (writer_) std::filesystem::create_directories(run.out_dir);
    resume_ = should_resume(run.out_dir, last_, run.resume, run.overwrite);
  }

  std::string path(const std::string& name) const { return (std::filesystem::path(run_.out_dir) / name).string(); }
  const std::string& last() const { return last_; }
  const std::string& best() const { return best_; }
  // Whether the trainer continues from last(): asked for, and there.
  bool resume() const { return resume_; }
  // When resuming: loads last() into `trainer` (its load) and says at which step it continues.
  template <typename Trainer>
  void resume_into(Trainer& trainer) const {
    if (!resume_) return;
    trainer.load(last_);
    info("resuming '" + last_ + "' at step " + std::to_string(trainer.current_step()));
  }
  bool writer() const { return writer_; }

  // Opens log.jsonl: with --resume it keeps the lines up to `step` (what came after the checkpoint
  // is done again), else it starts empty.
  void open_log(int64_t step) {
    if (!writer_) return;
    if (run_.resume) truncate_log(log_path_, step);
    log_.open(log_path_, run_.resume ? std::ios::app : std::ios::trunc);
    if (!log_) throw FileError("cannot write '" + log_path_ + "'");
  }
  // One line of log.jsonl (the writing rank's).
  void write(const nlohmann::json& record) {
    if (writer_) log_ << record.dump() << std::endl;
  }
  // A progress line on the console (the writing rank's).
  void info(const std::string& line) const {
    if (writer_) log::info(line);
  }
  // The model PSNR best.pt was kept for, when continuing a run that has one; else lower than any.
  double best_score() const {
    if (!run_.resume || !std::filesystem::exists(best_)) return -1e9;
    return models::read_checkpoint_meta(best_).metrics.value("model", nlohmann::json::object()).value("psnr", -1e9);
  }

 private:
  const RunOptions& run_;
  bool writer_;
  std::string last_, best_, log_path_;
  bool resume_ = false;
  std::ofstream log_;
};

// What a family puts into the one training loop (run_steps).
template <typename Progress>
struct LoopHooks {
  // One training step: fills progress.last and the family's own fields.
  std::function<void(Progress&)> step;
  // Whether this step's logging, validation and checkpoint are left out (DCGAN: it rolled back).
  std::function<bool(const Progress&)> skip;
  // On log steps: the step's figures for its progress line (between "step n/N  " and
  // "  S samples/s  ETA T") and for its log.jsonl record (which gets step, samples_per_second and
  // elapsed beside them).  May refine progress.last (distributed: averaged over the ranks).
  std::function<std::pair<std::string, nlohmann::json>(Progress&)> log;
  // On validation steps (every val_every-th, and the last): validates, sets progress.validation,
  // logs it and returns the score best.pt keeps the highest of (nothing: no best.pt).
  std::function<std::optional<double>(Progress&)> validate;
  std::function<void()> save_best;
  // A stop asked for by this process's caller, agreed across ranks (distributed).
  std::function<bool(bool)> agree_stop;
  // Writes last.pt; `end` at the last step or when stopping.
  std::function<void(bool end)> save_last;
};

// The loop every trainer runs from its current step to run.steps: the family's step, the progress
// record (samples/s and ETA over this session's steps), a progress line and log record every
// log_every steps, validation every val_every steps and at the end with best.pt kept, the
// caller's callback (false stops, after a checkpoint) and last.pt every checkpoint_every steps, at
// the end and when stopping.  `step` is the trainer's step counter (a rollback may lower it).
template <typename Progress>
void run_steps(RunFolder& folder, const RunOptions& run, const int64_t& step, int64_t val_every,
               const std::function<bool(const Progress&)>& callback, const LoopHooks<Progress>& hooks) {
  const int64_t first_step = step;
  const auto start = std::chrono::steady_clock::now();
  double best = folder.best_score();
  const auto skipped = [&](const Progress& p) { return hooks.skip && hooks.skip(p); };
  bool stop = false;
  while (step < run.steps && !stop) {
    Progress progress;
    hooks.step(progress);
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    progress.step = step;
    progress.total_steps = run.steps;
    const int64_t done = std::max<int64_t>(step - first_step, 1);
    progress.samples_per_second = done * run.batch_size / std::max(elapsed, 1e-9);
    progress.eta_seconds = elapsed / done * (run.steps - step);
    const bool final_step = step == run.steps;
    if (!skipped(progress) && (step % run.log_every == 0 || final_step)) {
      auto [figures, record] = hooks.log(progress);
      char line[640];
      std::snprintf(line, sizeof line, "step %lld/%lld  %s  %.2f samples/s  ETA %s", (long long)step,
                    (long long)run.steps, figures.c_str(), progress.samples_per_second,
                    format_duration(progress.eta_seconds).c_str());
      folder.info(line);
      record["step"] = step;
      record["samples_per_second"] = progress.samples_per_second;
      record["elapsed"] = elapsed;
      folder.write(record);
    }
    if (!skipped(progress) && hooks.validate && ((val_every > 0 && step % val_every == 0) || final_step)) {
      const auto score = hooks.validate(progress);
      if (score && *score > best) {
        best = *score;
        hooks.save_best();
      }
    }
    const bool asked = callback && !callback(progress);
    stop = hooks.agree_stop ? hooks.agree_stop(asked) : asked;
    if (stop) folder.info("stopped by the caller at step " + std::to_string(step));
    if (!skipped(progress) && (step % run.checkpoint_every == 0 || final_step || stop))
      hooks.save_last(final_step || stop);
  }
}

}  // namespace fregan::train::detail
