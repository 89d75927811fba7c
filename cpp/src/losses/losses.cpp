#include "fregan/losses/losses.h"

#include <functional>

#include <filesystem>

#include <torch/script.h>
#include <torch/torch.h>

#include "fregan/error.h"

#include "fregan/metrics/metrics.h"
#include "fregan/options_json.h"

namespace fregan::losses {

FREGAN_DEFINE_OPTIONS_JSON(GeneratorLossWeights, "loss", smooth_l1, smooth_l1_beta, l1, ms_ssim, clipping, adversarial,
                           intermediate)
FREGAN_DEFINE_OPTIONS_JSON(SrLossWeights, "sr loss", mse, charbonnier, charbonnier_epsilon, perceptual, adversarial, tv)
FREGAN_DEFINE_OPTIONS_JSON(LabelSmoothing, "label smoothing", real_low, real_high, fake_low, fake_high)

namespace {
void check_same_shape(const torch::Tensor& a, const torch::Tensor& b, const char* what) {
  FREGAN_CHECK(a.sizes() == b.sizes(), what, ": prediction ", a.sizes(), " and target ", b.sizes(), " differ in shape");
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
  FREGAN_CHECK(prediction.sizes() == target.sizes(), "smooth_l1: prediction ", prediction.sizes(), " and target ",
               target.sizes(), " differ in shape");
  FREGAN_CHECK(beta > 0, "smooth_l1: beta must be > 0");
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
    FREGAN_CHECK(first >= 0 && first + logits.size(0) <= whole_batch, "discriminator_loss: samples [", first, ", ",
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

torch::Tensor hinge_discriminator_loss(const torch::Tensor& real_logits, const torch::Tensor& fake_logits) {
  return torch::relu(1.0 - real_logits).mean() + torch::relu(1.0 + fake_logits).mean();
}

torch::Tensor hinge_generator_loss(const torch::Tensor& fake_logits) { return -fake_logits.mean(); }

torch::Tensor r1_penalty(const torch::Tensor& real_logits, const torch::Tensor& real_inputs) {
  FREGAN_CHECK(real_inputs.requires_grad(), "r1_penalty: the real inputs must require grad");
  const auto grads = torch::autograd::grad({real_logits.sum()}, {real_inputs}, /*grad_outputs=*/{},
                                           /*retain_graph=*/true, /*create_graph=*/true)[0];
  return grads.pow(2).flatten(1).sum(1).mean();
}

torch::Tensor charbonnier(const torch::Tensor& prediction, const torch::Tensor& target, double epsilon) {
  check_same_shape(prediction, target, "charbonnier");
  require(epsilon > 0, "charbonnier: epsilon must be > 0, got " + std::to_string(epsilon));
  return ((prediction - target).square() + epsilon * epsilon).sqrt().mean();
}

torch::Tensor total_variation(const torch::Tensor& x) {
  FREGAN_CHECK(x.dim() == 4 && x.size(2) >= 2 && x.size(3) >= 2,
               "total_variation expects [B, C, H, W] with H, W >= 2, got ", x.sizes());
  const auto dy = x.slice(2, 1) - x.slice(2, 0, -1);
  const auto dx = x.slice(3, 1) - x.slice(3, 0, -1);
  return dy.pow(2).mean() + dx.pow(2).mean();
}

TorchScriptFeatures::TorchScriptFeatures(const std::string& path) : path_(path) {
  if (!std::filesystem::is_regular_file(path)) {
    throw FileError("perceptual feature extractor '" + path +
                    "' does not exist (expected a TorchScript file saved "
                    "with torch.jit.save)");
  }
  try {
    module_ = std::make_unique<torch::jit::Module>(torch::jit::load(path));
  } catch (const std::exception& e) {
    throw CheckpointError("perceptual feature extractor '" + path +
                          "' is not a loadable TorchScript module "
                          "(save one with torch.jit.save(torch.jit.script(model), path))");
  }
  module_->eval();
  for (auto p : module_->parameters()) p.set_requires_grad(false);
}

TorchScriptFeatures::~TorchScriptFeatures() = default;

void TorchScriptFeatures::to(const torch::Device& device) { module_->to(device); }

std::vector<torch::Tensor> TorchScriptFeatures::operator()(const torch::Tensor& images) {
  const c10::IValue out = module_->forward({images});
  std::vector<torch::Tensor> features;
  if (out.isTensor()) {
    features.push_back(out.toTensor());
  } else if (out.isTuple()) {
    for (const auto& v : out.toTupleRef().elements()) features.push_back(v.toTensor());
  } else if (out.isTensorList()) {
    for (const auto& t : out.toTensorVector()) features.push_back(t);
  } else if (out.isList()) {
    for (const auto& v : out.toListRef()) features.push_back(v.toTensor());
  } else {
    throw InvalidArgument("perceptual feature extractor '" + path_ + "' returned " + out.tagKind() +
                          ", not a tensor or a tuple/list of tensors");
  }
  require(!features.empty(), "perceptual feature extractor '" + path_ + "' returned no tensors");
  return features;
}

torch::Tensor feature_distance(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  FREGAN_CHECK(!a.empty() && a.size() == b.size(), "feature_distance: expected two equally long non-empty lists, got ",
               a.size(), " and ", b.size());
  auto total = torch::mse_loss(a[0], b[0]);
  for (size_t i = 1; i < a.size(); ++i) total = total + torch::mse_loss(a[i], b[i]);
  return total / static_cast<double>(a.size());
}

}  // namespace fregan::losses
