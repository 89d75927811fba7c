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

// Both conversions go plane by plane through OpenCV (split/merge and a scaled convertTo, which
// rounds and saturates): two passes over a frame instead of the five or six of the same in tensor
// ops, which matters at 1080p in the video job.
torch::Tensor image_to_tensor(const cv::Mat& bgr) {
  require(bgr.type() == CV_8UC3, "image_to_tensor expects an 8-bit 3-channel image");
  auto out = torch::empty({3, bgr.rows, bgr.cols}, torch::kFloat32);
  cv::Mat planes[3];
  cv::split(bgr, planes);  // B, G, R
  for (int c = 0; c < 3; ++c) {
    cv::Mat dst(bgr.rows, bgr.cols, CV_32FC1, out[c].data_ptr<float>());
    planes[2 - c].convertTo(dst, CV_32FC1, 1.0 / 255.0);
  }
  return out;
}

cv::Mat tensor_to_image(const torch::Tensor& rgb) {
  torch::Tensor t = rgb;
  if (t.dim() == 4) {
    require(t.size(0) == 1, "tensor_to_image expects a single image, got a batch of " + std::to_string(t.size(0)));
    t = t[0];
  }
  require(t.dim() == 3 && t.size(0) == 3, "tensor_to_image expects [3, H, W]");
  t = t.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  const int h = static_cast<int>(t.size(1)), w = static_cast<int>(t.size(2));
  std::vector<cv::Mat> planes;
  for (int c = 2; c >= 0; --c) {  // B, G, R
    const cv::Mat plane(h, w, CV_32FC1, t[c].data_ptr<float>());
    cv::Mat bytes;
    plane.convertTo(bytes, CV_8UC1, 255.0);  // clamps to [0, 255] and rounds
    planes.push_back(bytes);
  }
  cv::Mat bgr;
  cv::merge(planes, bgr);
  return bgr;
}

}  // namespace fregan::io
