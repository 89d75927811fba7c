#pragma once
// Export of a trained interpolation generator for use outside fregan, as a TorchScript module:
//
//   module = torch.jit.load("sin-gan.ts")                  # Python, or torch::jit::load in C++
//   middle = module(frame0, frame2)                        # [B, 3, H, W] float in [0, 1] -> same
//
// The module is traced for one input shape [batch, 3, height, width] (the weights baked in as
// constants) and holds only the network: other shapes may fail (SepConv's local convolution is
// unrolled for the traced size), and padding/tiling (what the Interpolator adds) are the caller's.  fregan-flow cannot
// be exported: its optical flow is OpenCV's DIS, not a LibTorch op.  ONNX is not offered: Debian's LibTorch has no ONNX
// exporter in C++.
#include <cstdint>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace fregan::infer {

struct ExportOptions {
  // The frame size the module is traced at; each must be a multiple of the model's size multiple
  // (16 for the shipped models).
  int64_t height = 256;
  int64_t width = 256;
  int64_t batch = 1;
  // After writing, load the file back and check it reproduces the native output to this
  // tolerance (max abs difference on random frames); 0 skips the check.
  double check_tolerance = 1e-4;
  bool overwrite = false;
};
void to_json(nlohmann::json& j, const ExportOptions& o);
void from_json(const nlohmann::json& j, ExportOptions& o);

struct ExportResult {
  std::string model;          // registry name, e.g. "sin-gan"
  std::string path;           // the file written
  double max_abs_difference;  // exported vs native on the check frames (-1 if not checked)
};
nlohmann::json to_json(const ExportResult& r);

// Writes `weights` (a checkpoint path or a shipped model name) as TorchScript to `output`
// (atomically).  Throws InvalidArgument for models that cannot be exported or sizes that do not
// fit, FileError for paths, Error if the written module does not reproduce the native output.
ExportResult export_torchscript(const std::string& weights, const std::string& output, const ExportOptions& options);

}  // namespace fregan::infer
