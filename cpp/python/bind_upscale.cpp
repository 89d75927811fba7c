// fregan._core: SpectraFrame x4 super-resolution.
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

void bind_upscale(py::module_& m) {
  m.def("default_upscaler_weights_path", &infer::default_upscaler_weights_path,
        "Path of the SpectraFrame checkpoint used when none is named.");
  py::class_<infer::Upscaler>(m, "Upscaler")
      .def(py::init<const std::string&, const std::string&>(), py::arg("weights") = "", py::arg("device") = "auto",
           py::call_guard<py::gil_scoped_release>())
      .def_property_readonly("scale", &infer::Upscaler::scale)
      .def_property_readonly("neighbours", &infer::Upscaler::neighbours)
      .def_property_readonly("step", &infer::Upscaler::step)
      .def_property_readonly("device", [](const infer::Upscaler& u) { return u.device().str(); })
      .def("neighbour_indices", &infer::Upscaler::neighbour_indices, py::arg("t"), py::arg("count"))
      .def(
          "upscale_array",
          [](infer::Upscaler& self, const Rgb8& lr, const std::vector<Rgb8>& neighbours) {
            const cv::Mat frame = array_to_bgr(lr, "frame");
            std::vector<cv::Mat> nb;
            for (const auto& n : neighbours) nb.push_back(array_to_bgr(n, "neighbour"));
            cv::Mat out;
            {
              py::gil_scoped_release release;
              out = self.upscale(frame, nb);
            }
            return bgr_to_array(out);
          },
          py::arg("frame"), py::arg("neighbours"))
      .def(
          "upscale_tensor",
          [](infer::Upscaler& self, const torch::Tensor& lr, const torch::Tensor& neighbours) {
            return self.upscale(lr, neighbours);
          },
          py::arg("lr"), py::arg("neighbours"), py::call_guard<py::gil_scoped_release>())
      .def(
          "upscale_video",
          [](infer::Upscaler& self, const py::dict& options) {
            const auto o = options_from<infer::UpscaleVideoOptions>(options);
            nlohmann::json j;
            {
              py::gil_scoped_release release;
              j = infer::to_json(infer::upscale_video(self, o));
            }
            return json_to_py(j);
          },
          py::arg("options"),
          "Runs an upscale job. options: dict of UpscaleVideoOptions fields (input, output, "
          "upscale_only, max_frames, overwrite, codec, crf, keep_audio); the rest keep their C++ defaults.");
}

}  // namespace fregan::python
