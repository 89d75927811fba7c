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

// A frame of a folder of frames as stored: 16 bits where the file has 16 (PNG, TIFF), else 8; BGRA
// where it has alpha, else BGR (gray replicated).
cv::Mat read_frame(const std::string& path);

// The colour of a frame: BGR (a BGRA frame's alpha dropped; a BGR frame itself, not copied).
cv::Mat colour_of(const cv::Mat& frame);
// The alpha plane of a BGRA frame; empty for a BGR one.
cv::Mat alpha_of(const cv::Mat& frame);
// BGR and an alpha plane of its depth -> BGRA; `bgr` itself when `alpha` is empty.
cv::Mat with_alpha(const cv::Mat& bgr, const cv::Mat& alpha);
// The alpha of the frame at t between frames of alpha `a` and `b`: (1 - t) a + t b per pixel
// (empty when either is): a shape fading in or out fades with its colour.
cv::Mat alpha_between(const cv::Mat& a, const cv::Mat& b, double t);

// Writes an 8-bit (or 16-bit: kept in PNG/TIFF/PPM, else scaled to 8) BGR or BGRA (alpha kept in
// PNG/TIFF/WebP, else dropped) image atomically (temp file + rename). Throws on failure / existing path.
void write_image(const std::string& path, const cv::Mat& bgr, bool overwrite);

// Makes any 8/16-bit 1/3/4-channel Mat into 8-bit BGR (the conversions of read_image).
cv::Mat to_bgr8(const cv::Mat& image, const std::string& what);

// HxWx3 BGR uint8 (or uint16: v / 65535) -> [3, H, W] float RGB in [0, 1] (CPU); BGRA -> RGBA
// [4, H, W].
torch::Tensor image_to_tensor(const cv::Mat& image);

// [3, H, W] (or [1, 3, H, W]) float RGB in [0, 1], any device -> HxWx3 BGR uint8 (rounded,
// clamped), or uint16 for depth CV_16U; RGBA [4, H, W] -> BGRA.
cv::Mat tensor_to_image(const torch::Tensor& rgb, int depth = CV_8U);

}  // namespace fregan::io
