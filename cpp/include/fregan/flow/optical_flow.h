#pragma once
// Dense optical flow (OpenCV's DIS) between batches of frames, and the warping that flow-based
// interpolation builds on.  Flows are [B, 2, H, W] float tensors, channel 0 = x, channel 1 = y,
// in pixels of the full-resolution frames: a pixel p of frame A moves to p + flow_AB(p) in B.
#include <string>
#include <utility>

#include <nlohmann/json_fwd.hpp>
#include <torch/types.h>

namespace fregan::flow {

struct FlowOptions {
  // DIS preset: "ultrafast", "fast", "medium" (slower, more accurate on large motion) or "fine"
  // (medium's search down to full resolution without variational refinement: +0.5 dB of warping
  // PSNR on real footage over medium for ~35% more time; fregan's own choice, see make_dis()).
  std::string preset = "medium";
  // Frames whose longer side exceeds this are downscaled for the flow (and the flow scaled back):
  // the cost grows with the pixel count while large motion is found as well at reduced resolution.
  int max_side = 960;
};
void to_json(nlohmann::json& j, const FlowOptions& o);
void from_json(const nlohmann::json& j, FlowOptions& o);

// Flow 0 -> 1 and 1 -> 0 for [B, 3, H, W] RGB in [0, 1] (any device; DIS runs on the CPU over the
// luma, 8-bit).  Returns both on f0's device.
std::pair<torch::Tensor, torch::Tensor> bidirectional_flow(const torch::Tensor& f0, const torch::Tensor& f1,
                                                           const FlowOptions& options = {});

// The same two flows at the resolution DIS ran at (frames whose longer side exceeds max_side are
// downscaled first), in pixels of that resolution: what callers that resize the flow again anyway
// (fregan-flow's net, its renderer) start from, skipping a full-resolution upscale.
std::pair<torch::Tensor, torch::Tensor> bidirectional_flow_at_dis_resolution(const torch::Tensor& f0,
                                                                             const torch::Tensor& f1,
                                                                             const FlowOptions& options = {});

// The two steps of the above, for callers that meet each frame in two pairs (a video: frame i is
// the second frame of pair i - 1 and the first of pair i) and convert it once: the frames' 8-bit
// luma at the resolution DIS runs at ([B, h, w] uint8 on the CPU), then the flows between two such.
torch::Tensor dis_luma(const torch::Tensor& frames, const FlowOptions& options = {});
std::pair<torch::Tensor, torch::Tensor> bidirectional_flow_from_luma(const torch::Tensor& luma0, const torch::Tensor& luma1,
                                                                     const FlowOptions& options = {});

// A flow field [B, 2, h, w] resized to height x width with its vectors rescaled to the new pixel
// size: area averaging when both sides shrink, bilinear (align_corners = false) otherwise.
torch::Tensor resize_flow(const torch::Tensor& flow, int64_t height, int64_t width);

// How a warp samples between pixels.  Bicubic keeps detail that bilinear sampling blurs away (half
// a pixel off, bilinear averages two pixels): +0.36 dB of warping PSNR on the held-out triplets
// for ~2x the sampling time.
enum class Sampling { Bilinear, Bicubic };
Sampling sampling_from_name(const std::string& name);  // "bilinear" or "bicubic", else InvalidArgument

// Backward warping: out(p) = image(p + flow(p)), borders replicated (grid_sample's border mode,
// align_corners = true).  image [B, C, H, W], flow [B, 2, H, W].  Differentiable in image and flow.
torch::Tensor backward_warp(const torch::Tensor& image, const torch::Tensor& flow, Sampling sampling = Sampling::Bilinear);

// Flows from time t to frames 0 and 1, from the flows between the frames, assuming motion
// linear in time (Jiang et al., Super SloMo, 2018):
//   F_t0 = -(1 - t) t F_01 + t^2 F_10,   F_t1 = (1 - t)^2 F_01 - t (1 - t) F_10.
std::pair<torch::Tensor, torch::Tensor> flows_from_t(const torch::Tensor& flow01, const torch::Tensor& flow10, double t);

// Forward-backward consistency error |F_01(p) + F_10(p + F_01(p))| in pixels [B, 1, H, W]: large
// where p is occluded in frame 1 or the flow is wrong.
torch::Tensor consistency_error(const torch::Tensor& flow01, const torch::Tensor& flow10);

// Flow warping alone, the baseline fregan-flow must beat: both frames warped to t and blended
// (1 - t) : t.
torch::Tensor warp_interpolate(const torch::Tensor& f0, const torch::Tensor& f1, double t, const FlowOptions& options = {},
                               Sampling sampling = Sampling::Bilinear);

}  // namespace fregan::flow
