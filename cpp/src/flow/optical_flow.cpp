#include "fregan/flow/optical_flow.h"

#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>
#include <opencv2/video/tracking.hpp>
#include <torch/torch.h>

#include "fregan/error.h"
#include "fregan/models/options_json.h"

namespace fregan::flow {

FREGAN_DEFINE_OPTIONS_JSON(FlowOptions, "flow", preset, max_side)

namespace {

cv::Ptr<cv::DISOpticalFlow> make_dis(const std::string& name) {
  if (name == "ultrafast") return cv::DISOpticalFlow::create(cv::DISOpticalFlow::PRESET_ULTRAFAST);
  if (name == "fast") return cv::DISOpticalFlow::create(cv::DISOpticalFlow::PRESET_FAST);
  if (name == "medium") return cv::DISOpticalFlow::create(cv::DISOpticalFlow::PRESET_MEDIUM);
  if (name == "fine") {
    // MEDIUM's search carried down to full resolution (its finest scale is 1, half resolution) with
    // 8x8 patches, and no variational refinement, which costs most and gains least there.  On the
    // 60 held-out triplets: warping PSNR 34.30 dB vs 33.83 for MEDIUM, for ~35% more time per
    // 1080p frame (benchmarks/README.md).
    auto dis = cv::DISOpticalFlow::create(cv::DISOpticalFlow::PRESET_MEDIUM);
    dis->setFinestScale(0);
    dis->setPatchSize(8);
    dis->setPatchStride(4);
    dis->setGradientDescentIterations(12);
    dis->setVariationalRefinementIterations(0);
    return dis;
  }
  throw InvalidArgument("flow preset must be 'ultrafast', 'fast', 'medium' or 'fine', got '" + name + "'");
}

// [3, H, W] float RGB on the CPU -> 8-bit luma at `size`.
cv::Mat luma8(const torch::Tensor& rgb, const cv::Size& size) {
  const auto gray = (rgb[0] * 0.299 + rgb[1] * 0.587 + rgb[2] * 0.114).mul(255.0).round().clamp(0, 255)
                        .to(torch::kUInt8).contiguous();
  cv::Mat full(static_cast<int>(gray.size(0)), static_cast<int>(gray.size(1)), CV_8UC1, gray.data_ptr<uint8_t>());
  cv::Mat out;
  if (size == full.size()) out = full.clone();
  else cv::resize(full, out, size, 0, 0, cv::INTER_AREA);
  return out;
}

// cv flow (h, w, 2) at reduced size -> tensor [2, H, W] in full-resolution pixels.
torch::Tensor to_full_resolution(const cv::Mat& flow, int64_t height, int64_t width) {
  auto t = torch::from_blob(flow.data, {flow.rows, flow.cols, 2}, torch::kFloat32).permute({2, 0, 1}).clone();
  if (flow.rows == height && flow.cols == width) return t;
  namespace F = torch::nn::functional;
  t = F::interpolate(t.unsqueeze(0), F::InterpolateFuncOptions()
                                         .size(std::vector<int64_t>{height, width})
                                         .mode(torch::kBilinear)
                                         .align_corners(false))
          .squeeze(0);
  t[0].mul_(static_cast<double>(width) / flow.cols);
  t[1].mul_(static_cast<double>(height) / flow.rows);
  return t;
}

}  // namespace

std::pair<torch::Tensor, torch::Tensor> bidirectional_flow(const torch::Tensor& f0, const torch::Tensor& f1,
                                                           const FlowOptions& o) {
  TORCH_CHECK(f0.dim() == 4 && f0.size(1) == 3 && f0.sizes() == f1.sizes(),
              "bidirectional_flow expects two [B, 3, H, W] batches of the same size, got ", f0.sizes(), " and ", f1.sizes());
  require(o.max_side >= 16, "flow max_side must be >= 16");
  auto dis = make_dis(o.preset);
  const int64_t b = f0.size(0), h = f0.size(2), w = f0.size(3);
  const double scale = std::min(1.0, static_cast<double>(o.max_side) / std::max(h, w));
  const cv::Size size(std::max(8, static_cast<int>(std::lround(w * scale))), std::max(8, static_cast<int>(std::lround(h * scale))));
  const auto a = f0.detach().to(torch::kCPU, torch::kFloat32), c = f1.detach().to(torch::kCPU, torch::kFloat32);
  std::vector<torch::Tensor> forward, backward;
  for (int64_t i = 0; i < b; ++i) {
    const cv::Mat g0 = luma8(a[i], size), g1 = luma8(c[i], size);
    cv::Mat flow01, flow10;
    dis->calc(g0, g1, flow01);
    dis->calc(g1, g0, flow10);
    forward.push_back(to_full_resolution(flow01, h, w));
    backward.push_back(to_full_resolution(flow10, h, w));
  }
  return {torch::stack(forward).to(f0.device()), torch::stack(backward).to(f0.device())};
}

namespace {

// The same warp with OpenCV's remap (SIMD, multi-threaded): on CPU, without autograd, it is an
// order of magnitude faster than grid_sample for full-resolution frames.  Its bilinear weights
// are quantised to 1/32 pixel, which no 8-bit output can show.
torch::Tensor remap_warp(const torch::Tensor& image, const torch::Tensor& flow) {
  const int64_t b = image.size(0), c = image.size(1), h = image.size(2), w = image.size(3);
  const auto xs = torch::arange(w, torch::kFloat32).view({1, w}).expand({h, w});
  const auto ys = torch::arange(h, torch::kFloat32).view({h, 1}).expand({h, w});
  const auto src = image.to(torch::kFloat32).permute({0, 2, 3, 1}).contiguous();
  const auto fl = flow.to(torch::kFloat32);
  auto out = torch::empty({b, h, w, c}, torch::kFloat32);
  for (int64_t i = 0; i < b; ++i) {
    const auto map_x = (xs + fl[i][0]).contiguous(), map_y = (ys + fl[i][1]).contiguous();
    const cv::Mat mx(static_cast<int>(h), static_cast<int>(w), CV_32FC1, map_x.data_ptr<float>());
    const cv::Mat my(static_cast<int>(h), static_cast<int>(w), CV_32FC1, map_y.data_ptr<float>());
    for (int64_t c0 = 0; c0 < c; c0 += 4) {
      // remap takes up to 4 channels at once.
      const int n = static_cast<int>(std::min<int64_t>(4, c - c0));
      const auto part = c == n ? src[i] : src[i].narrow(2, c0, n).contiguous();
      const cv::Mat in(static_cast<int>(h), static_cast<int>(w), CV_32FC(n), part.data_ptr<float>());
      cv::Mat warped;
      cv::remap(in, warped, mx, my, cv::INTER_LINEAR, cv::BORDER_REPLICATE);
      const auto t = torch::from_blob(warped.data, {h, w, n}, torch::kFloat32);
      out[i].narrow(2, c0, n).copy_(t);
    }
  }
  return out.permute({0, 3, 1, 2}).contiguous().to(image.dtype());
}

}  // namespace

torch::Tensor backward_warp(const torch::Tensor& image, const torch::Tensor& flow) {
  TORCH_CHECK(image.dim() == 4 && flow.dim() == 4 && flow.size(1) == 2 && image.size(0) == flow.size(0) &&
                  image.size(2) == flow.size(2) && image.size(3) == flow.size(3),
              "backward_warp: image ", image.sizes(), " and flow ", flow.sizes(), " do not match");
  const bool needs_grad = torch::GradMode::is_enabled() && (image.requires_grad() || flow.requires_grad());
  if (image.device().is_cpu() && flow.device().is_cpu() && !needs_grad && image.dtype() == torch::kFloat32) {
    return remap_warp(image, flow);
  }
  const int64_t h = image.size(2), w = image.size(3);
  const auto opts = flow.options();
  // grid_sample with align_corners=true maps -1/+1 to the centres of the first/last pixels.
  const auto xs = torch::linspace(-1.0, 1.0, w, opts).view({1, 1, w}).expand({1, h, w});
  const auto ys = torch::linspace(-1.0, 1.0, h, opts).view({1, h, 1}).expand({1, h, w});
  const double sx = w > 1 ? 2.0 / (w - 1) : 0.0, sy = h > 1 ? 2.0 / (h - 1) : 0.0;
  const auto gx = xs + flow.select(1, 0) * sx, gy = ys + flow.select(1, 1) * sy;
  const auto grid = torch::stack({gx, gy}, 3);
  namespace F = torch::nn::functional;
  return F::grid_sample(image, grid.to(image.dtype()),
                        F::GridSampleFuncOptions().mode(torch::kBilinear).padding_mode(torch::kBorder).align_corners(true));
}

std::pair<torch::Tensor, torch::Tensor> flows_from_t(const torch::Tensor& flow01, const torch::Tensor& flow10, double t) {
  TORCH_CHECK(t > 0 && t < 1, "flows_from_t: t must be in (0, 1), got ", t);
  const auto ft0 = flow01 * (-(1 - t) * t) + flow10 * (t * t);
  const auto ft1 = flow01 * ((1 - t) * (1 - t)) + flow10 * (-t * (1 - t));
  return {ft0, ft1};
}

torch::Tensor consistency_error(const torch::Tensor& flow01, const torch::Tensor& flow10) {
  return (flow01 + backward_warp(flow10, flow01)).norm(2, 1, /*keepdim=*/true);
}

torch::Tensor warp_interpolate(const torch::Tensor& f0, const torch::Tensor& f1, double t, const FlowOptions& options) {
  const auto [flow01, flow10] = bidirectional_flow(f0, f1, options);
  const auto [ft0, ft1] = flows_from_t(flow01, flow10, t);
  return backward_warp(f0, ft0) * (1 - t) + backward_warp(f1, ft1) * t;
}

}  // namespace fregan::flow
