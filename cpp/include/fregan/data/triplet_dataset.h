#pragma once
// Interpolation triplets (F0, F1, F2) = frames (n, n + skip, n + 2 skip) of one clip, F1 being the
// ground-truth middle frame, and a multi-threaded loader that turns them into batches.  With
// neighbours, each triplet also carries the frames one pair-gap before F0 and after F2 (n - 2 skip,
// n + 4 skip): what four-frame models read the motion's acceleration from.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json_fwd.hpp>
#include <opencv2/core.hpp>
#include <torch/types.h>

#include "fregan/data/frame_source.h"
#include "fregan/data/scene.h"

namespace fregan::data {

struct TripletDatasetOptions {
  // Videos, frame folders, prepared datasets, or folders searched for them (see expand_sources).
  std::vector<std::string> sources;
  // Which split of a prepared dataset to read: train, val, test or all.  Raw clips are all read.
  std::string split = "train";
  // F0 = n, F1 = n + frame_skip, F2 = n + 2 frame_skip: a larger skip makes larger motion.  >= 1.
  int frame_skip = 1;
  // Decode at most this many frames per clip (0 = all).
  int64_t max_frames_per_source = 0;
  // Keep at most this many triplets per clip, evenly spaced (0 = all). The FREGAN seed used 999.
  int64_t max_triplets_per_source = 0;
  // Clips whose frames are smaller than this in either side are skipped with a warning (0 = keep all).
  int min_size = 0;
  // No triplet spans a detected hard cut; near-static triplets (F0 ~ F2) are dropped.
  bool drop_cuts = true;
  bool drop_static = true;
  // Keep only triplets whose frames before F0 and after F2 (at the pair's gap) are in the clip with
  // no cut in between, and carry those frames (Triplet::before / after).
  bool neighbours = false;
  SceneOptions scene;
};
// Strict JSON of the fields above (the binding's route from keyword arguments).
void to_json(nlohmann::json& j, const TripletDatasetOptions& o);
void from_json(const nlohmann::json& j, TripletDatasetOptions& o);

// Counts of what the dataset kept and dropped.
struct TripletStats {
  int64_t clips = 0, frames = 0, triplets = 0;
  int64_t dropped_cut = 0, dropped_static = 0, skipped_clips = 0;
};
nlohmann::json to_json(const TripletStats& s);

// Triplet starts n of one clip with frame skip k: n, n+k, n+2k inside the clip, no cut between
// n and n+2k (when cuts are given), F0/F2 not near-static (when thumbnails are given).  With
// neighbours the span is n - 2k .. n + 4k.  Counts what it drops into `stats`.
std::vector<int64_t> triplet_starts(int64_t frames, int skip, const std::vector<bool>* cuts,
                                    const std::vector<cv::Mat>* thumbs, double static_threshold, TripletStats& stats,
                                    bool neighbours = false);

struct Triplet {
  cv::Mat f0, f1, f2;     // 8-bit BGR, same size
  cv::Mat before, after;  // with neighbours: frames n - 2k and n + 4k, else empty
  size_t source = 0;      // index into sources()
  int64_t index = 0;      // frame number of f0 in its clip
};

// Decodes every clip once into memory and indexes its triplets.
class TripletDataset {
 public:
  explicit TripletDataset(const TripletDatasetOptions& options);
  size_t size() const { return index_.size(); }
  Triplet get(size_t i) const;
  const std::vector<FrameSource>& sources() const { return sources_; }
  const TripletDatasetOptions& options() const { return options_; }
  const TripletStats& stats() const { return stats_; }

 private:
  void add_clip(const FrameSource& source, std::vector<cv::Mat> frames, const std::vector<bool>* known_cuts);
  TripletDatasetOptions options_;
  std::vector<FrameSource> sources_;               // one per clip
  std::vector<std::vector<cv::Mat>> frames_;       // per clip (owned, or views of a mapping)
  std::vector<std::shared_ptr<void>> mappings_;    // keep memory-mapped clips alive
  std::vector<std::pair<size_t, int64_t>> index_;  // (clip, n)
  TripletStats stats_;
};

// Splits clips into (train, val) by clip, never putting one clip on both sides.  Seeded and
// reproducible; with >= 2 clips and val_fraction > 0 at least one clip goes to each side.
std::pair<std::vector<std::string>, std::vector<std::string>> split_by_source(const std::vector<FrameSource>& sources,
                                                                              double val_fraction, uint64_t seed);

struct TripletBatch {
  torch::Tensor f0, f1, f2;     // [B, 3, crop, crop] float RGB in [0, 1]
  torch::Tensor before, after;  // the same, with neighbours; undefined otherwise
};

struct TripletLoaderOptions {
  int batch_size = 9;
  int crop = 256;                // square random crop; frames must be at least this large
  bool hflip = true;             // random horizontal flips
  bool vflip = true;             // random vertical flips
  bool rotate = false;           // random 90-degree rotations
  bool temporal_reverse = true;  // random swap of F0 and F2 (and of the neighbours; the middle frame is the same)
  int workers = 2;               // decoding/cropping threads
  int prefetch = 4;              // batches ready ahead of the consumer
  uint64_t seed = 0;
  // Data-parallel training: batch_size is the global batch, cut into shard_count consecutive
  // parts of batch_size / shard_count samples, and this process builds only part shard_index.
  // Every sample is drawn exactly as in the whole batch, so the shards together are that batch.
  int shard_index = 0;
  int shard_count = 1;
};
// Strict JSON of the fields above (the binding's route from keyword arguments).
void to_json(nlohmann::json& j, const TripletLoaderOptions& o);
void from_json(const nlohmann::json& j, TripletLoaderOptions& o);

// Produces batch k from a random stream seeded by (seed, k) alone, so a run resumed at batch k
// sees exactly the batches an uninterrupted run would have seen, whatever the thread timing.
class TripletLoader {
 public:
  TripletLoader(std::shared_ptr<const TripletDataset> dataset, const TripletLoaderOptions& options,
                int64_t first_batch = 0);
  ~TripletLoader();
  TripletBatch next();
  // Builds batch k directly (what the workers run).
  static TripletBatch make_batch(const TripletDataset& dataset, const TripletLoaderOptions& options, int64_t k);

 private:
  void work();
  std::shared_ptr<const TripletDataset> dataset_;
  TripletLoaderOptions options_;
  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable ready_, space_;
  std::map<int64_t, TripletBatch> done_;
  std::exception_ptr error_;
  int64_t next_to_make_;
  int64_t next_to_take_;
  bool stop_ = false;
};

}  // namespace fregan::data
