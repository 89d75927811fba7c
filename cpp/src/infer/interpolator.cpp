#include "fregan/infer/interpolator.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>

#include <torch/torch.h>

#include "fregan/device.h"
#include "fregan/data/scene.h"
#include "fregan/error.h"
#include "fregan/io/image.h"
#include "fregan/log.h"
#include "fregan/models/checkpoint.h"
#include "fregan/zoo/zoo.h"

namespace fs = std::filesystem;

namespace fregan::infer {
namespace {

std::string memory_size(int64_t bytes) {
  char buf[32];
  if (bytes >= 1'000'000'000) std::snprintf(buf, sizeof buf, "%.1f GB", static_cast<double>(bytes) / 1e9);
  else std::snprintf(buf, sizeof buf, "%.0f MB", static_cast<double>(bytes) / 1e6);
  return buf;
}

// A frame's alpha at `depth` (scaled from its own); opaque where the frame has none.
cv::Mat alpha_plane(const cv::Mat& frame, int depth) {
  cv::Mat plane(frame.size(), CV_MAKETYPE(depth, 1), cv::Scalar(depth == CV_16U ? 65535 : 255));
  if (frame.channels() == 4) {
    const double scale = frame.depth() == depth ? 1.0 : (depth == CV_16U ? 257.0 : 1.0 / 257.0);
    io::alpha_of(frame).convertTo(plane, depth, scale);
  }
  return plane;
}

}  // namespace

int64_t Interpolator::estimated_bytes(int64_t height, int64_t width) const {
  return static_cast<int64_t>(net_->inference_bytes_per_pixel() * static_cast<double>(height) *
                              static_cast<double>(width));
}

void Interpolator::fit_to_memory(int64_t height, int64_t width) {
  const int64_t available = available_memory_bytes();
  const int64_t tile_side = tiling_.tile > 0 ? std::min({tiling_.tile, height, width}) : 0;
  const int64_t needed = tile_side > 0 ? estimated_bytes(tile_side, tile_side) + kFrameBytesPerPixel * height * width
                                       : estimated_bytes(height, width);
  if (needed <= available) return;
  const std::string size = std::to_string(width) + "x" + std::to_string(height);
  const int64_t frames = kFrameBytesPerPixel * height * width;  // what tiles cannot save
  // The largest tile that fits beside the frames themselves, with room to spare (the estimate is a
  // measurement at two sizes, not a bound).
  const double room = 0.7 * static_cast<double>(available - frames);
  const int64_t side =
      room > 0 ? static_cast<int64_t>(std::sqrt(room / net_->inference_bytes_per_pixel())) / 64 * 64 : 0;
  if (!net_->tiles_well() || side < 2 * TilingOptions{}.overlap) {
    throw InvalidArgument("interpolating " + size + " frames with " + model_name_ + " needs about " +
                          memory_size(estimated_bytes(height, width)) + " of memory and this machine has " +
                          memory_size(available) +
                          " available: downscale the input first (e.g. ffmpeg -vf scale=iw/2:-2)" +
                          (net_->tiles_well() ? std::string() : " or use a machine with more memory"));
  }
  // Only models that tile well get here, and those are never called from two threads at once
  // (stateless_inference() is fregan-flow's), so changing the tiling is safe.
  TilingOptions tiling = tiling_;
  tiling.tile = side;
  log::warn(size + " frames need about " + memory_size(estimated_bytes(height, width)) + " with " + model_name_ +
            " and " + memory_size(available) + " are available: interpolating in " + std::to_string(side) +
            " px tiles (--tile " + std::to_string(side) + ")");
  set_tiling(tiling);
}

namespace {

// The best interpolation model fregan ships (see python/fregan/models/MODELS.md).
constexpr const char* kDefaultWeightsFile = "fregan-flow.pt";

}  // namespace

std::string default_weights_path() { return zoo::default_weights(kDefaultWeightsFile, "FREGAN_WEIGHTS"); }

Interpolator::Interpolator(const std::string& weights, const std::string& device) : device_(select_device(device)) {
  set_num_threads(0);
  const std::string path = weights.empty() ? default_weights_path() : zoo::resolve_weights(weights);
  auto model = models::load_model(path, device_);
  net_ = model.generator;
  model_name_ = model.name;
  net_->eval();
}

Interpolator::Interpolator(std::shared_ptr<models::InterpolationNetImpl> net, torch::Device device,
                           std::string model_name)
    : net_(std::move(net)), device_(device), model_name_(std::move(model_name)) {
  require(net_ != nullptr, "Interpolator needs a network");
}

void Interpolator::set_tiling(const TilingOptions& tiling) {
  require(tiling.tile >= 0, "tiling: tile must be >= 0 (0 = off), got " + std::to_string(tiling.tile));
  require(tiling.tile == 0 || net_->tiles_well(),
          "--tile does not work with " + model_name_ +
              ": its optical flow needs the whole frame (tiles would change the result and save no memory, "
              "since its flow and net already run at bounded sizes); leave --tile out");
  if (tiling.tile > 0) {
    require(tiling.overlap >= 0 && tiling.overlap < tiling.tile, "tiling: overlap must be in [0, tile), got overlap " +
                                                                     std::to_string(tiling.overlap) + " for tile " +
                                                                     std::to_string(tiling.tile));
  }
  tiling_ = tiling;
}

namespace {

// Tile origins along an axis of `length` for tiles of `tile` (both multiples of the size multiple)
// sharing at least `overlap`: a regular grid, the last tile pushed back to end at the border.
std::vector<int64_t> tile_origins(int64_t length, int64_t tile, int64_t overlap) {
  if (length <= tile) return {0};
  std::vector<int64_t> origins;
  for (int64_t p = 0; p + tile < length; p += tile - overlap) origins.push_back(p);
  origins.push_back(length - tile);
  return origins;
}

// Blend weights along one axis of a tile of `n` pixels: 0 within overlap/4 of a cut edge (where the
// network sees the tile border instead of the frame), a cosine ramp to 1 over the next overlap/2.
// Edges on the frame border are not cut and get full weight.
torch::Tensor edge_weights(int64_t n, bool cut_before, bool cut_after, int64_t overlap,
                           const torch::TensorOptions& opts) {
  auto w = torch::ones({n}, opts);
  const double margin = overlap / 4.0, ramp = std::max(overlap / 2.0, 1.0);
  const auto pos = torch::arange(n, opts).add(0.5);  // pixel centres
  auto ramp_of = [&](const torch::Tensor& d) {
    const auto u = ((d - margin) / ramp).clamp(0.0, 1.0);
    return 0.5 - 0.5 * torch::cos(u * M_PI);
  };
  if (cut_before) w = w * ramp_of(pos);
  if (cut_after) w = w * ramp_of(double(n) - pos);
  return w;
}

}  // namespace

torch::Tensor Interpolator::run_tiled(const torch::Tensor& f0, const torch::Tensor& f1, double t) {
  const int64_t m = net_->size_multiple();
  const int64_t h = f0.size(2), w = f0.size(3);
  const int64_t tile = std::max(m, tiling_.tile / m * m);
  const int64_t overlap = (tiling_.overlap + m - 1) / m * m;
  if (tiling_.tile <= 0 || (h <= tile && w <= tile))
    return t == 0.5 ? net_->forward(f0, f1) : net_->forward_at(f0, f1, t);
  require(overlap < tile, "tiling: overlap " + std::to_string(overlap) + " (rounded up to a multiple of " +
                              std::to_string(m) + ") must be smaller than the tile " + std::to_string(tile));
  using torch::indexing::Slice;
  const auto ys = tile_origins(h, tile, overlap), xs = tile_origins(w, tile, overlap);
  const int64_t th = std::min(tile, h), tw = std::min(tile, w);
  torch::Tensor sum, weight_sum = torch::zeros({1, 1, h, w}, f0.options());
  for (const int64_t y : ys) {
    const auto wy = edge_weights(th, y > 0, y + th < h, overlap, f0.options());
    for (const int64_t x : xs) {
      const auto wx = edge_weights(tw, x > 0, x + tw < w, overlap, f0.options());
      const auto region =
          std::vector<torch::indexing::TensorIndex>{Slice(), Slice(), Slice(y, y + th), Slice(x, x + tw)};
      const auto out = t == 0.5 ? net_->forward(f0.index(region), f1.index(region))
                                : net_->forward_at(f0.index(region), f1.index(region), t);
      if (!sum.defined()) sum = torch::zeros({f0.size(0), out.size(1), h, w}, out.options());
      const auto weights = (wy.unsqueeze(1) * wx.unsqueeze(0)).view({1, 1, th, tw});
      sum.index(region).add_(out * weights);
      weight_sum.index(region).add_(weights);
    }
  }
  return sum / weight_sum;
}

torch::Tensor Interpolator::midpoint(const torch::Tensor& f0, const torch::Tensor& f1) { return at(f0, f1, 0.5); }

torch::Tensor Interpolator::at(const torch::Tensor& f0, const torch::Tensor& f1, double t) {
  const int64_t m = net_->size_multiple();
  const int64_t h = f0.size(2), w = f0.size(3);
  const int64_t ph = (m - h % m) % m, pw = (m - w % m) % m;
  auto a = f0, b = f1;
  if (ph || pw) {
    namespace F = torch::nn::functional;
    const auto opts = F::PadFuncOptions({0, pw, 0, ph}).mode(torch::kReplicate);
    a = F::pad(a, opts);
    b = F::pad(b, opts);
  }
  auto out = run_tiled(a, b, t);
  return out
      .index({torch::indexing::Slice(), torch::indexing::Slice(), torch::indexing::Slice(0, h),
              torch::indexing::Slice(0, w)})
      .clamp(0.0, 1.0);
}

std::vector<torch::Tensor> Interpolator::at_times(const torch::Tensor& f0, const torch::Tensor& f1,
                                                  const std::vector<double>& times) {
  const int64_t m = net_->size_multiple();
  const int64_t h = f0.size(2), w = f0.size(3);
  const bool tiled = tiling_.tile > 0 && (h > tiling_.tile || w > tiling_.tile);
  if (tiled || m != 1) {
    std::vector<torch::Tensor> out;
    for (double t : times) out.push_back(at(f0, f1, t));
    return out;
  }
  auto out = net_->forward_times(f0, f1, times);
  for (auto& frame : out) frame = frame.clamp(0.0, 1.0);
  return out;
}

torch::Tensor Interpolator::interpolate(const torch::Tensor& f0, const torch::Tensor& f1, double t) {
  FREGAN_CHECK(f0.sizes() == f1.sizes(), "interpolate: the two frames differ in size: ", f0.sizes(), " vs ",
               f1.sizes());
  FREGAN_CHECK((f0.dim() == 3 || f0.dim() == 4) && (f0.size(-3) == 3 || (f0.size(-3) == 4 && warps_alpha())),
               "interpolate: expected frames of shape [3, H, W] or [B, 3, H, W]",
               warps_alpha() ? " (or RGBA, 4 channels)" : "", ", got ", f0.sizes());
  require(t > 0 && t < 1, "interpolate: t must be in (0, 1), got " + std::to_string(t));
  fit_to_memory(f0.size(-2), f0.size(-1));
  torch::NoGradGuard no_grad;
  if (net_->is_training()) net_->eval();  // only reads when already in eval mode: safe from two threads
  if (net_->supports_timestep()) {
    auto a = (f0.dim() == 3 ? f0.unsqueeze(0) : f0).to(device_, torch::kFloat32);
    auto b = (f1.dim() == 3 ? f1.unsqueeze(0) : f1).to(device_, torch::kFloat32);
    auto out = at(a, b, t).to(f0.device());
    return f0.dim() == 3 ? out[0] : out;
  }
  // Dyadic t = k / 2^d for some d <= 10, reached by bisection.
  int depth = 0;
  while (depth <= 10 && std::abs(t * (1 << depth) - std::round(t * (1 << depth))) > 1e-9) ++depth;
  require(depth <= 10,
          "model '" + model_name_ + "' predicts middle frames only: t must be k/2^d, got " + std::to_string(t));
  const auto out_device = f0.device();
  auto a = (f0.dim() == 3 ? f0.unsqueeze(0) : f0).to(device_, torch::kFloat32);
  auto b = (f1.dim() == 3 ? f1.unsqueeze(0) : f1).to(device_, torch::kFloat32);
  double lo = 0, hi = 1;
  torch::Tensor mid;
  while (true) {
    mid = midpoint(a, b);
    const double m = (lo + hi) / 2;
    if (std::abs(m - t) < 1e-12) break;
    if (t < m) {
      b = mid;
      hi = m;
    } else {
      a = mid;
      lo = m;
    }
  }
  mid = mid.to(out_device);
  return f0.dim() == 3 ? mid[0] : mid;
}

cv::Mat Interpolator::interpolate(const cv::Mat& f0, const cv::Mat& f1, double t) {
  return interpolate(cv::Mat(), f0, f1, cv::Mat(), t);
}

std::vector<torch::Tensor> Interpolator::interpolate_sequence(const torch::Tensor& f0, const torch::Tensor& f1,
                                                              int factor) {
  require(factor >= 2, "the factor must be >= 2, got " + std::to_string(factor));
  std::vector<double> times;
  for (int i = 1; i < factor; ++i) times.push_back(static_cast<double>(i) / factor);
  return interpolate_times(f0, f1, times);
}

std::vector<torch::Tensor> Interpolator::interpolate_times(const models::FrameWindow& window,
                                                           const std::vector<double>& times) {
  const auto& f0 = window.f0;
  const auto& f1 = window.f1;
  fit_to_memory(f0.size(-2), f0.size(-1));
  const bool tiled = tiling_.tile > 0 && (f0.size(-2) > tiling_.tile || f0.size(-1) > tiling_.tile);
  // Tiles would each see only their part of the neighbours' motion: tiled runs stay two-frame.
  if (!net_->uses_neighbours() || tiled || net_->size_multiple() != 1 ||
      (!window.before.defined() && !window.after.defined())) {
    return interpolate_times(f0, f1, times);
  }
  FREGAN_CHECK(f0.sizes() == f1.sizes(), "interpolate: the two frames differ in size: ", f0.sizes(), " vs ",
               f1.sizes());
  FREGAN_CHECK((f0.dim() == 3 || f0.dim() == 4) && (f0.size(-3) == 3 || (f0.size(-3) == 4 && warps_alpha())),
               "interpolate: expected frames of shape [3, H, W] or [B, 3, H, W]",
               warps_alpha() ? " (or RGBA, 4 channels)" : "", ", got ", f0.sizes());
  for (const auto* neighbour : {&window.before, &window.after}) {
    if (neighbour->defined()) {
      FREGAN_CHECK(neighbour->sizes() == f0.sizes(), "interpolate: a neighbour frame ", neighbour->sizes(),
                   " differs in size from the pair's ", f0.sizes());
    }
  }
  for (double t : times) require(t > 0 && t < 1, "interpolate: t must be in (0, 1), got " + std::to_string(t));
  fit_to_memory(f0.size(-2), f0.size(-1));
  torch::NoGradGuard no_grad;
  if (net_->is_training()) net_->eval();  // only reads when already in eval mode: safe from two threads
  auto batched = [&](const torch::Tensor& x) {
    return x.defined() ? (x.dim() == 3 ? x.unsqueeze(0) : x).to(device_, torch::kFloat32) : x;
  };
  const models::FrameWindow on_device{batched(window.before), batched(f0), batched(f1), batched(window.after)};
  std::vector<torch::Tensor> out;
  for (auto& frame : net_->forward_times(on_device, times)) {
    frame = frame.clamp(0.0, 1.0);
    out.push_back(f0.dim() == 3 ? frame[0].to(f0.device()) : frame.to(f0.device()));
  }
  return out;
}

torch::Tensor Interpolator::interpolate(const models::FrameWindow& window, double t) {
  return interpolate_times(window, {t}).front();
}

cv::Mat Interpolator::interpolate(const cv::Mat& before, const cv::Mat& f0, const cv::Mat& f1, const cv::Mat& after,
                                  double t) {
  auto same_size = [&](const cv::Mat& image, const char* what) {
    require(image.empty() || image.size() == f0.size(),
            std::string("interpolate: the ") + what + " image (" + std::to_string(image.cols) + "x" +
                std::to_string(image.rows) + ") differs in size from the first (" + std::to_string(f0.cols) + "x" +
                std::to_string(f0.rows) + ")");
  };
  same_size(f1, "second");
  same_size(before, "before");
  same_size(after, "after");
  fit_to_memory(f0.rows, f0.cols);  // before the float copies
  // With alpha, a model that moves it with the colour (warps_alpha) gets RGBA frames, a frame
  // without alpha made opaque; the other models get the colour, and the alpha is blended below.
  const bool with_alpha = f0.channels() == 4 || f1.channels() == 4;
  const bool rgba = with_alpha && warps_alpha();
  auto tensor = [rgba](const cv::Mat& image) {
    if (image.empty()) return torch::Tensor();
    if (!rgba) return io::image_to_tensor(io::colour_of(image));
    return io::image_to_tensor(image.channels() == 4 ? image
                                                     : io::with_alpha(image, alpha_plane(image, image.depth())));
  };
  // Neighbours across a cut or held frames would bend the motion wrongly: the video job's rules
  // (decided on 8-bit colour, as the video job's thumbnails are).
  data::UsableNeighbours use;
  if (uses_neighbours() && (!before.empty() || !after.empty())) {
    auto eight = [](const cv::Mat& image) { return image.empty() ? image : io::to_bgr8(image, "frame"); };
    use = data::usable_neighbours(eight(before), eight(f0), eight(f1), eight(after));
  }
  const int depth = f0.depth() == CV_16U || f1.depth() == CV_16U ? CV_16U : CV_8U;
  const cv::Mat colour =
      io::tensor_to_image(interpolate(models::FrameWindow{use.before ? tensor(before) : torch::Tensor(), tensor(f0),
                                                          tensor(f1), use.after ? tensor(after) : torch::Tensor()},
                                      t),
                          depth);
  if (!with_alpha || rgba) return colour;
  return io::with_alpha(colour, io::alpha_between(alpha_plane(f0, depth), alpha_plane(f1, depth), t));
}

std::vector<torch::Tensor> Interpolator::interpolate_times(const torch::Tensor& f0, const torch::Tensor& f1,
                                                           const std::vector<double>& times) {
  FREGAN_CHECK(f0.sizes() == f1.sizes(), "interpolate: the two frames differ in size: ", f0.sizes(), " vs ",
               f1.sizes());
  for (double t : times) require(t > 0 && t < 1, "interpolate: t must be in (0, 1), got " + std::to_string(t));
  torch::NoGradGuard no_grad;
  if (net_->is_training()) net_->eval();  // only reads when already in eval mode: safe from two threads
  const auto a = (f0.dim() == 3 ? f0.unsqueeze(0) : f0).to(device_, torch::kFloat32);
  const auto b = (f1.dim() == 3 ? f1.unsqueeze(0) : f1).to(device_, torch::kFloat32);
  auto unbatch = [&](const torch::Tensor& x) { return f0.dim() == 3 ? x[0].to(f0.device()) : x.to(f0.device()); };
  std::vector<torch::Tensor> out;
  if (net_->supports_timestep()) {
    for (const auto& frame : at_times(a, b, times)) out.push_back(unbatch(frame));
    return out;
  }
  // Middle-frame models: every t must be k / 2^d; the dyadic tree is filled once, sharing the
  // frames that several t need.
  int depth = 1;
  for (double t : times) {
    int d = 0;
    while (d <= 10 && std::abs(t * (1 << d) - std::round(t * (1 << d))) > 1e-9) ++d;
    require(d <= 10, "model '" + model_name_ +
                         "' predicts middle frames: it reaches t = k/2^d only (factor 2, 4, 8, ...), got t = " +
                         std::to_string(t) + "; use a flow-guided model (fregan-flow) for other rates");
    depth = std::max(depth, d);
  }
  const int n = 1 << depth;
  std::vector<torch::Tensor> frames(n + 1);
  frames[0] = a;
  frames[n] = b;
  // Bisect only towards the needed leaves.
  std::function<void(int, int, double)> need = [&](int lo, int hi, double t) {
    const int mid = (lo + hi) / 2;
    if (!frames[mid].defined()) frames[mid] = midpoint(frames[lo], frames[hi]);
    if (std::abs(static_cast<double>(mid) / n - t) < 1e-9) return;
    if (t < static_cast<double>(mid) / n) need(lo, mid, t);
    else need(mid, hi, t);
  };
  for (double t : times) {
    need(0, n, t);
    out.push_back(unbatch(frames[static_cast<size_t>(std::llround(t * n))]));
  }
  return out;
}

}  // namespace fregan::infer
