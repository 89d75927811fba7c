#include "fregan/infer/interpolator.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>

#include <torch/torch.h>

#include "fregan/device.h"
#include "fregan/error.h"
#include "fregan/io/image.h"
#include "fregan/train/checkpoint.h"

namespace fs = std::filesystem;

namespace fregan::infer {
namespace {

// The best interpolation model fregan ships (see python/fregan/models/MODELS.md).
constexpr const char* kDefaultWeightsFile = "fregan-flow.pt";

// The folder of the binary or shared object this code is linked into.
fs::path this_module_dir() {
  Dl_info info{};
  if (::dladdr(reinterpret_cast<void*>(&default_weights_path), &info) && info.dli_fname) {
    return fs::absolute(info.dli_fname).parent_path();
  }
  return {};
}

}  // namespace

std::string default_weights_path() {
  if (const char* env = std::getenv("FREGAN_WEIGHTS"); env && *env) {
    if (!fs::exists(env)) throw FileError(std::string("FREGAN_WEIGHTS names '") + env + "', which does not exist");
    return env;
  }
  const fs::path here = this_module_dir();
  // Installed package: fregan/_core*.so and fregan/bin/fregan beside fregan/models/.
  const std::vector<fs::path> candidates = {here / "models" / kDefaultWeightsFile,
                                            here.parent_path() / "models" / kDefaultWeightsFile,
                                            fs::path(FREGAN_SOURCE_MODEL_DIR) / kDefaultWeightsFile};
  for (const auto& c : candidates) {
    if (!c.empty() && fs::exists(c)) return c.string();
  }
  throw FileError("no default model found (looked for " + std::string(kDefaultWeightsFile) +
                  " beside the package and in the source tree); pass --weights or set FREGAN_WEIGHTS");
}

Interpolator::Interpolator(const std::string& weights, const std::string& device)
    : device_(select_device(device)) {
  set_num_threads(0);
  const std::string path = weights.empty() ? default_weights_path() : weights;
  auto model = train::load_model(path, device_);
  net_ = model.generator;
  model_name_ = model.name;
  net_->eval();
}

Interpolator::Interpolator(std::shared_ptr<models::InterpolationNetImpl> net, torch::Device device, std::string model_name)
    : net_(std::move(net)), device_(device), model_name_(std::move(model_name)) {
  require(net_ != nullptr, "Interpolator needs a network");
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
  auto out = t == 0.5 ? net_->forward(a, b) : net_->forward_at(a, b, t);
  return out.index({torch::indexing::Slice(), torch::indexing::Slice(), torch::indexing::Slice(0, h),
                    torch::indexing::Slice(0, w)})
      .clamp(0.0, 1.0);
}

torch::Tensor Interpolator::interpolate(const torch::Tensor& f0, const torch::Tensor& f1, double t) {
  TORCH_CHECK(f0.sizes() == f1.sizes(), "interpolate: the two frames differ in size: ", f0.sizes(), " vs ", f1.sizes());
  TORCH_CHECK((f0.dim() == 3 || f0.dim() == 4) && f0.size(-3) == 3,
              "interpolate: expected frames of shape [3, H, W] or [B, 3, H, W], got ", f0.sizes());
  require(t > 0 && t < 1, "interpolate: t must be in (0, 1), got " + std::to_string(t));
  torch::NoGradGuard no_grad;
  net_->eval();
  if (net_->supports_timestep()) {
    auto a = (f0.dim() == 3 ? f0.unsqueeze(0) : f0).to(device_, torch::kFloat32);
    auto b = (f1.dim() == 3 ? f1.unsqueeze(0) : f1).to(device_, torch::kFloat32);
    auto out = at(a, b, t).to(f0.device());
    return f0.dim() == 3 ? out[0] : out;
  }
  // Dyadic t = k / 2^d for some d <= 10, reached by bisection.
  int depth = 0;
  while (depth <= 10 && std::abs(t * (1 << depth) - std::round(t * (1 << depth))) > 1e-9) ++depth;
  require(depth <= 10, "model '" + model_name_ + "' predicts middle frames only: t must be k/2^d, got " + std::to_string(t));
  const auto out_device = f0.device();
  auto a = (f0.dim() == 3 ? f0.unsqueeze(0) : f0).to(device_, torch::kFloat32);
  auto b = (f1.dim() == 3 ? f1.unsqueeze(0) : f1).to(device_, torch::kFloat32);
  double lo = 0, hi = 1;
  torch::Tensor mid;
  while (true) {
    mid = midpoint(a, b);
    const double m = (lo + hi) / 2;
    if (std::abs(m - t) < 1e-12) break;
    if (t < m) { b = mid; hi = m; } else { a = mid; lo = m; }
  }
  mid = mid.to(out_device);
  return f0.dim() == 3 ? mid[0] : mid;
}

cv::Mat Interpolator::interpolate(const cv::Mat& f0, const cv::Mat& f1, double t) {
  require(f0.size() == f1.size(), "interpolate: the two images differ in size: " + std::to_string(f0.cols) + "x" +
                                      std::to_string(f0.rows) + " vs " + std::to_string(f1.cols) + "x" + std::to_string(f1.rows));
  return io::tensor_to_image(interpolate(io::image_to_tensor(f0), io::image_to_tensor(f1), t));
}

std::vector<torch::Tensor> Interpolator::interpolate_sequence(const torch::Tensor& f0, const torch::Tensor& f1, int factor) {
  require(factor >= 2, "the factor must be >= 2, got " + std::to_string(factor));
  std::vector<double> times;
  for (int i = 1; i < factor; ++i) times.push_back(static_cast<double>(i) / factor);
  return interpolate_times(f0, f1, times);
}

std::vector<torch::Tensor> Interpolator::interpolate_times(const torch::Tensor& f0, const torch::Tensor& f1,
                                                           const std::vector<double>& times) {
  TORCH_CHECK(f0.sizes() == f1.sizes(), "interpolate: the two frames differ in size: ", f0.sizes(), " vs ", f1.sizes());
  for (double t : times) require(t > 0 && t < 1, "interpolate: t must be in (0, 1), got " + std::to_string(t));
  torch::NoGradGuard no_grad;
  net_->eval();
  const auto a = (f0.dim() == 3 ? f0.unsqueeze(0) : f0).to(device_, torch::kFloat32);
  const auto b = (f1.dim() == 3 ? f1.unsqueeze(0) : f1).to(device_, torch::kFloat32);
  auto unbatch = [&](const torch::Tensor& x) { return f0.dim() == 3 ? x[0].to(f0.device()) : x.to(f0.device()); };
  std::vector<torch::Tensor> out;
  if (net_->supports_timestep()) {
    for (double t : times) out.push_back(unbatch(at(a, b, t)));
    return out;
  }
  // Middle-frame models: every t must be k / 2^d; the dyadic tree is filled once, sharing the
  // frames that several t need.
  int depth = 1;
  for (double t : times) {
    int d = 0;
    while (d <= 10 && std::abs(t * (1 << d) - std::round(t * (1 << d))) > 1e-9) ++d;
    require(d <= 10, "model '" + model_name_ + "' predicts middle frames: it reaches t = k/2^d only (factor 2, 4, 8, ...), got t = " +
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
