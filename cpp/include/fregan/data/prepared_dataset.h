#pragma once
// A prepared dataset: clips decoded once into raw 8-bit BGR frame files that are memory-mapped on
// load (a second epoch, a second run, never decodes video again), with a JSON manifest holding the
// clip list, the train/val/test split by clip, the scene cuts and the sample counts.
//
//   DATASET/manifest.json          format "fregan-dataset", version, task, options, clips, stats
//   DATASET/clips/NNNN.bgr         frames of clip NNNN, H x W x 3 bytes each, back to back
//   DATASET/clips/NNNN.json        the clip's entry and the identity of its source (for reuse)
// (task "sr" stores HR frames only: LR inputs are bicubic downsamples of the HR crops, made when
// loading, so they always match the crop exactly.)
//
// Crash safety: every clip file is written to a temporary name and renamed when complete, and the
// manifest is written last (also temp + rename), so a folder without manifest.json is an
// unfinished preparation, refused with that message; re-running `fregan prepare` reuses the clip
// files already complete (same source file, size and mtime).
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "fregan/data/frame_source.h"
#include "fregan/data/scene.h"

namespace fregan::data {

constexpr const char* kDatasetFormat = "fregan-dataset";
constexpr int kDatasetFormatVersion = 1;

struct PrepareOptions {
  std::vector<std::string> videos;    // videos, frame folders, or folders of them
  std::string out;                    // the dataset folder
  std::string task = "triplets";      // triplets | sr | frames
  int frame_skip = 1;                 // triplets: (n, n+k, n+2k); frames: keep every k-th frame
  int64_t max_frames_per_source = 0;  // decode at most this many frames per clip (0 = all)
  int64_t target_frames = 0;          // frames: raise the skip per clip so the total is about this (0 = off)
  // Frames whose longer side exceeds this are area-downscaled when stored (0 = native size): big
  // clips then fit in memory, and a model that runs at reduced resolution (fregan-flow's net) trains
  // on motion of the size it meets.
  int max_side = 0;
  double val_fraction = 0.1;  // of the clips (split by clip, seeded)
  double test_fraction = 0.1;
  uint64_t seed = 0;
  SceneOptions scene;
  int sr_scale = 4;        // sr: LR = bicubic downsample by this factor
  bool overwrite = false;  // replace a finished dataset in `out`
  // Called after each clip: (clips done, clips total, clip path).
  std::function<void(size_t, size_t, const std::string&)> progress;
};
// Strict JSON of the fields above but `progress` (scene as an object of SceneOptions' fields): the
// binding's route from keyword arguments.
void to_json(nlohmann::json& j, const PrepareOptions& o);
void from_json(const nlohmann::json& j, PrepareOptions& o);

struct PreparedClip {
  std::string source;  // where it was decoded from
  std::string split;   // train | val | test
  std::string file;    // relative to the dataset folder
  int64_t frames = 0;
  int width = 0, height = 0;
  int lr_width = 0, lr_height = 0;
  std::vector<int64_t> cuts;          // a cut lies between frame c and c+1
  std::vector<int64_t> static_pairs;  // triplet starts n (frame skip of the preparation) whose F0/F2 barely differ
};

struct PreparedDataset {
  std::string root;
  std::string task;
  nlohmann::json options;  // as prepared
  nlohmann::json stats;    // counts reported at preparation
  std::vector<PreparedClip> clips;
};

// What prepare_dataset did, for the progress bar's last line and the manifest.
struct PrepareReport {
  int64_t clips = 0, frames = 0, samples = 0, dropped_cut = 0, dropped_static = 0, reused_clips = 0;
  int64_t train_clips = 0, val_clips = 0, test_clips = 0;
  std::vector<std::string> warnings;  // skipped clips and decode problems, one line each
};
nlohmann::json to_json(const PrepareReport& r);

PrepareReport prepare_dataset(const PrepareOptions& options);

// True when `path` is a folder with a manifest.json.
bool is_prepared_dataset(const std::string& path);

// Reads and checks the manifest.  Throws FileError (missing, unfinished) or InvalidArgument
// (another format, a newer or incompatible version).
PreparedDataset open_prepared_dataset(const std::string& path);

// Maps a clip's frame file read-only and returns one Mat header per frame (no copy).  The Mats keep
// the mapping alive through `keep_alive`.
std::vector<cv::Mat> map_frames(const std::string& file, int64_t frames, int width, int height,
                                std::shared_ptr<void>& keep_alive);

// A clip ready for a dataset: its frames (owned, or views of a mapping held in `mappings`) and,
// for prepared clips, the cuts found at preparation (known_cuts true).
struct LoadedClip {
  FrameSource source;
  std::vector<cv::Mat> frames;
  std::vector<bool> cuts;  // cuts[i]: a cut between frames i and i+1
  bool known_cuts = false;
};

// Loads every clip of `paths`: prepared datasets are mapped (only the clips of `split`, or all for
// "all"), other clips decoded.  A clip the user named that cannot be read throws; one found in a
// folder is skipped with a warning (counted in *skipped).
std::vector<LoadedClip> load_clips(const std::vector<std::string>& paths, const std::string& split, int64_t max_frames,
                                   std::vector<std::shared_ptr<void>>& mappings, int64_t* skipped = nullptr);

// Labels each of n clips "train", "val" or "test", seeded; never one clip on two sides.  With
// fractions > 0 and enough clips each non-empty split gets at least one clip.
std::vector<std::string> split_clips(size_t n, double val_fraction, double test_fraction, uint64_t seed);

}  // namespace fregan::data
