#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "commands.h"
#include "fregan/data/prepared_dataset.h"
#include "fregan/log.h"

namespace fregan::cli {

void add_prepare(CLI::App& app) {
  auto o = std::make_shared<data::PrepareOptions>();
  auto* cmd = app.add_subcommand("prepare",
                                 "Decode videos once into a memory-mapped dataset with a train/val/test split by clip");
  cmd->add_option("--videos", o->videos, "Videos, frame folders, or folders of them")->required();
  cmd->add_option("--task", o->task, "triplets | sr | frames")->capture_default_str();
  cmd->add_option("--out", o->out, "Dataset folder")->required();
  cmd->add_option("--frame-skip", o->frame_skip, "Triplets (n, n+k, n+2k) / keep every k-th frame")
      ->capture_default_str();
  cmd->add_option("--max-frames", o->max_frames_per_source, "Decode at most this many frames per clip (0 = all)");
  cmd->add_option("--target-frames", o->target_frames, "frames task: about this many frames in all (0 = off)");
  cmd->add_option("--max-side", o->max_side, "Area-downscale frames whose longer side exceeds this (0 = native size)")
      ->capture_default_str();
  cmd->add_option("--val-fraction", o->val_fraction, "Fraction of clips for validation")->capture_default_str();
  cmd->add_option("--test-fraction", o->test_fraction, "Fraction of clips for testing")->capture_default_str();
  cmd->add_option("--seed", o->seed, "Split seed")->capture_default_str();
  cmd->add_option("--cut-threshold", o->scene.cut_threshold, "Scene cut: thumbnail difference (0..255)")
      ->capture_default_str();
  cmd->add_option("--static-threshold", o->scene.static_threshold, "Near-static triplet: F0/F2 difference below this")
      ->capture_default_str();
  cmd->add_option("--sr-scale", o->sr_scale, "sr task: downsampling factor")->capture_default_str();
  cmd->add_flag("--overwrite", o->overwrite, "Prepare again over a finished dataset");
  cmd->callback([o] {
    o->progress = [](size_t done, size_t total, const std::string& clip) {
      const int width = 30;
      const int filled = total ? static_cast<int>(width * done / total) : width;
      std::fprintf(stderr, "\r[%s%s] %zu/%zu clips  %s\033[K", std::string(filled, '#').c_str(),
                   std::string(width - filled, '.').c_str(), done, total, clip.c_str());
      std::fflush(stderr);
    };
    const auto r = data::prepare_dataset(*o);
    std::fprintf(stderr, "\n");
    char line[512];
    std::snprintf(line, sizeof line,
                  "prepared %s: %lld clips (train %lld, val %lld, test %lld; %lld reused), %lld frames, %lld %s; "
                  "dropped %lld across cuts, %lld near-static",
                  o->out.c_str(), (long long)r.clips, (long long)r.train_clips, (long long)r.val_clips,
                  (long long)r.test_clips, (long long)r.reused_clips, (long long)r.frames, (long long)r.samples,
                  o->task == "triplets" ? "triplets" : "samples", (long long)r.dropped_cut,
                  (long long)r.dropped_static);
    log::info(line);
  });
}

}  // namespace fregan::cli
