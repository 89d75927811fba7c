#include "fregan/losses/losses.h"

#include <functional>

#include <torch/torch.h>

#include "fregan/metrics/metrics.h"
#include "fregan/models/options_json.h"

namespace fregan::losses {

FREGAN_DEFINE_OPTIONS_JSON(GeneratorLossWeights, "loss", smooth_l1, smooth_l1_beta, l1, ms_ssim, clipping, adversarial,
                           intermediate)
FREGAN_DEFINE_OPTIONS_JSON(LabelSmoothing, "label smoothing", real_low, real_high, fake_low, fake_high)

namespace {
void check_same_shape(const torch::Tensor& a, const torch::Tensor& b, const char* what) {
  TORCH_CHECK(a.sizes() == b.sizes(), what, ": prediction ", a.sizes(), " and target ", b.sizes(), " differ in shape");
}
}  // namespace

torch::Tensor l1(const torch::Tensor& prediction, const torch::Tensor& target) {
  check_same_shape(prediction, target, "l1");
  return (prediction - target).abs().mean();
}

torch::Tensor ms_ssim_loss(const torch::Tensor& prediction, const torch::Tensor& target) {
  check_same_shape(prediction, target, "ms_ssim_loss");
  const auto p = metrics::rgb_to_gray(prediction.clamp(0.0, 1.0));
  const auto t = metrics::rgb_to_gray(target);
  return 1.0 - metrics::ms_ssim(p, t, 1.0).mean();
}

torch::Tensor clipping_loss(const torch::Tensor& prediction) {
  return (prediction.clamp(0.0, 1.0) - prediction).pow(2).mean();
}

LossTerms reconstruction_loss(const torch::Tensor& prediction, const torch::Tensor& target,
                              const GeneratorLossWeights& w) {
  LossTerms out;
  out.total = torch::zeros({}, prediction.options());
  auto add = [&](const char* name, double weight, const std::function<torch::Tensor()>& term) {
    if (weight == 0) return;
    auto value = term();
    out.total = out.total + weight * value;
    out.terms.emplace_back(name, value);
  };
  add("smooth_l1", w.smooth_l1, [&] { return smooth_l1(prediction, target, w.smooth_l1_beta); });
  add("l1", w.l1, [&] { return l1(prediction, target); });
  add("ms_ssim", w.ms_ssim, [&] { return ms_ssim_loss(prediction, target); });
  add("clipping", w.clipping, [&] { return clipping_loss(prediction); });
  return out;
}

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
                                 const LabelSmoothing& s, int64_t first, int64_t whole_batch) {
  const auto uniform = [&](const torch::Tensor& logits) {
    if (whole_batch <= 0) return torch::rand_like(logits);
    TORCH_CHECK(first >= 0 && first + logits.size(0) <= whole_batch, "discriminator_loss: samples [", first, ", ",
                first + logits.size(0), ") are not inside a batch of ", whole_batch);
    auto shape = logits.sizes().vec();
    shape[0] = whole_batch;
    return torch::rand(shape, logits.options()).narrow(0, first, logits.size(0));
  };
  const auto real_targets = uniform(real_logits) * (s.real_high - s.real_low) + s.real_low;
  const auto fake_targets = uniform(fake_logits) * (s.fake_high - s.fake_low) + s.fake_low;
  return (bce_with_logits(real_logits, real_targets) + bce_with_logits(fake_logits, fake_targets)) * 0.5;
}

torch::Tensor generator_adversarial_loss(const torch::Tensor& fake_logits) {
  return torch::softplus(-fake_logits).mean();
}

}  // namespace fregan::losses
