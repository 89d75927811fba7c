#include "fregan/data/triplet_dataset.h"

#include <algorithm>
#include <numeric>
#include <random>

#include <opencv2/imgproc.hpp>
#include <torch/torch.h>

#include "fregan/error.h"
#include "fregan/log.h"

namespace fregan::data {

TripletDataset::TripletDataset(const TripletDatasetOptions& options) : options_(options) {
  require(options.frame_skip >= 1, "frame_skip must be >= 1, got " + std::to_string(options.frame_skip));
  require(!options.sources.empty(), "no data given: pass one or more videos or frame folders");
  const auto candidates = expand_sources(options.sources);
  const int64_t span = 2 * options.frame_skip;
  for (const auto& source : candidates) {
    std::vector<cv::Mat> frames = read_frames(source, options.max_frames_per_source);
    if (static_cast<int64_t>(frames.size()) <= span) {
      log::warn("'" + source.path + "' has " + std::to_string(frames.size()) + " frames, too few for a triplet with frame skip " +
                std::to_string(options.frame_skip) + "; skipped");
      continue;
    }
    const cv::Size size = frames[0].size();
    bool mixed = false;
    for (const auto& f : frames) mixed |= f.size() != size;
    if (mixed) {
      log::warn("'" + source.path + "' has frames of different sizes; skipped");
      continue;
    }
    if (std::min(size.width, size.height) < options.min_size) {
      log::warn("'" + source.path + "' is " + std::to_string(size.width) + "x" + std::to_string(size.height) +
                ", smaller than " + std::to_string(options.min_size) + "; skipped");
      continue;
    }
    const size_t s = sources_.size();
    const int64_t count = static_cast<int64_t>(frames.size()) - span;
    const int64_t keep = options.max_triplets_per_source > 0 ? std::min(count, options.max_triplets_per_source) : count;
    for (int64_t j = 0; j < keep; ++j) index_.emplace_back(s, keep == count ? j : j * count / keep);
    sources_.push_back(source);
    frames_.push_back(std::move(frames));
  }
  if (index_.empty()) {
    throw InvalidArgument("no usable triplets in the data given (every clip was too short, too small or unreadable)");
  }
}

Triplet TripletDataset::get(size_t i) const {
  require(i < index_.size(), "triplet index " + std::to_string(i) + " out of range (" + std::to_string(index_.size()) + ")");
  const auto [s, n] = index_[i];
  const int64_t k = options_.frame_skip;
  const auto& frames = frames_[s];
  return Triplet{frames[n], frames[n + k], frames[n + 2 * k], s, n};
}

std::pair<std::vector<std::string>, std::vector<std::string>> split_by_source(
    const std::vector<FrameSource>& sources, double val_fraction, uint64_t seed) {
  require(val_fraction >= 0 && val_fraction < 1, "val_fraction must be in [0, 1)");
  std::vector<size_t> order(sources.size());
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(seed);
  std::shuffle(order.begin(), order.end(), rng);
  size_t n_val = static_cast<size_t>(std::round(val_fraction * sources.size()));
  if (val_fraction > 0 && sources.size() >= 2) n_val = std::clamp<size_t>(n_val, 1, sources.size() - 1);
  std::vector<std::string> train, val;
  for (size_t i = 0; i < order.size(); ++i) (i < n_val ? val : train).push_back(sources[order[i]].path);
  std::sort(train.begin(), train.end());
  std::sort(val.begin(), val.end());
  return {train, val};
}

TripletBatch TripletLoader::make_batch(const TripletDataset& dataset, const TripletLoaderOptions& o, int64_t k) {
  std::mt19937_64 rng(o.seed * 0x9E3779B97F4A7C15ULL + static_cast<uint64_t>(k) + 1);
  const int c = o.crop;
  // Filled element by element (no torch ops) so workers never enter torch's thread pool.
  TripletBatch batch{torch::empty({o.batch_size, 3, c, c}), torch::empty({o.batch_size, 3, c, c}),
                     torch::empty({o.batch_size, 3, c, c})};
  torch::Tensor* outputs[3] = {&batch.f0, &batch.f1, &batch.f2};
  constexpr float kScale = 1.0f / 255.0f;
  for (int b = 0; b < o.batch_size; ++b) {
    const Triplet t = dataset.get(std::uniform_int_distribution<size_t>(0, dataset.size() - 1)(rng));
    const int w = t.f0.cols, h = t.f0.rows;
    if (w < c || h < c) {
      throw InvalidArgument("frames of '" + dataset.sources()[t.source].path + "' are " + std::to_string(w) + "x" +
                            std::to_string(h) + ", smaller than the " + std::to_string(c) + " crop");
    }
    const int x = std::uniform_int_distribution<int>(0, w - c)(rng);
    const int y = std::uniform_int_distribution<int>(0, h - c)(rng);
    const bool hflip = o.flip && (rng() & 1);
    const bool vflip = o.flip && (rng() & 1);
    const bool reverse = o.temporal_reverse && (rng() & 1);
    const cv::Mat* frames[3] = {reverse ? &t.f2 : &t.f0, &t.f1, reverse ? &t.f0 : &t.f2};
    for (int f = 0; f < 3; ++f) {
      const cv::Mat patch = (*frames[f])(cv::Rect(x, y, c, c));
      auto acc = outputs[f]->accessor<float, 4>();
      for (int r = 0; r < c; ++r) {
        const uint8_t* row = patch.ptr<uint8_t>(r);
        const int rr = vflip ? c - 1 - r : r;
        for (int col = 0; col < c; ++col) {
          const int cc = hflip ? c - 1 - col : col;
          const uint8_t* px = row + 3 * col;  // BGR
          acc[b][0][rr][cc] = px[2] * kScale;
          acc[b][1][rr][cc] = px[1] * kScale;
          acc[b][2][rr][cc] = px[0] * kScale;
        }
      }
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
