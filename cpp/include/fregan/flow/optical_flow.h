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
std::pair<torch::Tensor, torch::Tensor> bidirectional_flow_from_luma(const torch::Tensor& luma0,
                                                                     const torch::Tensor& luma1,
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
torch::Tensor backward_warp(const torch::Tensor& image, const torch::Tensor& flow,
                            Sampling sampling = Sampling::Bilinear);

// Flows from time t to frames 0 and 1, from the flows between the frames, assuming motion
// linear in time (Jiang et al., Super SloMo, 2018):
//   F_t0 = -(1 - t) t F_01 + t^2 F_10,   F_t1 = (1 - t)^2 F_01 - t (1 - t) F_10.
std::pair<torch::Tensor, torch::Tensor> flows_from_t(const torch::Tensor& flow01, const torch::Tensor& flow10,
                                                     double t);

// Four-frame (acceleration-aware) motion.  With the frames before and after a pair (-1, 0, 1, 2)
// each pixel's acceleration is known from the flows to both neighbours, a0 = F_01 + F_0,-1 on frame
// 0's pixels and a1 = F_10 + F_12 on frame 1's, and the motion of frame 0's pixels to time t is
// t F_01 + a0 (t^2 - t) / 2 (Xu et al., quadratic video interpolation, 2019); from frame 1's side
// the same with 1 - t.  A neighbour's flow is wrong where it is occluded or deforms fast, so the
// acceleration is trusted per pixel by the neighbour flow's forward-backward consistency.
struct AccelerationOptions {
  // Scale of the acceleration term: 1 is the quadratic motion model, 0 linear motion (two frames).
  double damping = 1.0;
  // Per-pixel confidence sigma^2 / (sigma^2 + e^2), e the forward-backward error of the neighbour's
  // flow in pixels of the flow's resolution (|F_0,-1(p) + F_-1,0(p + F_0,-1(p))|); 0 = trust all.
  // Off by default: on the tuning clips it cost more where the neighbour's flow was right than it
  // saved where it was wrong (benchmarks/README.md, four-frame flows).
  double consistency_sigma = 0.0;
  // Per-pixel confidence from the two sides agreeing, when both neighbours exist: sigma^2 /
  // (sigma^2 + d^2), d = |a0(p) - a1(p + F_01(p))| in pixels (frame 1's acceleration where p lands;
  // likewise for a1).  Uniformly accelerating content agrees; jitter (a shaking camera), which the
  // quadratic model cannot follow, does not.  0 = off (the default: it removes the worst losses but
  // half the mean gain on the tuning clips, benchmarks/README.md).
  double agreement_sigma = 0.0;
  // How the motions of the two frames' pixels to t become the flows from t that warping reads:
  // "reversal" splats each side's motion to where its pixels land at t (QVI's flow reversal,
  // bilinear splatting), "slomo" reads the motion fields at the pixel of time t (Super SloMo's
  // approximation, exact only for uniform motion).
  std::string to_t = "reversal";
  // Reversal: where few pixels land (disocclusions), the splatted flow is blended with the
  // "slomo" one as if it had landed with this total weight (1 = one whole pixel).
  double reversal_fill = 0.2;
};
void to_json(nlohmann::json& j, const AccelerationOptions& o);
void from_json(const nlohmann::json& j, AccelerationOptions& o);

// The flows between a frame and its neighbour on the far side of the pair: for frame 0 those to and
// from the frame before (F_0,-1 and F_-1,0), for frame 1 those to and from the frame after (F_12,
// F_21).  Undefined tensors when there is no such frame (clip ends, scene cuts): that side's motion
// is then linear.
struct NeighbourFlows {
  torch::Tensor to_neighbour, from_neighbour;
  bool defined() const { return to_neighbour.defined() && from_neighbour.defined(); }
};

// The acceleration of a frame's pixels, [B, 2, H, W], from its flow to the other frame of the pair
// (F_01 for frame 0) and its neighbour flows, damped and weighted by its confidence; undefined
// when the neighbour is missing.
torch::Tensor acceleration(const torch::Tensor& flow_to_pair, const NeighbourFlows& neighbour,
                           const AccelerationOptions& options = {});

// Both frames' accelerations for the pair (flow01, flow10) with the neighbour flows of frame 0
// (before) and frame 1 (after), each as acceleration() gives it, then weighted by the two sides'
// agreement where both exist (options.agreement_sigma).
std::pair<torch::Tensor, torch::Tensor> accelerations(const torch::Tensor& flow01, const torch::Tensor& flow10,
                                                      const NeighbourFlows& before, const NeighbourFlows& after,
                                                      const AccelerationOptions& options = {});

// Flows from time t to frames 0 and 1 with the accelerations a0 (frame 0's pixels) and a1 (frame
// 1's); an undefined one counts as zero, and with both undefined this is flows_from_t above.  The
// motions of both sides to t are turned into flows from t the way Super SloMo turns linear motion
// (each field read at the pixel of time t, the nearer frame's weighing more):
//   F_t0 = -(1 - t) m_0t + t (F_10 - m_1t),  F_t1 = -t m_1t + (1 - t) (F_01 - m_0t),
// with m_0t = t F_01 + c a0, m_1t = (1 - t) F_10 + c a1, c = (t^2 - t) / 2; both flows gain the
// same term -c ((1 - t) a0 + t a1).
//
// With options.to_t "reversal" (and at least one acceleration defined), F_t0 is instead -m_0t
// splatted from each pixel p of frame 0 to p + m_0t(p) (and F_t1 likewise from frame 1), blended
// with the above where little lands (see reverse_motion).
std::pair<torch::Tensor, torch::Tensor> flows_from_t(const torch::Tensor& flow01, const torch::Tensor& flow10,
                                                     const torch::Tensor& acceleration0,
                                                     const torch::Tensor& acceleration1, double t,
                                                     const AccelerationOptions& options = {});

// Flow reversal: `motion` [B, 2, H, W] moves each pixel p of a frame to p + motion(p) at time t;
// the result is the flow from time t back to the frame, -motion splatted bilinearly to where the
// pixels land, (sum of w (-motion) + fill_weight fallback) / (sum of w + fill_weight), so where
// nothing lands it is `fallback` (a flow from t, same shape).  CPU arithmetic, on the input's device.
torch::Tensor reverse_motion(const torch::Tensor& motion, const torch::Tensor& fallback, double fill_weight);

// Forward-backward consistency error |F_01(p) + F_10(p + F_01(p))| in pixels [B, 1, H, W]: large
// where p is occluded in frame 1 or the flow is wrong.
torch::Tensor consistency_error(const torch::Tensor& flow01, const torch::Tensor& flow10);

// Flow warping alone, the baseline fregan-flow must beat: both frames warped to t and blended
// (1 - t) : t.
torch::Tensor warp_interpolate(const torch::Tensor& f0, const torch::Tensor& f1, double t,
                               const FlowOptions& options = {}, Sampling sampling = Sampling::Bilinear);
// Both frames warped to each of `times` with the four-frame flows (`before` precedes f0 and `after`
// follows f1 in their video; either may be undefined: that side's motion is linear), the flows
// computed once: (f0 at t, f1 at t) per time.  What the flow-aligned seed models start from.
std::vector<std::pair<torch::Tensor, torch::Tensor>> warp_to_times(const torch::Tensor& before, const torch::Tensor& f0,
                                                                   const torch::Tensor& f1, const torch::Tensor& after,
                                                                   const std::vector<double>& times,
                                                                   const FlowOptions& options,
                                                                   const AccelerationOptions& acceleration,
                                                                   Sampling sampling = Sampling::Bilinear);
// The same blended (1 - t) : t at one time: what an untrained fregan-flow is.
torch::Tensor warp_interpolate(const torch::Tensor& before, const torch::Tensor& f0, const torch::Tensor& f1,
                               const torch::Tensor& after, double t, const FlowOptions& options,
                               const AccelerationOptions& acceleration, Sampling sampling = Sampling::Bilinear);

}  // namespace fregan::flow
