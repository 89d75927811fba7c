#pragma once
// Losses shared by the GAN models.  Frames are float RGB in [0, 1].
#include <nlohmann/json_fwd.hpp>
#include <torch/types.h>

namespace fregan::losses {

// SmoothL1 (Huber) with threshold beta, measured on the [-1, 1] scale the generators work in
// (so a pixel error e on [0, 1] counts as 2e): 0.5 (2e)^2 / beta where |2e| < beta, else |2e| - beta/2.
// Mean over all elements.
torch::Tensor smooth_l1(const torch::Tensor& prediction, const torch::Tensor& target, double beta = 0.5);

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
// y_fake ~ U[fake_low, fake_high] drawn from torch's default generator.
torch::Tensor discriminator_loss(const torch::Tensor& real_logits, const torch::Tensor& fake_logits,
                                 const LabelSmoothing& smoothing = {});

// Non-saturating generator term: BCE(D(G), 1) = -log sigmoid(fake_logits), mean.
torch::Tensor generator_adversarial_loss(const torch::Tensor& fake_logits);

}  // namespace fregan::losses
