#pragma once
// Images in fregan's core: cv::Mat BGR uint8 at the I/O edge, torch float RGB in [0, 1] inside.
#include <string>

#include <opencv2/core.hpp>
#include <torch/types.h>

namespace fregan::io {

// True when the extension is one OpenCV writes/reads as a still image (.png, .jpg, ...).
bool is_image_file(const std::string& path);

// Reads an image as 8-bit BGR, 3 channels: grayscale is replicated, alpha dropped, 16-bit scaled
// by 1/257.  Throws FileError naming the file when it is missing or not an image.
cv::Mat read_image(const std::string& path);

// A frame of a folder of frames as stored: 16-bit BGR where the file has 16 bits (PNG, TIFF), else
// as read_image (8-bit BGR); alpha dropped, gray replicated.
cv::Mat read_frame(const std::string& path);

// Writes an 8-bit (or 16-bit: kept in PNG/TIFF/PPM, else scaled to 8) BGR image atomically (temp
// file + rename). Throws on failure / existing path.
void write_image(const std::string& path, const cv::Mat& bgr, bool overwrite);

// Makes any 8/16-bit 1/3/4-channel Mat into 8-bit BGR (the conversions of read_image).
cv::Mat to_bgr8(const cv::Mat& image, const std::string& what);

// HxWx3 BGR uint8 (or uint16: v / 65535) -> [3, H, W] float RGB in [0, 1] (CPU).
torch::Tensor image_to_tensor(const cv::Mat& bgr);

// [3, H, W] (or [1, 3, H, W]) float RGB in [0, 1], any device -> HxWx3 BGR uint8 (rounded,
// clamped), or uint16 for depth CV_16U.
cv::Mat tensor_to_image(const torch::Tensor& rgb, int depth = CV_8U);

}  // namespace fregan::io
