#include "fregan/models/flow_aligned.h"

#include <torch/torch.h>

#include "fregan/error.h"
#include "fregan/options_json.h"

namespace fregan::models {

FREGAN_DEFINE_OPTIONS_JSON(FlowAlignedOptions, "flow-aligned model", seed_options, flow, acceleration, sampling)

FlowAlignedNetImpl::FlowAlignedNetImpl(const FlowAlignedOptions& options, std::shared_ptr<InterpolationNetImpl> seed)
    : options_(options), sampling_(flow::sampling_from_name(options.sampling)), seed_(std::move(seed)) {
  require(seed_ != nullptr, "a flow-aligned model needs its seed network");
  require(options.acceleration.damping >= 0, "flow-aligned model: acceleration damping must be >= 0");
  register_module("seed", seed_);
}

torch::Tensor FlowAlignedNetImpl::forward_at(const torch::Tensor& f0, const torch::Tensor& f2, double t) {
  return forward_times(FrameWindow{{}, f0, f2, {}}, {t}).front();
}

std::vector<torch::Tensor> FlowAlignedNetImpl::forward_times(const torch::Tensor& f0, const torch::Tensor& f2,
                                                             const std::vector<double>& times) {
  return forward_times(FrameWindow{{}, f0, f2, {}}, times);
}

std::vector<torch::Tensor> FlowAlignedNetImpl::forward_times(const FrameWindow& window,
                                                             const std::vector<double>& times) {
  require(window.f0.dim() == 4 && window.f0.size(1) == 3 && window.f0.sizes() == window.f1.sizes(),
          "a flow-aligned model expects two [B, 3, H, W] frames of the same size");
  for (double t : times) require(t > 0 && t < 1, "t must be in (0, 1), got " + std::to_string(t));
  const bool four_frame = options_.acceleration.damping > 0;
  std::vector<std::pair<torch::Tensor, torch::Tensor>> warped;
  {
    // The flows are no function of the weights: no graph through them.
    torch::NoGradGuard no_grad;
    warped = flow::warp_to_times(four_frame ? window.before : torch::Tensor(), window.f0, window.f1,
                                 four_frame ? window.after : torch::Tensor(), times, options_.flow,
                                 options_.acceleration, sampling_);
  }
  std::vector<torch::Tensor> out;
  for (const auto& [w0, w1] : warped) out.push_back(seed_->forward(w0, w1));
  return out;
}

}  // namespace fregan::models
