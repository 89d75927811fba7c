#pragma once
// Losses shared by the GAN models.  Frames are float RGB in [0, 1].
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>
#include <torch/types.h>

namespace torch::jit {
struct Module;
}

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
  double smooth_l1 = 0;         // FREGAN's reconstruction term
  double smooth_l1_beta = 0.5;  // its threshold on the [-1, 1] scale
  double l1 = 0;
  double ms_ssim = 0;
  double clipping = 0;
  double adversarial = 0;  // non-saturating GAN term; 0 trains the generator alone
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

// Hinge loss (Lim & Ye 2017; SN-GAN, BigGAN): D loss = mean(relu(1 - real)) + mean(relu(1 + fake)),
// G loss = -mean(fake logits).
torch::Tensor hinge_discriminator_loss(const torch::Tensor& real_logits, const torch::Tensor& fake_logits);
torch::Tensor hinge_generator_loss(const torch::Tensor& fake_logits);

// R1 gradient penalty (Mescheder et al. 2018) without its gamma / 2 factor: the mean over the
// batch of the squared norm of d(sum of real_logits) / d(real_inputs), with a graph so it can be
// backpropagated to D's weights.  `real_inputs` must require grad and `real_logits` come from it.
torch::Tensor r1_penalty(const torch::Tensor& real_logits, const torch::Tensor& real_inputs);

// --- super-resolution (SpectraFrame) ----------------------------------------------------------

// Charbonnier penalty: mean over all elements of sqrt((prediction - target)^2 + epsilon^2); same
// shapes; epsilon > 0.
torch::Tensor charbonnier(const torch::Tensor& prediction, const torch::Tensor& target, double epsilon = 1e-3);

// Total variation, SRGAN's smoothness regulariser: the mean squared difference between vertically
// adjacent pixels plus the mean squared difference between horizontally adjacent pixels, over
// batch and channels.  images [B, C, H, W] with H, W >= 2.
torch::Tensor total_variation(const torch::Tensor& images);

// A feature extractor for the perceptual loss, given as a TorchScript module (e.g. a VGG
// truncated at relu5_4 and exported by the user with torch.jit.script / torch.jit.trace + save).
// Its forward takes [B, 3, H, W] RGB in [0, 1] (it normalises as it needs) and returns a tensor,
// or a tuple / list of tensors (several layers).  Frozen: eval mode, no parameter gradients.
class TorchScriptFeatures {
 public:
  // Throws FileError when `path` does not exist, CheckpointError when it is not a TorchScript module.
  explicit TorchScriptFeatures(const std::string& path);
  ~TorchScriptFeatures();
  std::vector<torch::Tensor> operator()(const torch::Tensor& images);
  // Moves the module's weights (the perceptual loss runs where the model trains).
  void to(const torch::Device& device);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::unique_ptr<torch::jit::Module> module_;
};

// Mean over the layers of the mean squared difference of `a[i]` and `b[i]` (same count and shapes):
// the perceptual loss on a pretrained extractor's features, or feature matching on a
// discriminator's.
torch::Tensor feature_distance(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b);

// Weights of SpectraFrame's generator loss (SRGAN's terms).  The defaults lean on MSE: the
// adversarial and perceptual terms trade PSNR for texture.
struct SrLossWeights {
  double mse = 1.0;  // pixel MSE on [0, 1]
  // Charbonnier (a smooth L1) on [0, 1]: trains PSNR-oriented SR faster than MSE (EDSR, LapSRN,
  // BasicVSR use L1 / Charbonnier), since small errors keep a gradient that MSE's shrinks.
  double charbonnier = 0;
  double charbonnier_epsilon = 1e-3;
  double perceptual = 6e-3;   // feature_distance on the TorchScript extractor, else on D's features
  double adversarial = 1e-3;  // non-saturating GAN term (0 = no discriminator updates at all)
  double tv = 2e-8;           // total_variation of the SR frame (SRGAN's weight)
};
void to_json(nlohmann::json& j, const SrLossWeights& o);
void from_json(const nlohmann::json& j, SrLossWeights& o);

}  // namespace fregan::losses
