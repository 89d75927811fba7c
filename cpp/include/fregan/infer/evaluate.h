#pragma once
// Scores an interpolator on triplets with ground truth, beside the baselines every method must
// beat: repeating the first frame, averaging the two frames, and plain optical-flow warping
// (DIS flow, both frames warped to the middle and averaged: strong on real footage).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fregan/data/triplet_dataset.h"
#include "fregan/infer/interpolator.h"

namespace fregan::infer {

struct Scores {
  double psnr = 0;  // dB, mean over triplets
  double ssim = 0;
  double ms_ssim = 0;
};

struct EvaluationResult {
  int64_t triplets = 0;
  Scores model, repeat, average, flow_warp;
  // The classical method the model refines, when one was given (for fregan-flow: the same model
  // untrained, whose zero head is plain warping with its own flows, four-frame where neighbours
  // are known): the bar a learned part must clear.
  std::optional<Scores> classical;
};

nlohmann::json to_json(const EvaluationResult& r);

// What `fregan evaluate` and fregan.evaluate score: a checkpoint on the triplets of some clips.
struct EvaluateOptions {
  std::vector<std::string> data;  // clips with ground truth: videos, frame folders, triplet folders
  std::string weights;            // checkpoint (empty = the shipped model)
  std::string device = "auto";    // auto, cpu, cuda or cuda:N
  int frame_skip = 1;             // triplets (n, n + k, n + 2k)
  int64_t max_triplets = 0;       // score this many evenly spaced triplets (0 = all)
  int64_t max_frames = 0;         // decode at most this many frames per clip (0 = all)
};
// Strict JSON of the fields above: the binding's route from keyword arguments.
void to_json(nlohmann::json& j, const EvaluateOptions& o);
void from_json(const nlohmann::json& j, EvaluateOptions& o);

// The triplets EvaluateOptions names (its data, frame_skip and max_frames).
data::TripletDatasetOptions evaluation_triplets(const EvaluateOptions& o);

// Full frames, outputs quantised to 8 bits as they would be saved.  `max_triplets` > 0 scores an
// evenly spaced subset.  A dataset with neighbours gives the interpolators the pair's neighbours
// too (the flow_warp baseline stays two-frame).  `classical`, when given, is scored the same way.
EvaluationResult evaluate(Interpolator& interpolator, const data::TripletDataset& dataset, int64_t max_triplets = 0,
                          Interpolator* classical = nullptr);

}  // namespace fregan::infer
