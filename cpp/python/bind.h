#pragma once
// What the files of fregan._core share: the conversions (numpy / torch <-> cv::Mat / tensors,
// dicts <-> JSON), the progress callback, and one function per area that adds its bindings.
#include <torch/extension.h>

#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <opencv2/imgproc.hpp>
#include <nlohmann/json.hpp>

#include "fregan/error.h"

namespace fregan::python {

namespace py = pybind11;

using Rgb8 = py::array_t<uint8_t, py::array::c_style | py::array::forcecast>;

// numpy HxWx3 (or HxW) uint8 RGB -> cv::Mat 8-bit BGR.
inline cv::Mat array_to_bgr(const Rgb8& array, const char* name) {
  const auto info = array.request();
  if (!(info.ndim == 3 && info.shape[2] == 3) && info.ndim != 2) {
    std::string shape;
    for (const auto d : info.shape) shape += (shape.empty() ? "" : ", ") + std::to_string(d);
    throw InvalidArgument(std::string(name) + ": expected an HxWx3 (RGB) or HxW uint8 array, got shape (" + shape +
                          ")");
  }
  const int h = static_cast<int>(info.shape[0]), w = static_cast<int>(info.shape[1]);
  require(h > 0 && w > 0, std::string(name) + ": empty image");
  cv::Mat view(h, w, info.ndim == 3 ? CV_8UC3 : CV_8UC1, info.ptr);
  cv::Mat bgr;
  cv::cvtColor(view, bgr, info.ndim == 3 ? cv::COLOR_RGB2BGR : cv::COLOR_GRAY2BGR);
  return bgr;
}

// numpy HxW, HxWx3 (RGB) or HxWx4 (RGBA), uint8 or uint16 -> cv::Mat BGR or BGRA of that depth (a
// frame as stored, as io::read_frame gives it: gray becomes BGR).  The Python layer has checked
// the layout and dtype (fregan._check_array); anything else here is a programming error.
inline cv::Mat array_to_image(const py::array& array, const char* name) {
  const auto c = py::array::ensure(array, py::array::c_style);
  const auto info = c.request();
  const bool sixteen = info.format == py::format_descriptor<uint16_t>::format();
  const int channels = info.ndim == 2 ? 1 : static_cast<int>(info.shape[2]);
  require((info.ndim == 2 || (info.ndim == 3 && (channels == 3 || channels == 4))) &&
              (sixteen || info.format == py::format_descriptor<uint8_t>::format()),
          std::string(name) + ": expected an HxWx3 (RGB), HxWx4 (RGBA) or HxW uint8 or uint16 array");
  const int h = static_cast<int>(info.shape[0]), w = static_cast<int>(info.shape[1]);
  require(h > 0 && w > 0, std::string(name) + ": empty image");
  const cv::Mat view(h, w, CV_MAKETYPE(sixteen ? CV_16U : CV_8U, channels), info.ptr);
  cv::Mat image;
  cv::cvtColor(view, image,
               channels == 1   ? cv::COLOR_GRAY2BGR
               : channels == 3 ? cv::COLOR_RGB2BGR
                               : cv::COLOR_RGBA2BGRA);
  return image;
}

// cv::Mat BGR or BGRA of Pixel's depth -> numpy HxWx3 RGB or HxWx4 RGBA of Pixel.
template <typename Pixel>
py::array_t<Pixel> rgb_array(const cv::Mat& image) {
  const int channels = image.channels();
  py::array_t<Pixel> out({image.rows, image.cols, channels});
  cv::Mat rgb(image.rows, image.cols, CV_MAKETYPE(cv::DataType<Pixel>::depth, channels), out.mutable_data());
  cv::cvtColor(image, rgb, channels == 4 ? cv::COLOR_BGRA2RGBA : cv::COLOR_BGR2RGB);
  return out;
}

// cv::Mat BGR or BGRA, 8- or 16-bit -> numpy HxWx3 RGB or HxWx4 RGBA of that dtype.
inline py::array image_to_array(const cv::Mat& image) {
  if (image.depth() == CV_16U) return rgb_array<uint16_t>(image);
  return rgb_array<uint8_t>(image);
}

// cv::Mat 8-bit BGR -> numpy HxWx3 uint8 RGB.
inline py::array_t<uint8_t> bgr_to_array(const cv::Mat& bgr) { return rgb_array<uint8_t>(bgr); }

// Python-style index (negative counts from the end) into a container of n, or IndexError.
inline size_t checked_index(int64_t i, size_t n, const char* what) {
  if (i < 0) i += static_cast<int64_t>(n);
  if (i < 0 || i >= static_cast<int64_t>(n)) throw py::index_error(std::string(what) + " index out of range");
  return static_cast<size_t>(i);
}

inline py::object json_to_py(const nlohmann::json& j) { return py::module_::import("json").attr("loads")(j.dump()); }
inline nlohmann::json py_to_json(const py::object& o) {
  return nlohmann::json::parse(py::module_::import("json").attr("dumps")(o).cast<std::string>());
}

// A Python callable as a trainer's progress callback: the progress becomes a dict (to_dict), Ctrl-C
// / a notebook's interrupt stops training cleanly (the trainer writes a checkpoint), and an
// exception raised by the callable stops training and is re-raised once the trainer has returned.
template <typename Progress>
class PythonProgressCallback {
 public:
  PythonProgressCallback(py::object callable, std::function<py::dict(const Progress&)> to_dict)
      : callable_(std::move(callable)), to_dict_(std::move(to_dict)) {}

  std::function<bool(const Progress&)> function() {
    return [this](const Progress& p) {
      py::gil_scoped_acquire acquire;
      if (PyErr_CheckSignals() != 0) {
        error_ = std::make_unique<py::error_already_set>();
        return false;
      }
      if (callable_.is_none()) return true;
      try {
        py::object r = callable_(to_dict_(p));
        return r.is_none() || r.cast<bool>();
      } catch (py::error_already_set& e) {
        error_ = std::make_unique<py::error_already_set>(std::move(e));
        return false;
      }
    };
  }

  // Re-raises what stopped training from Python, if anything did.
  void rethrow_if_stopped_by_python() {
    if (error_) throw std::move(*error_);
  }

 private:
  py::object callable_;
  std::function<py::dict(const Progress&)> to_dict_;
  std::unique_ptr<py::error_already_set> error_;
};

// Options structs cross as dicts: kwargs -> JSON -> the struct's strict reader (unknown keys and
// wrong types are InvalidArgument, the defaults are the struct's own).
template <typename Options>
Options options_from(const py::dict& kwargs) {
  return py_to_json(kwargs).get<Options>();
}

void bind_interpolate(py::module_& m);
void bind_data(py::module_& m);
void bind_train(py::module_& m);
void bind_generate(py::module_& m);
void bind_upscale(py::module_& m);

}  // namespace fregan::python
