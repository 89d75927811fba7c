#pragma once
// The interfaces every frame-interpolation model implements, so the Trainer, the Interpolator and
// the video job work with any of them.
#include <cstdint>
#include <vector>

#include <torch/nn/module.h>
#include <torch/types.h>

#include "fregan/error.h"

namespace fregan::models {

// A pair of frames with the frames before and after it in their video, where they exist (undefined
// tensors otherwise: clip ends, scene cuts, a lone pair).  Four-frame models read the motion's
// acceleration from the neighbours; the others use f0 and f1 only.
struct FrameWindow {
  torch::Tensor before, f0, f1, after;
};

// Generator: (f0, f2), each [B, 3, H, W] float RGB in [0, 1], -> the middle frame [B, 3, H, W]
// (not clamped: losses see the raw output; the Interpolator clamps).
class InterpolationNetImpl : public torch::nn::Module {
 public:
  virtual torch::Tensor forward(const torch::Tensor& f0, const torch::Tensor& f2) = 0;
  // H and W given to forward() must be multiples of this; the Interpolator pads and crops back.
  virtual int64_t size_multiple() const = 0;
  // Outputs of earlier stages of the last forward() (e.g. SIN-GAN's frame before its refinement
  // network), each [B, 3, H, W]; the Trainer supervises them with the same reconstruction losses
  // (weight GeneratorLossWeights::intermediate).  Empty for one-stage networks.
  virtual std::vector<torch::Tensor> intermediate_outputs() const { return {}; }
  // Models that take the timestep as an input (the flow-guided ones) return true and implement
  // forward_at() for any t in (0, 1); the others predict only the middle frame, and the
  // Interpolator reaches dyadic t (0.25, 0.375, ...) by bisection.
  virtual bool supports_timestep() const { return false; }
  // True when inference keeps no state in the module between calls (SIN-GAN keeps its
  // intermediate output), so one model in eval mode may serve two threads at once: the video job
  // then interpolates two pairs concurrently.
  virtual bool stateless_inference() const { return false; }
  virtual torch::Tensor forward_at(const torch::Tensor& f0, const torch::Tensor& f2, double t) {
    FREGAN_CHECK(t == 0.5, "this model predicts only the middle frame (t = 0.5), not t = ", t);
    return forward(f0, f2);
  }
  // Frames at several times between the same two inputs, in the order of `times`.  Models whose
  // work splits into a part shared by every t (fregan-flow's optical flow) compute it once.
  virtual std::vector<torch::Tensor> forward_times(const torch::Tensor& f0, const torch::Tensor& f2,
                                                   const std::vector<double>& times) {
    std::vector<torch::Tensor> out;
    for (double t : times) out.push_back(forward_at(f0, f2, t));
    return out;
  }
  // The same with the pair's neighbours; models that do not use them (uses_neighbours() false)
  // ignore them.
  virtual std::vector<torch::Tensor> forward_times(const FrameWindow& window, const std::vector<double>& times) {
    return forward_times(window.f0, window.f1, times);
  }
  virtual bool uses_neighbours() const { return false; }
  // True when a freshly built model is a classical method (fregan-flow's zero head: plain flow
  // warping): validation then scores that beside the trained model, the bar a learned part must clear.
  virtual bool untrained_is_classical() const { return false; }
  // True when forward_times() also takes RGBA frames [B, 4, H, W] and returns RGBA: the alpha
  // moved with the colour's motion (fregan-flow warps it with the colour's flows).  For the other
  // models the Interpolator blends the alpha at t.
  virtual bool warps_alpha() const { return false; }
  // Whether the model run on overlapping tiles of a frame gives what it gives on the whole frame.
  // Models that find the motion by optical flow over the whole frame do not (a tile sees only its
  // part of the motion), and gain no memory from tiles (their flow and net run at bounded sizes).
  virtual bool tiles_well() const { return true; }
  // Peak memory of one inference per pixel of the frame, in bytes, as measured on the CPU with the
  // `fregan interpolate` image pair path (benchmarks/README.md, "Memory per pixel"): how the
  // Interpolator checks a job against the machine before it starts.
  virtual double inference_bytes_per_pixel() const = 0;
};

// Discriminator: logits [B] that `middle` is a real frame.  Conditional models look at f0/f2 too;
// unconditional ones ignore them.
class FrameDiscriminatorImpl : public torch::nn::Module {
 public:
  virtual torch::Tensor forward(const torch::Tensor& f0, const torch::Tensor& middle, const torch::Tensor& f2) = 0;
};

}  // namespace fregan::models
