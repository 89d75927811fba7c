#pragma once
// The seed models on flow-aligned frames.  The seeds (FREGAN, SIN-GAN, SepConv, AdaConv) synthesise
// the middle frame from the two input frames, and on a CPU budget they stay at the level of
// averaging them.  In the flow-aligned form the seed network gets the two frames already warped to
// time t by the (four-frame, where the neighbours are known) optical flows instead: every seed
// starts as the average of its inputs, so the aligned model starts as plain flow warping and only
// has to learn what warping misses (SepConv then needs small kernels).  The seed's own form stays
// selectable under its plain name (for GPU training).
//
// Unlike the sketch, the seed network sees the warped frames only, not the originals too:
// that would change every seed's first layer; the warped frames carry the content, and occlusion
// shows in them as ghosting the network can learn to remove.
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/nn/pimpl.h>

#include "fregan/flow/optical_flow.h"
#include "fregan/models/interpolation_net.h"

namespace fregan::models {

struct FlowAlignedOptions {
  // The seed network's generator options (its registry defaults where keys are missing).
  nlohmann::json seed_options = nlohmann::json::object();
  flow::FlowOptions flow{"fine", 960};
  flow::AccelerationOptions acceleration;
  std::string sampling = "bicubic";  // how the frames are warped to t: "bicubic" or "bilinear"
};
void to_json(nlohmann::json& j, const FlowAlignedOptions& o);
void from_json(const nlohmann::json& j, FlowAlignedOptions& o);

class FlowAlignedNetImpl : public InterpolationNetImpl {
 public:
  // `seed`: the seed generator, built with options.seed_options.
  FlowAlignedNetImpl(const FlowAlignedOptions& options, std::shared_ptr<InterpolationNetImpl> seed);
  torch::Tensor forward(const torch::Tensor& f0, const torch::Tensor& f2) override { return forward_at(f0, f2, 0.5); }
  torch::Tensor forward_at(const torch::Tensor& f0, const torch::Tensor& f2, double t) override;
  std::vector<torch::Tensor> forward_times(const torch::Tensor& f0, const torch::Tensor& f2,
                                           const std::vector<double>& times) override;
  // The flows are computed once for every t; the seed runs once per t on the frames warped there.
  std::vector<torch::Tensor> forward_times(const FrameWindow& window, const std::vector<double>& times) override;
  int64_t size_multiple() const override { return seed_->size_multiple(); }
  bool tiles_well() const override { return false; }
  // The seed on the warped frames, and the flows and warps beside it (fregan-flow's figure).
  double inference_bytes_per_pixel() const override { return seed_->inference_bytes_per_pixel() + 60; }
  std::vector<torch::Tensor> intermediate_outputs() const override { return seed_->intermediate_outputs(); }
  // Any t: the frames are warped to t and the seed refines them (its blend is their average).
  bool supports_timestep() const override { return true; }
  bool stateless_inference() const override { return seed_->stateless_inference(); }
  bool uses_neighbours() const override { return options_.acceleration.damping > 0; }
  bool untrained_is_classical() const override { return true; }
  const FlowAlignedOptions& options() const { return options_; }
  InterpolationNetImpl& seed() { return *seed_; }

 private:
  FlowAlignedOptions options_;
  flow::Sampling sampling_;
  std::shared_ptr<InterpolationNetImpl> seed_;
};
TORCH_MODULE(FlowAlignedNet);

}  // namespace fregan::models
