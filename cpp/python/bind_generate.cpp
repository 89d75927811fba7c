// fregan._core: DCGAN frame generation and sample grids.
#include "bind.h"

#include "fregan/data/frame_dataset.h"
#include "fregan/data/prepared_dataset.h"
#include "fregan/data/sr_dataset.h"
#include "fregan/data/triplet_dataset.h"
#include "fregan/error.h"
#include "fregan/flow/optical_flow.h"
#include "fregan/infer/evaluate.h"
#include "fregan/infer/export.h"
#include "fregan/infer/frame_generator.h"
#include "fregan/infer/interpolator.h"
#include "fregan/infer/upscaler.h"
#include "fregan/infer/video_job.h"
#include "fregan/io/image.h"
#include "fregan/io/image_grid.h"
#include "fregan/log.h"
#include "fregan/metrics/generation_metrics.h"
#include "fregan/metrics/metrics.h"
#include "fregan/models/registry.h"
#include "fregan/models/checkpoint.h"
#include "fregan/train/dcgan_trainer.h"
#include "fregan/train/sr_trainer.h"
#include "fregan/train/trainer.h"
#include "fregan/zoo/zoo.h"

namespace fregan::python {
namespace {

// Images made without the GIL (`make` runs with it released) as a list of RGB uint8 arrays.
template <typename Make>
py::list arrays_made_without_gil(Make&& make) {
  std::vector<cv::Mat> images;
  {
    py::gil_scoped_release release;
    images = make();
  }
  py::list out;
  for (const auto& image : images) out.append(bgr_to_array(image));
  return out;
}

}  // namespace

void bind_generate(py::module_& m) {
  m.def("default_generator_weights_path", &infer::default_generator_weights_path,
        "Path of the DCGAN checkpoint used when none is named.");
  py::class_<infer::FrameGenerator>(m, "FrameGenerator")
      .def(py::init<const std::string&, const std::string&>(), py::arg("weights") = "", py::arg("device") = "auto",
           py::call_guard<py::gil_scoped_release>())
      .def_property_readonly("height", &infer::FrameGenerator::height)
      .def_property_readonly("width", &infer::FrameGenerator::width)
      .def_property_readonly("latent_dim", &infer::FrameGenerator::latent_dim)
      .def_property_readonly("step", &infer::FrameGenerator::step)
      .def_property_readonly("device", [](const infer::FrameGenerator& g) { return g.device().str(); })
      .def(
          "generate_arrays",
          [](infer::FrameGenerator& self, int64_t n, uint64_t seed, int64_t first) {
            return arrays_made_without_gil([&] { return self.generate_images(n, seed, first); });
          },
          py::arg("n"), py::arg("seed") = 0, py::arg("first") = 0)
      .def("generate_tensor", &infer::FrameGenerator::generate, py::arg("n"), py::arg("seed") = 0, py::arg("first") = 0,
           py::arg("batch_size") = 16, py::call_guard<py::gil_scoped_release>())
      .def(
          "walk_arrays",
          [](infer::FrameGenerator& self, const py::dict& walk, uint64_t seed, int64_t first) {
            const auto o = options_from<infer::LatentWalkOptions>(walk);
            return arrays_made_without_gil([&] { return self.walk_images(o, seed, first); });
          },
          py::arg("walk"), py::arg("seed") = 0, py::arg("first") = 0,
          "Frames of a latent walk (RGB uint8). walk: dict of LatentWalkOptions fields (keys, frames_between, loop).")
      .def(
          "write_walk",
          [](infer::FrameGenerator& self, const std::string& path, const py::dict& walk, double fps, bool overwrite,
             uint64_t seed, int64_t first) {
            const auto o = options_from<infer::LatentWalkOptions>(walk);
            py::gil_scoped_release release;
            return self.write_walk(path, o, fps, overwrite, seed, first);
          },
          py::arg("path"), py::arg("walk"), py::arg("fps") = 24.0, py::arg("overwrite") = false, py::arg("seed") = 0,
          py::arg("first") = 0, "Writes a latent walk as a video; returns its frame count.");
  m.def(
      "make_grid",
      [](const std::vector<Rgb8>& images, int cols, int padding) {
        std::vector<cv::Mat> bgr;
        for (size_t i = 0; i < images.size(); ++i) bgr.push_back(array_to_bgr(images[i], "image"));
        io::GridOptions o;
        o.cols = cols;
        o.padding = padding;
        return bgr_to_array(io::make_grid(bgr, o));
      },
      py::arg("images"), py::arg("cols") = 0, py::arg("padding") = 2,
      "Tiles RGB uint8 images of one size into rows of `cols` (0 = ceil(sqrt(n))) with `padding` black pixels.");
}

}  // namespace fregan::python
