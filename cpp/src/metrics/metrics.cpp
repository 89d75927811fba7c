#include "fregan/metrics/metrics.h"

#include <torch/torch.h>

#include "fregan/error.h"
#include "fregan/io/image.h"

namespace fregan::metrics {
namespace {

torch::Tensor as_batch(const torch::Tensor& t) { return t.dim() == 3 ? t.unsqueeze(0) : t; }

void check_pair(const torch::Tensor& a, const torch::Tensor& b, const char* what) {
  TORCH_CHECK(a.sizes() == b.sizes(), what, ": images differ in size: ", a.sizes(), " vs ", b.sizes());
  TORCH_CHECK(a.dim() == 3 || a.dim() == 4, what, ": expected [C, H, W] or [B, C, H, W], got ", a.sizes());
}

torch::Tensor gaussian_window(int64_t size, double sigma, const torch::TensorOptions& opts) {
  auto x = torch::arange(size, opts.dtype(torch::kFloat64)) - (size - 1) / 2.0;
  auto g = torch::exp(-(x * x) / (2 * sigma * sigma));
  g = g / g.sum();
  return g.to(opts.dtype());
}

}  // namespace

torch::Tensor psnr(const torch::Tensor& prediction, const torch::Tensor& target, double data_range) {
  check_pair(prediction, target, "psnr");
  const auto p = as_batch(prediction).to(torch::kFloat64), t = as_batch(target).to(torch::kFloat64);
  const auto mse = (p - t).pow(2).flatten(1).mean(1);
  return 10.0 * torch::log10((data_range * data_range) / mse);
}

torch::Tensor ssim(const torch::Tensor& prediction, const torch::Tensor& target, double data_range) {
  check_pair(prediction, target, "ssim");
  constexpr int64_t kWin = 11;
  const auto x = as_batch(prediction).to(torch::kFloat64), y = as_batch(target).to(torch::kFloat64);
  TORCH_CHECK(x.size(2) >= kWin && x.size(3) >= kWin, "ssim needs images of at least 11x11, got ", x.size(2), "x", x.size(3));
  const int64_t c = x.size(1);
  const auto g = gaussian_window(kWin, 1.5, x.options());
  // Separable Gaussian as two depthwise convolutions.
  const auto wv = g.view({1, 1, kWin, 1}).repeat({c, 1, 1, 1});
  const auto wh = g.view({1, 1, 1, kWin}).repeat({c, 1, 1, 1});
  auto blur = [&](const torch::Tensor& t) {
    const torch::Tensor no_bias;
    const std::vector<int64_t> one{1, 1}, zero{0, 0};
    return torch::conv2d(torch::conv2d(t, wv, no_bias, one, zero, one, c), wh, no_bias, one, zero, one, c);
  };
  const double c1 = std::pow(0.01 * data_range, 2), c2 = std::pow(0.03 * data_range, 2);
  const auto mx = blur(x), my = blur(y);
  const auto sxx = blur(x * x) - mx * mx, syy = blur(y * y) - my * my, sxy = blur(x * y) - mx * my;
  const auto map = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2));
  return map.flatten(1).mean(1);
}

double psnr(const cv::Mat& a, const cv::Mat& b) {
  require(a.size() == b.size(), "psnr: images differ in size");
  return psnr(io::image_to_tensor(a), io::image_to_tensor(b)).item<double>();
}

double ssim(const cv::Mat& a, const cv::Mat& b) {
  require(a.size() == b.size(), "ssim: images differ in size");
  return ssim(io::image_to_tensor(a), io::image_to_tensor(b)).item<double>();
}

}  // namespace fregan::metrics
