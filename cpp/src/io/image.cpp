#include "fregan/io/image.h"

#include <algorithm>
#include <filesystem>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <torch/torch.h>

#include "fregan/error.h"
#include "fregan/io/atomic_file.h"

namespace fs = std::filesystem;

namespace fregan::io {

bool is_image_file(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
  static const char* kExts[] = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".exr"};
  return std::any_of(std::begin(kExts), std::end(kExts), [&](const char* e) { return ext == e; });
}

cv::Mat to_bgr8(const cv::Mat& image, const std::string& what) {
  if (image.empty()) throw FileError(what + " is empty");
  cv::Mat m = image;
  if (m.depth() == CV_16U) {
    m.convertTo(m, CV_8U, 1.0 / 257.0);
  } else if (m.depth() == CV_32F || m.depth() == CV_64F) {
    m.convertTo(m, CV_8U, 255.0);
  } else if (m.depth() != CV_8U) {
    throw InvalidArgument(what + " has an unsupported pixel depth (" + std::to_string(m.depth()) + ")");
  }
  cv::Mat out;
  switch (m.channels()) {
    case 1: cv::cvtColor(m, out, cv::COLOR_GRAY2BGR); break;
    case 3: out = m; break;
    case 4: cv::cvtColor(m, out, cv::COLOR_BGRA2BGR); break;
    default: throw InvalidArgument(what + " has " + std::to_string(m.channels()) + " channels; expected 1, 3 or 4");
  }
  return out.isContinuous() ? out : out.clone();
}

cv::Mat read_image(const std::string& path) {
  if (!fs::exists(path)) throw FileError("image '" + path + "' does not exist");
  if (fs::is_directory(path)) throw FileError("'" + path + "' is a folder, not an image");
  cv::Mat m = cv::imread(path, cv::IMREAD_UNCHANGED);
  if (m.empty()) throw FileError("cannot read '" + path + "' as an image (unknown format or corrupt file)");
  return to_bgr8(m, "image '" + path + "'");
}

void write_image(const std::string& path, const cv::Mat& bgr, bool overwrite) {
  require(is_image_file(path), "output '" + path + "' needs an image extension (.png, .jpg, ...)");
  AtomicOutput out(path, overwrite);
  bool ok = false;
  try {
    ok = cv::imwrite(out.temp_path(), bgr);
  } catch (const cv::Exception& e) {
    throw FileError("cannot write image '" + path + "': " + e.what());
  }
  if (!ok) throw FileError("cannot write image '" + path + "'");
  out.commit();
}

torch::Tensor image_to_tensor(const cv::Mat& bgr) {
  require(bgr.type() == CV_8UC3, "image_to_tensor expects an 8-bit 3-channel image");
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  auto t = torch::from_blob(rgb.data, {rgb.rows, rgb.cols, 3}, torch::kUInt8);
  return t.permute({2, 0, 1}).to(torch::kFloat32).div_(255.0f).contiguous();
}

cv::Mat tensor_to_image(const torch::Tensor& rgb) {
  torch::Tensor t = rgb;
  if (t.dim() == 4) {
    require(t.size(0) == 1, "tensor_to_image expects a single image, got a batch of " + std::to_string(t.size(0)));
    t = t[0];
  }
  require(t.dim() == 3 && t.size(0) == 3, "tensor_to_image expects [3, H, W]");
  t = t.detach().to(torch::kCPU, torch::kFloat32).clamp(0, 1).mul(255.0f).round().to(torch::kUInt8)
          .permute({1, 2, 0}).contiguous();
  cv::Mat rgb_mat(static_cast<int>(t.size(0)), static_cast<int>(t.size(1)), CV_8UC3, t.data_ptr<uint8_t>());
  cv::Mat bgr;
  cv::cvtColor(rgb_mat, bgr, cv::COLOR_RGB2BGR);  // copies out of the tensor's memory
  return bgr;
}

}  // namespace fregan::io
