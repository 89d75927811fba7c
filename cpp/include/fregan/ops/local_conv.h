#pragma once
// Per-pixel ("local") convolutions, the core op of the kernel-prediction interpolators (AdaConv,
// SepConv): every output pixel has its own K x K kernel applied to the K x K input patch whose
// top-left corner is at the same position in the padded input.
//
//   local_conv2d:          out[b,c,y,x] = sum_{i,j} k[b, i*K+j, y, x] * in[b, c, y+i, x+j]
//   local_separable_conv:  out[b,c,y,x] = sum_{i,j} v[b,i,y,x] * h[b,j,y,x] * in[b, c, y+i, x+j]
//
// `input` is already padded: [B, C, H+K-1, W+K-1] for an output of [B, C, H, W] (pad by K/2 on
// each side, K odd, to centre the kernels).  Both ops have forward and backward (gradients to the
// input and to the kernels) as autograd functions; neither materialises the K*K patches of the
// whole frame, so memory stays O(input + kernels + output).
#include <torch/types.h>

namespace fregan::ops {

// How the op is computed.  The results agree to rounding; the choice only affects speed.
enum class LocalConvBackend {
  kAuto,    // kLoop on CPU, kSlices elsewhere (CUDA)
  kLoop,    // hand-written loop over output rows with at::parallel_for (CPU only)
  kSlices,  // K*K (2D) or K*K shifted-slice multiply-adds in LibTorch ops: any device; the CUDA path
};

// Shapes as above; float or double; all on one device.  Throws InvalidArgument naming the
// mismatch for bad shapes, dtypes or devices (and for kLoop on a non-CPU tensor).
torch::Tensor local_separable_conv(const torch::Tensor& input, const torch::Tensor& vertical,
                                   const torch::Tensor& horizontal, LocalConvBackend backend = LocalConvBackend::kAuto);
torch::Tensor local_conv2d(const torch::Tensor& input, const torch::Tensor& kernels,
                           LocalConvBackend backend = LocalConvBackend::kAuto);

// The naive formulations: unfold every K x K patch of the frame ([B, C*K*K, H*W] in memory), multiply
// by the kernels and sum; gradients by LibTorch's autograd.  References for the tests and the
// benchmarks (their memory grows with K*K*H*W); not for production use.
torch::Tensor local_separable_conv_unfold(const torch::Tensor& input, const torch::Tensor& vertical,
                                          const torch::Tensor& horizontal);
torch::Tensor local_conv2d_unfold(const torch::Tensor& input, const torch::Tensor& kernels);

}  // namespace fregan::ops
