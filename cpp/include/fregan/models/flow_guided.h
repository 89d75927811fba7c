#pragma once
// fregan-flow: flow-guided interpolation with a small learned refinement, the fast default.
//
// The seed models synthesise the middle frame from scratch with a full-resolution network: blurry
// on large motion and ~20 s per 1080p frame on a 2-core CPU.  Here the motion comes from dense
// optical flow (OpenCV DIS, both directions, at reduced resolution for big frames); both frames
// are warped to time t, and a small U-Net, run at reduced resolution, sees the warped frames,
// the inputs, the flows to t and a forward-backward occlusion cue, and predicts a blending mask
// and a residual correction (and, with refine_flow, corrections of the flows to t).  Its head
// starts at zero, so an untrained net is exactly flow warping with a (1 - t) : t blend; training
// only has to improve on that.
#include <memory>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

#include "fregan/flow/optical_flow.h"
#include "fregan/models/interpolation_net.h"

namespace fregan::models {

struct FlowGuidedOptions {
  flow::FlowOptions flow;
  // The refinement net runs on at most this many pixels (the frame is area-downscaled to fit, the
  // mask and residual bilinearly upscaled): 65536 = 256x256, so 1080p runs at about 1/5.6 per side.
  int64_t net_max_pixels = 65536;
  int base_channels = 16;  // channels at the net's full resolution, doubled per level
  int levels = 3;          // resolutions in the U-Net (stride-2 convs down, bilinear up)
  double leaky_slope = 0.1;
  // Flows enter the net in units of this many (net-resolution) pixels.
  double flow_unit = 16.0;
  // The net also corrects the two flows to time t (the linear-motion approximation is wrong at
  // motion boundaries), and the frames are warped again with the corrected flows.  Off in
  // checkpoints from before it existed (their head has 4 outputs, not 8).
  bool refine_flow = false;
  // How the output is sampled from the two frames: "bicubic" (sharper: +0.36 dB over "bilinear"
  // for plain warping on the held-out triplets) or "bilinear".  The net's own inputs are warped
  // bilinearly at its resolution either way.  Checkpoints from before the option render bicubic.
  std::string sampling = "bicubic";
  // With the frames before and after the pair (forward_times(FrameWindow)), the flows to t follow
  // the four-frame, acceleration-aware motion model (flow::acceleration); damping 0 turns it off.
  // Checkpoints from before the option use it with these defaults.
  flow::AccelerationOptions acceleration;
  // The net also sees how the four-frame flows to t differ from the linear ones (4 channels, zero
  // where a side has no neighbour): where the acceleration term acts, and so where a neighbour's
  // flow may be wrong.  Off in checkpoints from before it existed (19 input channels, not 23).
  bool motion_inputs = false;
  // Initialise the convolutions for their leaky ReLUs (Kaiming, fan-in) instead of LibTorch's
  // default, which shrinks activations at every layer; the head starts at zero either way.  Only a
  // fresh net's start: loaded weights replace it.
  bool kaiming_init = false;
  // Still things: burned-in captions, logos, scoreboards that stay while the picture under them
  // moves.  DIS gives them the moving background's flow, and warping by it makes them shimmer.  A
  // region where the two frames agree (luma within still_tolerance at DIS resolution) whose flow
  // mostly misses it (a warp by it is off by still_margin more than no motion) is such a thing: its
  // pixels whose three channels agree within still_tolerance are given the frames' (1 - t) : t
  // blend, exactly them where they are equal.  A still background mis-moved only in a moving
  // object's halo is not one, so what passes over it stays.  0 turns it off.  Checkpoints from
  // before the option use it with these defaults.
  double still_tolerance = 3.0 / 255;
  double still_margin = 12.0 / 255;
};
void to_json(nlohmann::json& j, const FlowGuidedOptions& o);
void from_json(const nlohmann::json& j, FlowGuidedOptions& o);

class FlowGuidedNetImpl : public InterpolationNetImpl {
 public:
  explicit FlowGuidedNetImpl(const FlowGuidedOptions& options = {});
  torch::Tensor forward(const torch::Tensor& f0, const torch::Tensor& f2) override { return forward_at(f0, f2, 0.5); }
  torch::Tensor forward_at(const torch::Tensor& f0, const torch::Tensor& f2, double t) override;
  std::vector<torch::Tensor> forward_times(const torch::Tensor& f0, const torch::Tensor& f2,
                                           const std::vector<double>& times) override;
  // The four-frame flows where window.before / window.after exist (either may be missing: that
  // side's motion is then linear).  The flows between two frames are kept for the next calls (a
  // few pairs, found again by the frames' content), so in a video each pair's flows are computed
  // once, whether as a pair or as a neighbour.
  std::vector<torch::Tensor> forward_times(const FrameWindow& window, const std::vector<double>& times) override;
  bool uses_neighbours() const override { return options_.acceleration.damping > 0; }
  bool untrained_is_classical() const override { return true; }
  bool supports_timestep() const override { return true; }
  bool stateless_inference() const override { return true; }
  int64_t size_multiple() const override { return 1; }  // any size: the net resizes internally
  bool tiles_well() const override { return false; }
  bool warps_alpha() const override { return true; }
  double inference_bytes_per_pixel() const override { return 60; }
  const FlowGuidedOptions& options() const { return options_; }

  static constexpr int kInputChannels = 19;  // warped x2, inputs x2 (12), flows to t (4), occlusion (2), t (1)
  static constexpr int kMotionChannels = 4;  // with motion_inputs: four-frame minus linear flows to t

 private:
  // What a frame brings to every pair it is in: its luma at DIS resolution and the frame at the
  // net's.  In a video each frame is in two pairs; FrameMemo keeps the last few so it is prepared
  // once (at 1080p ~10 ms of a pair's ~250: the luma and the area downscale).
  struct PreparedFrame {
    torch::Tensor luma, at_net;
    size_t luma_hash = 0;  // of the luma's bytes: finds the flows of a frame met again (FlowMemo)
  };
  class FrameMemo;
  class FlowMemo;
  PreparedFrame prepare(const torch::Tensor& frame, int64_t net_height, int64_t net_width);
  // The flows a -> b and b -> a at DIS resolution on the CPU, from the memo when known.
  std::pair<torch::Tensor, torch::Tensor> pair_flows(const PreparedFrame& a, const PreparedFrame& b);
  // Frame t from the two frames (and their alpha planes [B, 1, H, W], undefined without), the same at the net's
  // resolution, their flows at DIS resolution, the accelerations of their pixels there (undefined: linear motion on
  // that side) and the still things there (undefined: none).
  torch::Tensor synthesize(const torch::Tensor& f0, const torch::Tensor& f2, const torch::Tensor& alpha0,
                           const torch::Tensor& alpha2, const torch::Tensor& f0n, const torch::Tensor& f2n,
                           const torch::Tensor& flow02, const torch::Tensor& flow20, const torch::Tensor& acceleration0,
                           const torch::Tensor& acceleration2, const torch::Tensor& things, double t);
  std::pair<int64_t, int64_t> net_size(int64_t height, int64_t width) const;
  // The net's head output at its resolution from the frames, flows and flows to t there.
  torch::Tensor refinement(const torch::Tensor& f0n, const torch::Tensor& f2n, const torch::Tensor& f02n,
                           const torch::Tensor& f20n, const torch::Tensor& ft0n, const torch::Tensor& ft2n, bool linear,
                           double t);
  bool head_is_zero() const;

  FlowGuidedOptions options_;
  flow::Sampling sampling_ = flow::Sampling::Bicubic;
  torch::nn::ModuleList encoder_{nullptr};
  torch::nn::ModuleList decoder_{nullptr};
  torch::nn::Conv2d head_{nullptr};
  std::shared_ptr<FrameMemo> memo_;
  std::shared_ptr<FlowMemo> flow_memo_;
};
TORCH_MODULE(FlowGuidedNet);

}  // namespace fregan::models
