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

// The same on 8-bit BGR images (what a user saved), data range 255.
double psnr(const cv::Mat& a, const cv::Mat& b);
double ssim(const cv::Mat& a, const cv::Mat& b);

}  // namespace fregan::metrics
