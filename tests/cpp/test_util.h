#pragma once
// Helpers shared by the gtests: temporary folders and synthetic frames with known motion.
#include <filesystem>
#include <random>
#include <string>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <gtest/gtest.h>

#include "fregan/error.h"

namespace fregan::test {

// A fresh folder removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() / ("fregan-test-" + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// A textured background with a bright square whose left edge is at x = x0 (sub-pixel positions are
// not needed: motion is whole pixels).
inline cv::Mat moving_square(int width, int height, int x0, int size = 16, uint32_t seed = 7) {
  cv::Mat frame(height, width, CV_8UC3);
  std::mt19937 rng(seed);
  // Smooth texture: low-frequency gradient plus fixed noise so flat-area tricks do not work.
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      const int n = static_cast<int>(rng() % 24);
      frame.at<cv::Vec3b>(y, x) =
          cv::Vec3b(static_cast<uint8_t>(40 + (x * 90) / width + n), static_cast<uint8_t>(60 + (y * 90) / height + n),
                    static_cast<uint8_t>(80 + n));
    }
  }
  cv::rectangle(frame, cv::Rect(x0, height / 2 - size / 2, size, size), cv::Scalar(250, 230, 30), cv::FILLED);
  return frame;
}

// A folder of PNG frames 0.png, 1.png, ...: the square moving `speed` px per frame from x0.
inline void write_moving_clip(const std::string& folder, int frames, int w = 64, int h = 64, int x0 = 8,
                              int speed = 4) {
  std::filesystem::create_directories(folder);
  for (int i = 0; i < frames; ++i)
    cv::imwrite(folder + "/" + std::to_string(i) + ".png", moving_square(w, h, x0 + speed * i));
}

// A frame whose every pixel encodes its index (so a test can tell which frame it got).
inline cv::Mat indexed_frame(int width, int height, int index) {
  return cv::Mat(height, width, CV_8UC3, cv::Scalar(index, 255 - index, (index * 7) % 256));
}

// The message of the fregan::InvalidArgument `f` throws; fails the test if it throws nothing or
// another exception.
template <typename F>
std::string invalid_argument_message(F&& f) {
  try {
    f();
  } catch (const InvalidArgument& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected InvalidArgument, got another exception: " << e.what();
    return {};
  }
  ADD_FAILURE() << "expected InvalidArgument, nothing was thrown";
  return {};
}

}  // namespace fregan::test
