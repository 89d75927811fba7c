#include "fregan/data/triplet_dataset.h"

#include <algorithm>
#include <filesystem>
#include <random>

#include <opencv2/imgproc.hpp>
#include <torch/torch.h>

#include "fregan/data/augment.h"
#include "fregan/data/prepared_dataset.h"
#include "fregan/error.h"
#include "fregan/log.h"

namespace fs = std::filesystem;

namespace fregan::data {

std::vector<int64_t> triplet_starts(int64_t frames, int skip, const std::vector<bool>* cuts,
                                    const std::vector<cv::Mat>* thumbs, double static_threshold, TripletStats& stats,
                                    bool neighbours) {
  std::vector<int64_t> starts;
  // cut_before[i]: number of cuts between frames 0..i, so a span [a, b] holds a cut iff they differ.
  std::vector<int64_t> cut_before(static_cast<size_t>(std::max<int64_t>(frames, 1)), 0);
  if (cuts) {
    for (int64_t i = 1; i < frames; ++i) cut_before[i] = cut_before[i - 1] + ((*cuts)[i - 1] ? 1 : 0);
  }
  const int64_t back = neighbours ? 2 * skip : 0, ahead = neighbours ? 4 * skip : 2 * skip;
  for (int64_t n = back; n + ahead < frames; ++n) {
    if (cuts && cut_before[n + ahead] != cut_before[n - back]) {
      ++stats.dropped_cut;
      continue;
    }
    if (thumbs && thumbnail_difference((*thumbs)[n], (*thumbs)[n + 2 * skip]) < static_threshold) {
      ++stats.dropped_static;
      continue;
    }
    starts.push_back(n);
  }
  return starts;
}

void TripletDataset::add_clip(const FrameSource& source, std::vector<cv::Mat> frames,
                              const std::vector<bool>* known_cuts) {
  const auto& o = options_;
  const int64_t span = (o.neighbours ? 6 : 2) * o.frame_skip;
  if (static_cast<int64_t>(frames.size()) <= span) {
    log::warn("'" + source.path + "' has " + std::to_string(frames.size()) + " frames, too few for a triplet" +
              (o.neighbours ? " with neighbours" : "") + " with frame skip " + std::to_string(o.frame_skip) +
              "; skipped");
    ++stats_.skipped_clips;
    return;
  }
  const cv::Size size = frames[0].size();
  if (std::min(size.width, size.height) < o.min_size) {
    log::warn("'" + source.path + "' is " + std::to_string(size.width) + "x" + std::to_string(size.height) +
              ", smaller than " + std::to_string(o.min_size) + "; skipped");
    ++stats_.skipped_clips;
    return;
  }
  std::vector<cv::Mat> thumbs;
  if (o.drop_static || (o.drop_cuts && !known_cuts)) {
    thumbs.reserve(frames.size());
    for (const auto& f : frames) thumbs.push_back(thumbnail(f));
  }
  std::vector<bool> cuts;
  if (o.drop_cuts && !known_cuts) cuts = detect_cuts(thumbs, o.scene);
  const std::vector<bool>* use_cuts = o.drop_cuts ? (known_cuts ? known_cuts : &cuts) : nullptr;
  auto starts = triplet_starts(static_cast<int64_t>(frames.size()), o.frame_skip, use_cuts,
                               o.drop_static ? &thumbs : nullptr, o.scene.static_threshold, stats_, o.neighbours);
  if (starts.empty()) {
    log::warn("'" + source.path + "' has no triplet left after dropping cuts and static frames; skipped");
    ++stats_.skipped_clips;
    return;
  }
  const int64_t count = static_cast<int64_t>(starts.size());
  const int64_t keep = o.max_triplets_per_source > 0 ? std::min(count, o.max_triplets_per_source) : count;
  const size_t clip = sources_.size();
  for (int64_t j = 0; j < keep; ++j) index_.emplace_back(clip, starts[keep == count ? j : j * count / keep]);
  stats_.clips += 1;
  stats_.frames += static_cast<int64_t>(frames.size());
  stats_.triplets += keep;
  sources_.push_back(source);
  frames_.push_back(std::move(frames));
}

TripletDataset::TripletDataset(const TripletDatasetOptions& options) : options_(options) {
  require(options.frame_skip >= 1, "frame_skip must be >= 1, got " + std::to_string(options.frame_skip));
  require(!options.sources.empty(), "no data given: pass one or more videos or frame folders");
  for (auto& clip :
       load_clips(options.sources, options.split, options.max_frames_per_source, mappings_, &stats_.skipped_clips)) {
    add_clip(clip.source, std::move(clip.frames), clip.known_cuts ? &clip.cuts : nullptr);
  }
  if (index_.empty()) {
    throw InvalidArgument("no usable triplets in the data given (every clip was too short, too small or unreadable" +
                          std::string(options.split != "all" ? ", or the '" + options.split + "' split is empty" : "") +
                          ")");
  }
}

Triplet TripletDataset::get(size_t i) const {
  require(i < index_.size(),
          "triplet index " + std::to_string(i) + " out of range (" + std::to_string(index_.size()) + ")");
  const auto [s, n] = index_[i];
  const int64_t k = options_.frame_skip;
  const auto& frames = frames_[s];
  Triplet t{frames[n], frames[n + k], frames[n + 2 * k], {}, {}, s, n};
  if (options_.neighbours) {
    t.before = frames[n - 2 * k];
    t.after = frames[n + 4 * k];
  }
  return t;
}

std::pair<std::vector<std::string>, std::vector<std::string>> split_by_source(const std::vector<FrameSource>& sources,
                                                                              double val_fraction, uint64_t seed) {
  require(val_fraction >= 0 && val_fraction < 1, "val_fraction must be in [0, 1)");
  const auto labels = split_clips(sources.size(), val_fraction, 0.0, seed);
  std::vector<std::string> train, val;
  for (size_t i = 0; i < sources.size(); ++i) (labels[i] == "val" ? val : train).push_back(sources[i].path);
  std::sort(train.begin(), train.end());
  std::sort(val.begin(), val.end());
  return {train, val};
}

namespace {

void check_shard(const TripletLoaderOptions& o) {
  require(o.shard_count >= 1 && o.shard_index >= 0 && o.shard_index < o.shard_count,
          "loader shard " + std::to_string(o.shard_index) + " of " + std::to_string(o.shard_count) + " does not exist");
  require(o.batch_size % o.shard_count == 0, "batch size " + std::to_string(o.batch_size) + " does not split into " +
                                                 std::to_string(o.shard_count) + " equal shards");
}

}  // namespace

TripletBatch TripletLoader::make_batch(const TripletDataset& dataset, const TripletLoaderOptions& o, int64_t k) {
  std::mt19937_64 rng(o.seed * 0x9E3779B97F4A7C15ULL + static_cast<uint64_t>(k) + 1);
  check_shard(o);
  const int c = o.crop;
  const int shard = o.batch_size / o.shard_count, first = o.shard_index * shard;
  TripletBatch batch{torch::empty({shard, 3, c, c}), torch::empty({shard, 3, c, c}), torch::empty({shard, 3, c, c})};
  const bool neighbours = dataset.options().neighbours;
  if (neighbours) {
    batch.before = torch::empty({shard, 3, c, c});
    batch.after = torch::empty({shard, 3, c, c});
  }
  const AugmentOptions aug_options{o.hflip, o.vflip, o.rotate};
  for (int b = 0; b < first + shard; ++b) {
    const Triplet t = dataset.get(std::uniform_int_distribution<size_t>(0, dataset.size() - 1)(rng));
    const int w = t.f0.cols, h = t.f0.rows;
    if (w < c || h < c) {
      throw InvalidArgument("frames of '" + dataset.sources()[t.source].path + "' are " + std::to_string(w) + "x" +
                            std::to_string(h) + ", smaller than the " + std::to_string(c) + " crop");
    }
    const cv::Rect crop(std::uniform_int_distribution<int>(0, w - c)(rng),
                        std::uniform_int_distribution<int>(0, h - c)(rng), c, c);
    const Augmentation aug = Augmentation::draw(aug_options, rng);
    const bool reverse = o.temporal_reverse && (rng() & 1);
    if (b < first) continue;  // another shard's sample: drawn only to keep the random stream in step
    copy_to_batch(augment(reverse ? t.f2(crop) : t.f0(crop), aug), batch.f0, b - first);
    copy_to_batch(augment(t.f1(crop), aug), batch.f1, b - first);
    copy_to_batch(augment(reverse ? t.f0(crop) : t.f2(crop), aug), batch.f2, b - first);
    if (neighbours) {
      copy_to_batch(augment(reverse ? t.after(crop) : t.before(crop), aug), batch.before, b - first);
      copy_to_batch(augment(reverse ? t.before(crop) : t.after(crop), aug), batch.after, b - first);
    }
  }
  return batch;
}

TripletLoader::TripletLoader(std::shared_ptr<const TripletDataset> dataset, const TripletLoaderOptions& options,
                             int64_t first_batch)
    : dataset_(std::move(dataset)), options_(options), next_to_make_(first_batch), next_to_take_(first_batch) {
  require(options.batch_size >= 1, "batch size must be >= 1");
  require(options.crop >= 8, "crop must be >= 8");
  require(options.workers >= 1, "loader workers must be >= 1");
  require(options.prefetch >= 1, "loader prefetch must be >= 1");
  check_shard(options);
  for (int i = 0; i < options.workers; ++i) threads_.emplace_back([this] { work(); });
}

TripletLoader::~TripletLoader() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  space_.notify_all();
  ready_.notify_all();
  for (auto& t : threads_) t.join();
}

void TripletLoader::work() {
  while (true) {
    int64_t k;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      space_.wait(lock, [&] { return stop_ || next_to_make_ < next_to_take_ + options_.prefetch; });
      if (stop_) return;
      k = next_to_make_++;
    }
    try {
      TripletBatch batch = make_batch(*dataset_, options_, k);
      std::lock_guard<std::mutex> lock(mutex_);
      done_.emplace(k, std::move(batch));
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_) error_ = std::current_exception();
    }
    ready_.notify_all();
  }
}

TripletBatch TripletLoader::next() {
  std::unique_lock<std::mutex> lock(mutex_);
  ready_.wait(lock, [&] { return error_ || done_.count(next_to_take_) > 0; });
  if (error_) std::rethrow_exception(error_);
  auto node = done_.extract(next_to_take_);
  ++next_to_take_;
  lock.unlock();
  space_.notify_all();
  return std::move(node.mapped());
}

}  // namespace fregan::data
