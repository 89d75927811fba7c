#pragma once
// Losses shared by the GAN models.  Frames are float RGB in [0, 1].
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>
#include <torch/types.h>

namespace fregan::losses {

// SmoothL1 (Huber) with threshold beta, measured on the [-1, 1] scale the generators work in
// (so a pixel error e on [0, 1] counts as 2e): 0.5 (2e)^2 / beta where |2e| < beta, else |2e| - beta/2.
// Mean over all elements.
torch::Tensor smooth_l1(const torch::Tensor& prediction, const torch::Tensor& target, double beta = 0.5);

// Mean absolute error on the [0, 1] scale: SIN-GAN's mean |p - t| / 255 on the 0-255 scale.
torch::Tensor l1(const torch::Tensor& prediction, const torch::Tensor& target);

// 1 - MS-SSIM of the grayscale (BT.601 luma) images, the prediction clamped to [0, 1] first as
// SIN-GAN does (so values outside the range get no gradient here: that is the clipping loss's
// job).  Mean over the batch.
torch::Tensor ms_ssim_loss(const torch::Tensor& prediction, const torch::Tensor& target);

// Mean squared difference between the clamped and the raw prediction: pulls outputs into [0, 1].
torch::Tensor clipping_loss(const torch::Tensor& prediction);

// Weights of the generator's loss terms.  Every model has its own defaults (the registry's
// GanModel::default_loss); a training run overrides any of them (TrainerOptions::loss).
struct GeneratorLossWeights {
  double smooth_l1 = 0;        // FREGAN's reconstruction term
  double smooth_l1_beta = 0.5; // its threshold on the [-1, 1] scale
  double l1 = 0;
  double ms_ssim = 0;
  double clipping = 0;
  double adversarial = 0;      // non-saturating GAN term; 0 trains the generator alone
  // Weight of the same reconstruction terms on a model's intermediate outputs (e.g. SIN-GAN's
  // frame before refinement), relative to the final output's.
  double intermediate = 1.0;
};
void to_json(nlohmann::json& j, const GeneratorLossWeights& o);
void from_json(const nlohmann::json& j, GeneratorLossWeights& o);

// The weighted reconstruction terms (everything but the adversarial one) of `prediction`:
// total = sum of weight * term over the terms with a non-zero weight; `terms` lists each
// unweighted term by name ("smooth_l1", "l1", "ms_ssim", "clipping") for logging.
struct LossTerms {
  torch::Tensor total;
  std::vector<std::pair<std::string, torch::Tensor>> terms;
};
LossTerms reconstruction_loss(const torch::Tensor& prediction, const torch::Tensor& target,
                              const GeneratorLossWeights& weights);

// Label smoothing for the discriminator: targets drawn uniformly per sample.
struct LabelSmoothing {
  double real_low = 0.7, real_high = 1.1;
  double fake_low = 0.0, fake_high = 0.3;
};
void to_json(nlohmann::json& j, const LabelSmoothing& o);
void from_json(const nlohmann::json& j, LabelSmoothing& o);

// Binary cross-entropy on logits with (possibly soft or > 1) targets: mean of
// -(y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))), computed stably.
torch::Tensor bce_with_logits(const torch::Tensor& logits, const torch::Tensor& targets);

// D loss = (BCE(real, y_real) + BCE(fake, y_fake)) / 2 with y_real ~ U[real_low, real_high],
// y_fake ~ U[fake_low, fake_high] drawn from torch's default generator.  When the logits are
// samples [first, first + B) of a larger batch of `whole_batch` (one shard in data-parallel
// training), the labels are drawn for the whole batch and sliced, so every shard gets the labels
// its samples would get in one process.
torch::Tensor discriminator_loss(const torch::Tensor& real_logits, const torch::Tensor& fake_logits,
                                 const LabelSmoothing& smoothing = {}, int64_t first = 0, int64_t whole_batch = 0);

// Non-saturating generator term: BCE(D(G), 1) = -log sigmoid(fake_logits), mean.
torch::Tensor generator_adversarial_loss(const torch::Tensor& fake_logits);

}  // namespace fregan::losses
