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

inline py::array_t<uint8_t> bgr_to_array(const cv::Mat& bgr) {
  py::array_t<uint8_t> out({bgr.rows, bgr.cols, 3});
  cv::Mat rgb(bgr.rows, bgr.cols, CV_8UC3, out.mutable_data());
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  return out;
}

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
