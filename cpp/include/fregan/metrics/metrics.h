#pragma once
// Image quality metrics.  Inputs [B, 3, H, W] (or [3, H, W]) float in [0, data_range].
#include <opencv2/core.hpp>
#include <torch/types.h>

namespace fregan::metrics {

// Peak signal-to-noise ratio per image [B], in dB (infinite for identical images).
torch::Tensor psnr(const torch::Tensor& prediction, const torch::Tensor& target, double data_range = 1.0);

// Structural similarity per image [B]: Gaussian window 11x11, sigma 1.5, K1 = 0.01, K2 = 0.03,
// computed per channel over the valid region (no padding) and averaged over channels and pixels.
// Matches skimage's structural_similarity(gaussian_weights=True, sigma=1.5,
// use_sample_covariance=False, data_range=...) ; needs H, W >= 11.
torch::Tensor ssim(const torch::Tensor& prediction, const torch::Tensor& target, double data_range = 1.0);

// Multi-scale SSIM per image [B] (Wang, Simoncelli & Bovik 2003): the same Gaussian SSIM, with
// the contrast-structure term at each of up to 5 scales (2x2 average pooling between them) and
// the full SSIM at the coarsest, combined with the standard weights
// (0.0448, 0.2856, 0.3001, 0.2363, 0.1333).  Images too small for 5 scales (the coarsest must be
// >= 11x11) use as many as fit, with the weights of those scales renormalised to sum to 1, so
// 11x11..21x21 inputs give plain SSIM.  Differentiable; negative terms are clamped to a small
// positive value before the fractional powers so the gradient stays finite.
torch::Tensor ms_ssim(const torch::Tensor& prediction, const torch::Tensor& target, double data_range = 1.0);

// Luma (ITU-R BT.601 weights) of RGB [B, 3, H, W] -> [B, 1, H, W].
torch::Tensor rgb_to_gray(const torch::Tensor& rgb);

// The luma super-resolution papers score on (Vid4, REDS: BasicVSR, RBPN, ...): BT.601 Y as
// MATLAB's rgb2ycbcr computes it, Y = 16 + 65.481 R + 128.553 G + 24.966 B for RGB in [0, 1]
// (16..235), on RGB [B, 3, H, W] in [0, 1] -> [B, 1, H, W] on the 0..255 scale.
torch::Tensor rgb_to_y601(const torch::Tensor& rgb);

// The same on 8-bit BGR images (what a user saved), data range 255.
double psnr(const cv::Mat& a, const cv::Mat& b);
double ssim(const cv::Mat& a, const cv::Mat& b);
double ms_ssim(const cv::Mat& a, const cv::Mat& b);
// PSNR / SSIM of the Y channel (rgb_to_y601, data range 255) with `border` pixels cropped from
// every side first, as the papers report x4 super-resolution (border 4).
double psnr_y(const cv::Mat& a, const cv::Mat& b, int border = 4);
double ssim_y(const cv::Mat& a, const cv::Mat& b, int border = 4);
// How sharp `image` is against `truth`: the mean gradient magnitude of its Y channel (as psnr_y,
// `border` cropped) over the truth's.  1 = as much fine detail as the truth; a blurry upscale
// (bicubic) is below 1, an over-sharpened or noisy one can exceed it.  How the adversarial
// SpectraFrame is told from the L1-trained one: PSNR rewards blur, this does not.
double sharpness_y(const cv::Mat& image, const cv::Mat& truth, int border = 4);

}  // namespace fregan::metrics
