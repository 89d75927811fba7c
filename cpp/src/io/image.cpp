#include "fregan/io/image.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <vector>

#include <ATen/Parallel.h>
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
    case 1:
      cv::cvtColor(m, out, cv::COLOR_GRAY2BGR);
      break;
    case 3:
      out = m;
      break;
    case 4:
      cv::cvtColor(m, out, cv::COLOR_BGRA2BGR);
      break;
    default:
      throw InvalidArgument(what + " has " + std::to_string(m.channels()) + " channels; expected 1, 3 or 4");
  }
  return out.isContinuous() ? out : out.clone();
}

cv::Mat read_image(const std::string& path) {
  if (!fs::exists(path)) throw FileError("image '" + path + "' does not exist");
  if (fs::is_directory(path)) throw FileError("'" + path + "' is a folder, not an image");
  cv::Mat m;
  try {
    m = cv::imread(path, cv::IMREAD_UNCHANGED);
  } catch (const cv::Exception&) {
    // OpenCV refuses images past its limits (a PNG declaring 100000 x 100000) with an assertion.
    throw FileError("cannot read '" + path + "': the image is larger than OpenCV's limit (2^30 pixels) or corrupt");
  }
  if (m.empty()) throw FileError("cannot read '" + path + "' as an image (unknown format or corrupt file)");
  return to_bgr8(m, "image '" + path + "'");
}

cv::Mat read_frame(const std::string& path) {
  if (!fs::exists(path)) throw FileError("image '" + path + "' does not exist");
  cv::Mat m;
  try {
    m = cv::imread(path, cv::IMREAD_UNCHANGED);
  } catch (const cv::Exception&) {
    throw FileError("cannot read '" + path + "': the image is larger than OpenCV's limit (2^30 pixels) or corrupt");
  }
  if (m.empty()) throw FileError("cannot read '" + path + "' as an image (unknown format or corrupt file)");
  if (m.channels() == 4 && (m.depth() == CV_8U || m.depth() == CV_16U)) return m;
  if (m.depth() != CV_16U) return to_bgr8(m, "image '" + path + "'");
  cv::Mat out;
  switch (m.channels()) {
    case 1:
      cv::cvtColor(m, out, cv::COLOR_GRAY2BGR);
      break;
    case 3:
      out = m;
      break;
    default:
      throw InvalidArgument("image '" + path + "' has " + std::to_string(m.channels()) +
                            " channels; expected 1, 3 or 4");
  }
  return out;
}

cv::Mat colour_of(const cv::Mat& frame) {
  if (frame.channels() != 4) return frame;
  cv::Mat bgr;
  cv::cvtColor(frame, bgr, cv::COLOR_BGRA2BGR);
  return bgr;
}

cv::Mat alpha_of(const cv::Mat& frame) {
  if (frame.channels() != 4) return {};
  cv::Mat alpha;
  cv::extractChannel(frame, alpha, 3);
  return alpha;
}

cv::Mat with_alpha(const cv::Mat& bgr, const cv::Mat& alpha) {
  if (alpha.empty()) return bgr;
  require(alpha.size() == bgr.size() && alpha.depth() == bgr.depth() && bgr.channels() == 3,
          "with_alpha: the alpha plane does not fit the colour image");
  cv::Mat planes[] = {bgr, alpha}, bgra(bgr.size(), CV_MAKETYPE(bgr.depth(), 4));
  const int from_to[] = {0, 0, 1, 1, 2, 2, 3, 3};
  cv::mixChannels(planes, 2, &bgra, 1, from_to, 4);
  return bgra;
}

cv::Mat alpha_between(const cv::Mat& a, const cv::Mat& b, double t) {
  if (a.empty() || b.empty()) return {};
  cv::Mat out;
  cv::addWeighted(a, 1.0 - t, b, t, 0.0, out);
  return out;
}

void write_image(const std::string& path, const cv::Mat& bgr, bool overwrite) {
  require(is_image_file(path), "output '" + path + "' needs an image extension (.png, .jpg, ...)");
  std::string ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
  const bool keeps_16_bits = ext == ".png" || ext == ".tif" || ext == ".tiff" || ext == ".ppm" || ext == ".pgm";
  if (bgr.channels() == 4 && !(ext == ".png" || ext == ".tif" || ext == ".tiff" || ext == ".webp")) {
    write_image(path, colour_of(bgr), overwrite);
    return;
  }
  if (bgr.depth() == CV_16U && !keeps_16_bits) {
    cv::Mat eight;
    bgr.convertTo(eight, CV_8U, 1.0 / 257.0);
    write_image(path, eight, overwrite);
    return;
  }
  AtomicOutput out(path, overwrite);
  // Encoded in memory and written by the checked writer: cv::imwrite reports success after a
  // short write on a full disk, leaving a truncated image.
  std::vector<uint8_t> encoded;
  bool ok = false;
  try {
    ok = cv::imencode(fs::path(path).extension().string(), bgr, encoded);
  } catch (const cv::Exception& e) {
    throw FileError("cannot encode image '" + path + "': " + e.what());
  }
  if (!ok || encoded.empty()) throw FileError("cannot encode image '" + path + "'");
  write_file_checked(out.temp_path(), std::string(encoded.begin(), encoded.end()));
  out.commit();
}

namespace {

// The channel of a BGR(A) image that holds channel k of an RGB(A) tensor.
constexpr int bgr_channel(int k) { return k < 3 ? 2 - k : k; }

// An image's pixels -> the tensor's planes (float), one converted value at a time.  The channel
// count is a template argument: the inner loop over a pixel's channels unrolls, as the 3-channel
// loop written out did.
template <typename Value, int Channels, typename Convert>
void image_to_planes(const cv::Mat& image, float* planes, Convert convert) {
  const int64_t h = image.rows, w = image.cols, plane = h * w;
  at::parallel_for(0, h, 64, [&](int64_t begin, int64_t end) {
    for (int64_t y = begin; y < end; ++y) {
      const Value* row = image.ptr<Value>(static_cast<int>(y));
      float* out = planes + y * w;
      for (int64_t x = 0; x < w; ++x) {
        for (int k = 0; k < Channels; ++k) out[k * plane + x] = convert(row[Channels * x + bgr_channel(k)]);
      }
    }
  });
}

// The tensor's planes -> an image's pixels.
template <typename Value, int Channels, typename Convert>
void planes_to_image(const float* planes, cv::Mat& image, Convert convert) {
  const int64_t h = image.rows, w = image.cols, plane = h * w;
  at::parallel_for(0, h, 64, [&](int64_t begin, int64_t end) {
    for (int64_t y = begin; y < end; ++y) {
      Value* row = image.ptr<Value>(static_cast<int>(y));
      const float* in = planes + y * w;
      for (int64_t x = 0; x < w; ++x) {
        for (int k = 0; k < Channels; ++k) row[Channels * x + bgr_channel(k)] = convert(in[k * plane + x]);
      }
    }
  });
}

template <typename Value, typename Convert>
void image_to_planes(const cv::Mat& image, float* planes, Convert convert) {
  if (image.channels() == 4) image_to_planes<Value, 4>(image, planes, convert);
  else image_to_planes<Value, 3>(image, planes, convert);
}

template <typename Value, typename Convert>
void planes_to_image(const float* planes, cv::Mat& image, Convert convert) {
  if (image.channels() == 4) planes_to_image<Value, 4>(planes, image, convert);
  else planes_to_image<Value, 3>(planes, image, convert);
}

}  // namespace

// Both conversions are one pass over the pixels (a 1080p frame in a few ms; the same in tensor
// ops took five or six passes), with the tensor ops' exact arithmetic: v / 255 in float one way,
// clamp, * 255 in float and round half to even the other, so results do not move by a rounding.
torch::Tensor image_to_tensor(const cv::Mat& image) {
  require((image.depth() == CV_8U || image.depth() == CV_16U) && (image.channels() == 3 || image.channels() == 4),
          "image_to_tensor expects an 8- or 16-bit BGR or BGRA image");
  auto out = torch::empty({image.channels(), image.rows, image.cols}, torch::kFloat32);
  if (image.depth() == CV_16U) {  // 10-bit video, 16-bit PNG: v / 65535
    image_to_planes<uint16_t>(image, out.data_ptr<float>(),
                              [](uint16_t v) { return static_cast<float>(v) / 65535.0f; });
    return out;
  }
  static const auto scaled = [] {  // v / 255 for every byte: exact, and no division per pixel
    std::array<float, 256> table{};
    for (int v = 0; v < 256; ++v) table[static_cast<size_t>(v)] = static_cast<float>(v) / 255.0f;
    return table;
  }();
  image_to_planes<uint8_t>(image, out.data_ptr<float>(), [](uint8_t v) { return scaled[v]; });
  return out;
}

cv::Mat tensor_to_image(const torch::Tensor& rgb, int depth) {
  require(depth == CV_8U || depth == CV_16U, "tensor_to_image makes 8- or 16-bit images");
  torch::Tensor t = rgb;
  if (t.dim() == 4) {
    require(t.size(0) == 1, "tensor_to_image expects a single image, got a batch of " + std::to_string(t.size(0)));
    t = t[0];
  }
  require(t.dim() == 3 && (t.size(0) == 3 || t.size(0) == 4), "tensor_to_image expects [3, H, W] or [4, H, W]");
  t = t.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  cv::Mat image(static_cast<int>(t.size(1)), static_cast<int>(t.size(2)),
                CV_MAKETYPE(depth, static_cast<int>(t.size(0))));
  if (depth == CV_16U) {
    planes_to_image<uint16_t>(t.data_ptr<float>(), image, [](float v) {
      return static_cast<uint16_t>(std::lround(std::min(std::max(v, 0.0f), 1.0f) * 65535.0f));
    });
    return image;
  }
  planes_to_image<uint8_t>(t.data_ptr<float>(), image, [](float v) {
    // Round half to even by adding and subtracting 1.5 * 2^23 in float (exact for 0..255): what
    // std::nearbyint does, without the library call it is on x86-64 before SSE4.1.
    constexpr float kRound = 12582912.0f;
    const float scaled = std::min(std::max(v, 0.0f), 1.0f) * 255.0f;
    return static_cast<uint8_t>((scaled + kRound) - kRound);
  });
  return image;
}

}  // namespace fregan::io
