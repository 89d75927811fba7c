#pragma once
// Training loop of SpectraFrame (x4 video super-resolution): SR samples from the data pipeline
// (data::make_sr_batch: HR crops, bicubic LR, LR neighbours, flips / rotations), DIS flows, one D
// and one G update per step with SRGAN's loss (MSE + perceptual + adversarial + total variation),
// validation against bicubic on held-out clips, atomic checkpoints with exact resume.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include "fregan/data/sr_dataset.h"
#include "fregan/infer/upscaler.h"
#include "fregan/losses/losses.h"
#include "fregan/models/spectraframe.h"
#include "fregan/train/run_options.h"

namespace torch::optim {
class Adam;
}

namespace fregan::train {

struct SrTrainerOptions {
  // What every trainer shares, with SpectraFrame's defaults: batch 8, Adam 1e-4 (0.9, 0.999), hard
  // discriminator targets, last.pt every 100 steps.  Its generator / discriminator options are
  // SpectraFrameGeneratorOptions / SpectraFrameDiscriminatorOptions as JSON.
  RunOptions run = [] {
    RunOptions r;
    r.batch_size = 8;
    r.lr_g = r.lr_d = 1e-4;
    r.beta1 = 0.9;
    r.label_smoothing = {1.0, 1.0, 0.0, 0.0};
    r.checkpoint_every = 100;
    return r;
  }();

  // Validation: val_data, or else the "val" split of prepared datasets, or else val_fraction of
  // the clips held out (split by clip, seeded).
  std::vector<std::string> val_data;
  double val_fraction = 0.1;
  int64_t val_frames = 8;   // evenly spaced frames scored at each validation
  int val_crop = 256;       // their centre HR crop (0 = whole frames)
  int64_t val_every = 200;  // 0 = only at the end

  // Optimisation beyond run's (run.steps >= 1).
  int hr_crop = 96;    // HR training crop (multiple of 4; LR crop = hr_crop / 4)
  bool flip = true;    // random horizontal and vertical flips
  bool rotate = true;  // random 90-degree rotations
  // Generator loss weights (keys of losses::SrLossWeights: mse, perceptual, adversarial, tv)
  // overriding its defaults.
  nlohmann::json loss = nlohmann::json::object();
  // TorchScript feature extractor for the perceptual term (e.g. an exported VGG); empty = feature
  // matching on the discriminator's intermediate features.
  std::string perceptual_model;
};
void to_json(nlohmann::json& j, const SrTrainerOptions& o);
void from_json(const nlohmann::json& j, SrTrainerOptions& o);

struct SrStepStats {
  int64_t step = 0;  // steps done after this one
  double d_loss = 0, g_loss = 0;
  std::map<std::string, double> terms;  // unweighted generator terms: mse, perceptual, adversarial, tv
};

using SrProgress = RunProgress<SrStepStats, infer::SrEvaluation>;
// Return false to stop training early (a checkpoint is written first).
using SrProgressCallback = std::function<bool(const SrProgress&)>;

class SrTrainer {
 public:
  explicit SrTrainer(const SrTrainerOptions& options);
  ~SrTrainer();

  // One D update (when the adversarial weight is > 0) and one G update on a batch (moved to the
  // device; flows are computed here).
  SrStepStats step(const data::SrBatch& batch);

  void save(const std::string& path, const nlohmann::json& metrics = nlohmann::json::object()) const;
  // Restores weights, optimizer state and step from a SpectraFrame checkpoint with the same options.
  void load(const std::string& path);

  infer::SrEvaluation validate(const data::SrDataset& dataset);

  // The whole loop over options().data.  Returns the last validation result (frames 0 without one).
  infer::SrEvaluation fit(const SrProgressCallback& callback = {});

  int64_t current_step() const { return step_; }
  const SrTrainerOptions& options() const { return options_; }
  const losses::SrLossWeights& loss_weights() const { return loss_weights_; }
  // What the perceptual term compares: "torchscript:<path>", "discriminator features" or "off".
  std::string perceptual_source() const;
  models::SpectraFrame& model() { return model_; }
  torch::Device device() const;

 private:
  SrTrainerOptions options_;
  std::unique_ptr<torch::Device> device_;
  models::SpectraFrame model_;
  losses::SrLossWeights loss_weights_;
  std::unique_ptr<losses::TorchScriptFeatures> perceptual_;
  std::unique_ptr<torch::optim::Adam> optimizer_g_, optimizer_d_;
  int64_t step_ = 0;
};

}  // namespace fregan::train
