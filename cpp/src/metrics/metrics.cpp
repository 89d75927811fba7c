#include "fregan/metrics/metrics.h"

#include <opencv2/imgproc.hpp>
#include <torch/torch.h>

#include "fregan/error.h"
#include "fregan/io/image.h"

namespace fregan::metrics {
namespace {

torch::Tensor as_batch(const torch::Tensor& t) { return t.dim() == 3 ? t.unsqueeze(0) : t; }

void check_pair(const torch::Tensor& a, const torch::Tensor& b, const char* what) {
  FREGAN_CHECK(a.sizes() == b.sizes(), what, ": images differ in size: ", a.sizes(), " vs ", b.sizes());
  FREGAN_CHECK(a.dim() == 3 || a.dim() == 4, what, ": expected [C, H, W] or [B, C, H, W], got ", a.sizes());
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

namespace {

// Per-image means [B] of the SSIM map and of its contrast-structure factor, valid region only.
std::pair<torch::Tensor, torch::Tensor> ssim_and_cs(const torch::Tensor& x, const torch::Tensor& y, double data_range) {
  constexpr int64_t kWin = 11;
  FREGAN_CHECK(x.size(2) >= kWin && x.size(3) >= kWin, "ssim needs images of at least 11x11, got ", x.size(2), "x",
               x.size(3));
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
  const auto cs_map = (2 * sxy + c2) / (sxx + syy + c2);
  const auto map = ((2 * mx * my + c1) / (mx * mx + my * my + c1)) * cs_map;
  return {map.flatten(1).mean(1), cs_map.flatten(1).mean(1)};
}

}  // namespace

torch::Tensor ssim(const torch::Tensor& prediction, const torch::Tensor& target, double data_range) {
  check_pair(prediction, target, "ssim");
  const auto x = as_batch(prediction).to(torch::kFloat64), y = as_batch(target).to(torch::kFloat64);
  return ssim_and_cs(x, y, data_range).first;
}

torch::Tensor ms_ssim(const torch::Tensor& prediction, const torch::Tensor& target, double data_range) {
  check_pair(prediction, target, "ms_ssim");
  static const double kWeights[5] = {0.0448, 0.2856, 0.3001, 0.2363, 0.1333};
  // Computed in the input's dtype (float for training losses, which need autograd and speed).
  auto x = as_batch(prediction), y = as_batch(target);
  int64_t side = std::min(x.size(2), x.size(3));
  FREGAN_CHECK(side >= 11, "ms_ssim needs images of at least 11x11, got ", x.size(2), "x", x.size(3));
  int scales = 1;
  while (scales < 5 && side / 2 >= 11) {
    side /= 2;
    ++scales;
  }
  double weight_sum = 0;
  for (int i = 0; i < scales; ++i) weight_sum += kWeights[i];
  torch::Tensor result;
  for (int i = 0; i < scales; ++i) {
    auto [s, cs] = ssim_and_cs(x, y, data_range);
    const auto term = (i + 1 == scales ? s : cs).clamp_min(1e-6).pow(kWeights[i] / weight_sum);
    result = result.defined() ? result * term : term;
    if (i + 1 < scales) {
      x = torch::avg_pool2d(x, 2);
      y = torch::avg_pool2d(y, 2);
    }
  }
  return result;
}

torch::Tensor rgb_to_gray(const torch::Tensor& rgb) {
  FREGAN_CHECK(rgb.dim() == 4 && rgb.size(1) == 3, "rgb_to_gray: expected [B, 3, H, W], got ", rgb.sizes());
  return rgb.select(1, 0).unsqueeze(1) * 0.299 + rgb.select(1, 1).unsqueeze(1) * 0.587 +
         rgb.select(1, 2).unsqueeze(1) * 0.114;
}

torch::Tensor rgb_to_y601(const torch::Tensor& rgb) {
  FREGAN_CHECK(rgb.dim() == 4 && rgb.size(1) == 3, "rgb_to_y601: expected [B, 3, H, W], got ", rgb.sizes());
  return rgb.select(1, 0).unsqueeze(1) * 65.481 + rgb.select(1, 1).unsqueeze(1) * 128.553 +
         rgb.select(1, 2).unsqueeze(1) * 24.966 + 16.0;
}

namespace {

// Y (0..255, float64) of two 8-bit BGR images of one size, `border` pixels cropped from each side.
std::pair<torch::Tensor, torch::Tensor> cropped_y(const cv::Mat& a, const cv::Mat& b, int border, const char* what) {
  require(a.size() == b.size(), std::string(what) + ": images differ in size");
  require(border >= 0 && a.rows > 2 * border && a.cols > 2 * border,
          std::string(what) + ": images of " + std::to_string(a.cols) + "x" + std::to_string(a.rows) +
              " are too small to crop a border of " + std::to_string(border));
  auto y = [&](const cv::Mat& m) {
    const auto t = rgb_to_y601(io::image_to_tensor(m).unsqueeze(0).to(torch::kFloat64));
    return t.narrow(2, border, m.rows - 2 * border).narrow(3, border, m.cols - 2 * border);
  };
  return {y(a), y(b)};
}

}  // namespace

namespace {

// ssim() of two CV_64F images (any channel count) on the CPU with OpenCV's separable Gaussian blur:
// the same valid-region SSIM (within float rounding), where the tensor version's float64 depthwise
// convolutions took ~1 s per blur of a 704x576 frame and made scoring cost more than upscaling.
double ssim_on_cpu(const cv::Mat& x, const cv::Mat& y, double data_range) {
  constexpr int kWin = 11, kHalf = kWin / 2;
  const cv::Rect valid(kHalf, kHalf, x.cols - 2 * kHalf, x.rows - 2 * kHalf);
  auto blur = [&](const cv::Mat& m) {
    cv::Mat out;
    cv::GaussianBlur(m, out, cv::Size(kWin, kWin), 1.5, 1.5, cv::BORDER_REPLICATE);
    return cv::Mat(out, valid);
  };
  const double c1 = std::pow(0.01 * data_range, 2), c2 = std::pow(0.03 * data_range, 2);
  const cv::Mat mx = blur(x), my = blur(y);
  const cv::Mat mxx = mx.mul(mx), myy = my.mul(my), mxy = mx.mul(my);
  const cv::Mat sxx = blur(x.mul(x)) - mxx, syy = blur(y.mul(y)) - myy, sxy = blur(x.mul(y)) - mxy;
  // Scalar::all: a bare double added to a multi-channel Mat would go to the first channel only.
  const cv::Scalar k1 = cv::Scalar::all(c1), k2 = cv::Scalar::all(c2);
  cv::Mat numerator = (2 * mxy + k1).mul(2 * sxy + k2), denominator = (mxx + myy + k1).mul(sxx + syy + k2), map;
  cv::divide(numerator, denominator, map);
  const cv::Scalar means = cv::mean(map);
  double sum = 0;
  for (int c = 0; c < map.channels(); ++c) sum += means[c];
  return sum / map.channels();
}

// 8-bit BGR -> Y (BT.601, 16..235, float64) with `border` pixels cropped from each side.
cv::Mat y601_on_cpu(const cv::Mat& bgr, int border) {
  cv::Mat rgb01, y;
  bgr.convertTo(rgb01, CV_64FC3, 1.0 / 255.0);
  const cv::Matx13d weights(24.966, 128.553, 65.481);  // B, G, R
  cv::transform(rgb01, y, weights);
  y += cv::Scalar::all(16.0);
  return y(cv::Rect(border, border, bgr.cols - 2 * border, bgr.rows - 2 * border));
}

}  // namespace

double psnr_y(const cv::Mat& a, const cv::Mat& b, int border) {
  const auto [ya, yb] = cropped_y(a, b, border, "psnr_y");
  return psnr(ya, yb, 255.0).item<double>();
}

double ssim_y(const cv::Mat& a, const cv::Mat& b, int border) {
  if (a.type() != CV_8UC3 || b.type() != CV_8UC3) {  // 16-bit, alpha, grey: the tensor path converts them
    const auto [ya, yb] = cropped_y(a, b, border, "ssim_y");
    require(ya.size(2) >= 11 && ya.size(3) >= 11, "ssim_y: images must be at least 11x11 after cropping the border");
    return ssim(ya, yb, 255.0).item<double>();
  }
  require(a.size() == b.size(), "ssim_y: images differ in size");
  require(border >= 0 && a.rows - 2 * border >= 11 && a.cols - 2 * border >= 11,
          "ssim_y: images must be at least 11x11 after cropping the border");
  return ssim_on_cpu(y601_on_cpu(a, border), y601_on_cpu(b, border), 255.0);
}

double sharpness_y(const cv::Mat& image, const cv::Mat& truth, int border) {
  const auto [yi, yt] = cropped_y(image, truth, border, "sharpness_y");
  // Central differences in both directions: the mean gradient magnitude of the luma.
  auto mean_gradient = [](const torch::Tensor& y) {
    const auto dx = (y.narrow(3, 2, y.size(3) - 2) - y.narrow(3, 0, y.size(3) - 2)).narrow(2, 1, y.size(2) - 2);
    const auto dy = (y.narrow(2, 2, y.size(2) - 2) - y.narrow(2, 0, y.size(2) - 2)).narrow(3, 1, y.size(3) - 2);
    return (dx.square() + dy.square()).sqrt().mean().item<double>() / 2;
  };
  require(yi.size(2) >= 3 && yi.size(3) >= 3, "sharpness_y: images must be at least 3x3 after cropping the border");
  const double truth_gradient = mean_gradient(yt);
  require(truth_gradient > 0, "sharpness_y: the reference image is flat: its sharpness is 0, so no ratio exists");
  return mean_gradient(yi) / truth_gradient;
}

double psnr(const cv::Mat& a, const cv::Mat& b) {
  require(a.size() == b.size(), "psnr: images differ in size");
  return psnr(io::image_to_tensor(a), io::image_to_tensor(b)).item<double>();
}

double ssim(const cv::Mat& a, const cv::Mat& b) {
  require(a.size() == b.size(), "ssim: images differ in size");
  require(a.rows >= 11 && a.cols >= 11, "ssim: images must be at least 11x11");
  if (a.type() != CV_8UC3 || b.type() != CV_8UC3) {  // 16-bit, alpha, grey: the tensor path converts them
    return ssim(io::image_to_tensor(a), io::image_to_tensor(b)).item<double>();
  }
  cv::Mat x, y;
  a.convertTo(x, CV_64F, 1.0 / 255.0);
  b.convertTo(y, CV_64F, 1.0 / 255.0);
  return ssim_on_cpu(x, y, 1.0);
}

double ms_ssim(const cv::Mat& a, const cv::Mat& b) {
  require(a.size() == b.size(), "ms_ssim: images differ in size");
  require(a.rows >= 11 && a.cols >= 11, "ms_ssim: images must be at least 11x11");
  return ms_ssim(io::image_to_tensor(a).to(torch::kFloat64), io::image_to_tensor(b).to(torch::kFloat64)).item<double>();
}

}  // namespace fregan::metrics
