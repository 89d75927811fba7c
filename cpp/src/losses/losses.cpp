#include "fregan/losses/losses.h"

#include <torch/torch.h>

namespace fregan::losses {

torch::Tensor smooth_l1(const torch::Tensor& prediction, const torch::Tensor& target, double beta) {
  TORCH_CHECK(prediction.sizes() == target.sizes(), "smooth_l1: prediction ", prediction.sizes(), " and target ",
              target.sizes(), " differ in shape");
  TORCH_CHECK(beta > 0, "smooth_l1: beta must be > 0");
  const auto diff = (prediction - target).mul(2.0).abs();
  return torch::where(diff < beta, diff.pow(2).mul(0.5 / beta), diff - 0.5 * beta).mean();
}

torch::Tensor bce_with_logits(const torch::Tensor& logits, const torch::Tensor& targets) {
  // -(y log s(x) + (1-y) log(1-s(x))) = (1-y) x + softplus(-x), valid for any real y.
  return ((1.0 - targets) * logits + torch::softplus(-logits)).mean();
}

torch::Tensor discriminator_loss(const torch::Tensor& real_logits, const torch::Tensor& fake_logits,
                                 const LabelSmoothing& s) {
  const auto real_targets = torch::rand_like(real_logits) * (s.real_high - s.real_low) + s.real_low;
  const auto fake_targets = torch::rand_like(fake_logits) * (s.fake_high - s.fake_low) + s.fake_low;
  return (bce_with_logits(real_logits, real_targets) + bce_with_logits(fake_logits, fake_targets)) * 0.5;
}

torch::Tensor generator_adversarial_loss(const torch::Tensor& fake_logits) {
  return torch::softplus(-fake_logits).mean();
}

}  // namespace fregan::losses
