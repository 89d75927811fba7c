#include "fregan/infer/retiming.h"

#include <algorithm>
#include <cmath>

#include "fregan/data/scene.h"

namespace fregan::infer {

int64_t first_output_at_or_after(double position, double ratio) {
  return static_cast<int64_t>(std::ceil(position * ratio - 1e-6));
}

double input_position(int64_t n, const std::vector<double>& timestamps, double fps) {
  if (timestamps.empty()) return static_cast<double>(n);
  const auto& ts = timestamps;
  if (n < static_cast<int64_t>(ts.size())) return (ts[static_cast<size_t>(n)] - ts.front()) * fps;
  return (ts.back() - ts.front()) * fps + static_cast<double>(n + 1 - static_cast<int64_t>(ts.size()));
}

std::vector<OutputFrameSource> output_frames_of_pair(double position, double next_position, double ratio, bool has_next,
                                                     bool cut) {
  const int64_t k_begin = first_output_at_or_after(position, ratio);
  const int64_t k_end = first_output_at_or_after(next_position, ratio);
  std::vector<OutputFrameSource> frames;
  frames.reserve(static_cast<size_t>(std::max<int64_t>(0, k_end - k_begin)));
  for (int64_t k = k_begin; k < k_end; ++k) {
    OutputFrameSource source;
    source.k = k;
    const double t = (static_cast<double>(k) / ratio - position) / (next_position - position);
    if (t < 1e-6 || !has_next) source.kind = OutputFrameSource::Kind::first;
    else if (cut) source.kind = t < 0.5 ? OutputFrameSource::Kind::first : OutputFrameSource::Kind::second;
    else {
      source.kind = OutputFrameSource::Kind::interpolated;
      source.t = t;
    }
    frames.push_back(source);
  }
  return frames;
}

std::vector<HeldFrameRemover::Kept> HeldFrameRemover::push(cv::Mat frame, int64_t index) {
  std::vector<Kept> kept;
  cv::Mat probe = data::held_probe(frame);
  if (!probe_of_kept_.empty() && data::held_difference(probe_of_kept_, probe) < threshold_) {
    ++held_run_;
    last_held_ = std::move(frame);
    last_held_index_ = index;
    return kept;  // a repeat: the next distinct frame decides where the motion goes
  }
  if (held_run_ > max_run_) kept.push_back({std::move(last_held_), last_held_index_});
  held_run_ = 0;
  probe_of_kept_ = probe;
  kept.push_back({std::move(frame), index});
  return kept;
}

}  // namespace fregan::infer
