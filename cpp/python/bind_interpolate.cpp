// fregan._core: the interpolation model, video jobs and evaluation.
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

void bind_interpolate(py::module_& m) {
  py::class_<infer::Interpolator>(m, "Interpolator")
      .def(py::init<const std::string&, const std::string&>(), py::arg("weights") = "", py::arg("device") = "auto",
           py::call_guard<py::gil_scoped_release>())
      .def_property_readonly("model_name", &infer::Interpolator::model_name)
      .def_property_readonly("device", [](const infer::Interpolator& i) { return i.device().str(); })
      .def(
          "set_tiling",
          [](infer::Interpolator& self, int64_t tile, int64_t overlap) {
            self.set_tiling({tile, overlap});
          },
          py::arg("tile"), py::arg("overlap") = 128)
      .def(
          "interpolate_array",
          [](infer::Interpolator& self, const py::array& a, const py::array& b, double t,
             const std::optional<py::array>& before, const std::optional<py::array>& after) {
            const cv::Mat f0 = array_to_image(a, "first image"), f1 = array_to_image(b, "second image");
            const cv::Mat fb = before ? array_to_image(*before, "before") : cv::Mat();
            const cv::Mat fa = after ? array_to_image(*after, "after") : cv::Mat();
            cv::Mat out;
            {
              py::gil_scoped_release release;
              out = fb.empty() && fa.empty() ? self.interpolate(f0, f1, t) : self.interpolate(fb, f0, f1, fa, t);
            }
            return image_to_array(out);
          },
          py::arg("a"), py::arg("b"), py::arg("t") = 0.5, py::arg("before") = py::none(), py::arg("after") = py::none())
      .def(
          "interpolate_tensor",
          [](infer::Interpolator& self, const torch::Tensor& a, const torch::Tensor& b, double t,
             const std::optional<torch::Tensor>& before, const std::optional<torch::Tensor>& after) {
            if (!before && !after) return self.interpolate(a, b, t);
            return self.interpolate(
                models::FrameWindow{before.value_or(torch::Tensor()), a, b, after.value_or(torch::Tensor())}, t);
          },
          py::arg("a"), py::arg("b"), py::arg("t") = 0.5, py::arg("before") = py::none(), py::arg("after") = py::none(),
          py::call_guard<py::gil_scoped_release>())
      .def_property_readonly("uses_neighbours", &infer::Interpolator::uses_neighbours)
      .def(
          "interpolate_video",
          [](infer::Interpolator& self, const py::dict& options, const py::object& progress) {
            auto o = options_from<infer::VideoJobOptions>(options);
            // A Python exception in the callback (or Ctrl-C) stops the job; it is re-raised after.
            PythonProgressCallback<infer::VideoJobProgress> callback(
                progress, [](const infer::VideoJobProgress& p) { return py::dict(json_to_py(infer::to_json(p))); });
            if (!progress.is_none()) o.progress = callback.function();
            infer::VideoJobResult r;
            {
              py::gil_scoped_release release;
              r = infer::interpolate_video(self, o);
            }
            callback.rethrow_if_stopped_by_python();
            return json_to_py(infer::to_json(r));
          },
          py::arg("options"), py::arg("progress") = py::none(),
          "Runs a video job. options: dict of VideoJobOptions fields (input, output, factor, target_fps, ...; scene "
          "as a dict of SceneOptions fields); the rest keep their C++ defaults.")
      .def_property_readonly("supports_any_time", &infer::Interpolator::supports_any_time);

  m.def(
      "evaluate",
      [](const py::dict& options) {
        const auto o = options_from<infer::EvaluateOptions>(options);
        nlohmann::json j;
        {
          py::gil_scoped_release release;
          data::TripletDataset dataset(infer::evaluation_triplets(o));
          infer::Interpolator interpolator(o.weights, o.device);
          j = infer::to_json(infer::evaluate(interpolator, dataset, o.max_triplets));
        }
        return json_to_py(j);
      },
      py::arg("options"),
      "Scores a checkpoint on triplets beside the baselines. options: dict of EvaluateOptions fields (data, "
      "weights, device, frame_skip, max_triplets, max_frames); the rest keep their C++ defaults.");
}

}  // namespace fregan::python
