#pragma once
// Training loop of the DCGAN (unconditional frame generation): frames of videos -> one D and one G
// update per step (Adam, BCE on logits), atomic checkpoints with exact resume, fixed-noise sample
// grids, and a divergence/collapse watchdog that rolls back to the last good checkpoint with lower
// learning rates (GAN training on one video tends to collapse after a while; the seed says ~100
// epochs).
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include "fregan/losses/losses.h"
#include "fregan/metrics/generation_metrics.h"
#include "fregan/models/dcgan.h"
#include "fregan/train/run_options.h"

namespace torch::optim {
class Adam;
}

namespace fregan::train {

// When a run counts as diverged or collapsed.  Losses are the D loss (mean of the real and fake
// BCE) and the non-saturating G loss (-log sigmoid(D(G(z)))).
struct DivergenceOptions {
  bool enabled = true;
  // A NaN or infinite loss is divergence at once.
  // D has won (its loss near 0, so G gets no useful gradient): D loss below d_loss_floor for
  // d_floor_steps consecutive steps.
  double d_loss_floor = 0.005;
  int64_t d_floor_steps = 200;
  // G loss exploding: above g_loss_ceiling for g_ceiling_steps consecutive steps (15 means D
  // gives G's frames a probability below 3e-7 of being real).
  double g_loss_ceiling = 15.0;
  int64_t g_ceiling_steps = 50;
  // At each rollback both learning rates are multiplied by lr_factor.
  double lr_factor = 0.5;
  // One more divergence after this many rollbacks ends training with an error.
  int max_rollbacks = 4;
};
void to_json(nlohmann::json& j, const DivergenceOptions& o);
void from_json(const nlohmann::json& j, DivergenceOptions& o);

// Fed with every step's losses; says when the run has diverged.  Small and separate so it can be
// tested on synthetic loss sequences.
class DivergenceDetector {
 public:
  explicit DivergenceDetector(const DivergenceOptions& options = {});
  // Returns why the run has diverged (e.g. "G loss above 15 for 50 consecutive steps"), or
  // nothing.  After a verdict, call reset() (the caller rolls back).
  std::optional<std::string> update(double d_loss, double g_loss);
  // No loss is currently beyond its threshold: weights saved now count as good.
  bool healthy() const { return d_streak_ == 0 && g_streak_ == 0; }
  void reset() { d_streak_ = g_streak_ = 0; }
  int64_t d_streak() const { return d_streak_; }
  int64_t g_streak() const { return g_streak_; }

 private:
  DivergenceOptions options_;
  int64_t d_streak_ = 0, g_streak_ = 0;
};

// When the fixed-noise samples count as a mode collapse: losses can look healthy while G draws
// one picture, so this measures what a collapse is, the samples' diversity (metrics::diversity of
// metrics::frame_features) against the same statistic on real training frames.
struct CollapseOptions {
  bool enabled = true;  // false: diversity is still measured and logged, never acted on
  // Collapsed when the samples' per-pixel std or mean pairwise distance is below min_ratio x the
  // real frames' (the shipped step-3000 model of issue 19 measures about 0.3 of the real frames').
  double min_ratio = 0.5;
  // Not acted on before this step: a young generator's samples are alike because it has learnt
  // little yet, and its sample steps up to here count as healthy.
  int64_t start_step = 1000;
  // Size of the feature frames the diversity is measured at (metrics::frame_features).
  int feature_height = metrics::kFeatureHeight;
  int feature_width = metrics::kFeatureWidth;
  // At each collapse rollback: both learning rates x lr_factor, and D's by d_lr_factor on top
  // (below 1 weakens D, the usual cause of a collapse on little data).
  double lr_factor = 0.5;
  double d_lr_factor = 1.0;
  // One more collapse after this many collapse rollbacks ends training with an error.
  int max_rollbacks = 3;
};
void to_json(nlohmann::json& j, const CollapseOptions& o);
void from_json(const nlohmann::json& j, CollapseOptions& o);

// The diversity of a set of frames against that of the real frames.
struct CollapseVerdict {
  metrics::Diversity samples, real;
  double std_ratio = 0, distance_ratio = 0;  // samples' / real's
  bool collapsed = false;                    // either ratio below min_ratio
};

// Measures sets of frames against real frames given once.  Small and separate so it can be
// tested on hand-made sets and shipped checkpoints.
class CollapseDetector {
 public:
  // real_frames: [N, 3, H, W] in [0, 1], N >= 2 (DcganTrainer: sample_count frames evenly spaced
  // over the training data, the same count as the samples it is compared with).
  CollapseDetector(const CollapseOptions& options, const torch::Tensor& real_frames);
  // frames: [M, 3, H', W'] in [0, 1], M >= 2 (any size: both are measured at the feature size).
  CollapseVerdict measure(const torch::Tensor& frames) const;
  const metrics::Diversity& real() const { return real_; }

 private:
  CollapseOptions options_;
  metrics::Diversity real_;
};

struct DcganTrainerOptions {
  // What every trainer shares, with DCGAN's defaults: 5000 steps of batch 64, hard 1 / 0
  // discriminator targets, last.pt every 100 steps (also the rollback granularity).  Its generator
  // / discriminator options are DcganGeneratorOptions / DcganDiscriminatorOptions as JSON
  // (latent_dim, height, width, levels, base_channels, ...); the discriminator takes the
  // generator's frame size.  run.out_dir also gets samples/step_NNNNNN.png and healthy.pt (the
  // weights at the last sample step whose samples were not collapsed: the collapse rollback
  // target); there is no best.pt.
  RunOptions run = [] {
    RunOptions r;
    r.steps = 5000;
    r.batch_size = 64;
    r.label_smoothing = {1.0, 1.0, 0.0, 0.0};
    r.checkpoint_every = 100;
    return r;
  }();

  // Data: every frame_skip-th frame, the skip raised so about target_frames frames are kept (0 = no
  // target); frames are resized to the model's size.
  int frame_skip = 1;
  int64_t target_frames = 0;
  bool temporal_order = false;  // batches of consecutive frames in order instead of shuffled
  bool hflip = false;           // random horizontal flips

  DivergenceOptions divergence;
  CollapseOptions collapse;

  // Stabilisers for small data, all off by default (the seed's plain DCGAN).  Spectral
  // normalisation of D is a model option (discriminator_options "spectral_norm", with
  // "batch_norm": false for SN-GAN's D); two time-scale learning rates are lr_g / lr_d.
  std::string loss = "bce";  // "bce": D on BCE, G non-saturating (the seed's); "hinge"
  // R1 penalty on D's gradient at real frames: gamma / 2 * E ||grad D(real)||^2, added every
  // r1_every-th step weighted by r1_every (StyleGAN2's lazy regularisation); 0 = off.
  double r1_gamma = 0;
  int r1_every = 1;
  // DiffAugment policy applied to the real and generated frames D sees (both in D's and G's step):
  // any of "color,translation,cutout,flip"; "" = none.
  std::string diff_augment;
  // Exponential moving average of G's weights (e.g. 0.999), updated after every G step; it is what
  // samples show and what checkpoints hold as the generator (so `fregan strip` / `generate` use
  // it; the trained weights are kept beside it for resuming).  0 = off.
  double ema_decay = 0;

  int64_t sample_every = 250;  // 0 = only at the end
  int sample_count = 64;       // frames in each sample grid (fixed latents of `seed`)
};
void to_json(nlohmann::json& j, const DcganTrainerOptions& o);
void from_json(const nlohmann::json& j, DcganTrainerOptions& o);

struct DcganStepStats {
  int64_t step = 0;  // steps done after this one
  double d_loss = 0, g_loss = 0;
  double d_real = 0, d_fake = 0;  // mean D probability of real / generated frames being real
  double r1 = -1;                 // the R1 term (without gamma / 2) when computed this step, else -1
};

// validation: the samples' diversity, set with sample_grid.
struct DcganProgress : RunProgress<DcganStepStats, CollapseVerdict> {
  double lr_scale = 1.0;
  int rollbacks = 0;
  std::string event;        // set when this step caused a rollback (what happened)
  std::string sample_grid;  // set when a sample grid was written (its path)
};
// Return false to stop training early (a checkpoint is written first).
using DcganProgressCallback = std::function<bool(const DcganProgress&)>;

class DcganTrainer {
 public:
  explicit DcganTrainer(const DcganTrainerOptions& options);
  ~DcganTrainer();

  // One D and one G update on real frames [B, 3, H, W] in [0, 1] (moved to the device).
  DcganStepStats step(const torch::Tensor& real);

  // Full checkpoint (weights, optimizers, step, lr scale, rollbacks), written atomically.
  void save(const std::string& path) const;
  // Restores all of the above from a DCGAN checkpoint with the same model options.
  void load(const std::string& path);

  // Feeds `stats` to the divergence detector.  On divergence: restores `good_checkpoint` (weights,
  // optimizers, step), multiplies the learning rates by divergence.lr_factor, rewrites the
  // checkpoint with the new state and returns what happened.  Throws fregan::Error once
  // divergence.max_rollbacks rollbacks did not help.
  std::optional<std::string> check_divergence(const DcganStepStats& stats, const std::string& good_checkpoint);
  // True when weights saved now count as good (see DivergenceDetector::healthy).
  bool healthy() const { return detector_.healthy(); }

  // Measures the diversity of `samples` (the fixed-noise frames of this step) against the real
  // frames (set by fit, or set_real_frames).  When collapsed at or after collapse.start_step and
  // collapse detection is on: restores `healthy_checkpoint`, lowers the learning rates
  // (collapse.lr_factor, d_lr_factor), rewrites `healthy_checkpoint` and `last_checkpoint` with
  // the new state and returns what happened in `event`.  Throws fregan::Error after
  // collapse.max_rollbacks collapse rollbacks.  Otherwise saves `healthy_checkpoint` when the
  // samples are not collapsed (or the step is before start_step).
  CollapseVerdict check_collapse(const torch::Tensor& samples, const std::string& healthy_checkpoint,
                                 const std::string& last_checkpoint, std::string* event);
  void set_real_frames(const torch::Tensor& real_frames);

  // Frames of the fixed latents of `seed` (samples [0, n)), generator in eval mode: [n, 3, H, W]
  // RGB in [0, 1] on the CPU.  The same as FrameGenerator::generate(n, seed) on the saved weights.
  torch::Tensor sample(int64_t n, uint64_t seed);

  // The whole loop over options().data.
  void fit(const DcganProgressCallback& callback = {});

  int64_t current_step() const { return step_; }
  double lr_scale() const { return lr_scale_; }
  int rollbacks() const { return rollbacks_; }
  int collapse_rollbacks() const { return collapse_rollbacks_; }
  double d_lr_scale() const { return d_lr_scale_; }
  const DcganTrainerOptions& options() const { return options_; }
  models::Dcgan& model() { return model_; }
  // The EMA of G's weights (null when ema_decay is 0).
  models::DcganGenerator& ema_generator() { return ema_; }
  torch::Device device() const;

 private:
  void apply_lr_scale();

  void update_ema();

  DcganTrainerOptions options_;
  std::unique_ptr<torch::Device> device_;
  models::Dcgan model_;
  models::DcganGenerator ema_{nullptr};
  bool hinge_ = false;
  std::unique_ptr<struct DiffAugmentPolicy> augment_;
  models::DcganGeneratorOptions generator_options_;
  std::unique_ptr<torch::optim::Adam> optimizer_g_, optimizer_d_;
  DivergenceDetector detector_;
  std::unique_ptr<CollapseDetector> collapse_;
  int64_t step_ = 0;
  double lr_scale_ = 1.0;
  double d_lr_scale_ = 1.0;  // D's rate relative to G's beyond lr_scale (collapse.d_lr_factor)
  int rollbacks_ = 0;
  int collapse_rollbacks_ = 0;
};

}  // namespace fregan::train
