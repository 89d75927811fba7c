// fregan._core: the binding only converts types (numpy / torch <-> cv::Mat / tensors, dicts <->
// JSON) and releases the GIL around heavy calls.  All logic lives in the core library.  This file
// holds what every area uses (errors, images, metrics, flow, the model registry and checkpoints);
// each area's bindings are in bind_<area>.cpp.
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

namespace py = pybind11;
using namespace fregan;
using namespace fregan::python;

PYBIND11_MODULE(_core, m) {
  m.doc() = "fregan native core (LibTorch + OpenCV)";
  m.attr("__version__") = FREGAN_VERSION;

  static py::exception<Error> base_error(m, "Error", PyExc_RuntimeError);
  static py::exception<FileError> file_error(m, "FileError", PyExc_OSError);
  static py::exception<InvalidArgument> invalid_argument(m, "InvalidArgument", PyExc_ValueError);
  static py::exception<CheckpointError> checkpoint_error(m, "CheckpointError", PyExc_ValueError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const FileError& e) {
      PyErr_SetString(file_error.ptr(), e.what());
    } catch (const InvalidArgument& e) {
      PyErr_SetString(invalid_argument.ptr(), e.what());
    } catch (const CheckpointError& e) {
      PyErr_SetString(checkpoint_error.ptr(), e.what());
    } catch (const Error& e) {
      PyErr_SetString(base_error.ptr(), e.what());
    }
  });

  m.def(
      "read_image",
      [](const std::string& path, bool as_stored) {
        return as_stored ? image_to_array(io::read_frame(path)) : py::array(bgr_to_array(io::read_image(path)));
      },
      py::arg("path"), py::arg("as_stored") = false,
      "Reads an image file as an HxWx3 uint8 RGB array, or as stored (uint16, RGBA) with as_stored.");
  m.def(
      "write_image",
      [](const std::string& path, const py::array& image, bool overwrite) {
        io::write_image(path, array_to_image(image, "image"), overwrite);
      },
      py::arg("path"), py::arg("image"), py::arg("overwrite") = false,
      "Writes an RGB(A) uint8 or uint16 array atomically.");
  // Metrics on 8-bit RGB arrays (what a user saved): data range 255.
  m.def(
      "knn_precision_recall",
      [](const torch::Tensor& real, const torch::Tensor& generated, int k, int height, int width) {
        const auto pr = metrics::knn_precision_recall(metrics::frame_features(real, height, width),
                                                      metrics::frame_features(generated, height, width), k);
        return std::make_pair(pr.precision, pr.recall);
      },
      py::arg("real"), py::arg("generated"), py::arg("k") = 3, py::arg("height") = metrics::kFeatureHeight,
      py::arg("width") = metrics::kFeatureWidth,
      "k-NN precision and recall (Kynkaanniemi et al. 2019) of generated frames against real frames, both "
      "[N, 3, H, W] float in [0, 1], in the space of the frames area-downscaled to height x width.");
  m.def(
      "psnr", [](const Rgb8& a, const Rgb8& b) { return metrics::psnr(array_to_bgr(a, "a"), array_to_bgr(b, "b")); },
      py::arg("a"), py::arg("b"), "PSNR in dB of two uint8 images (inf if identical).");
  m.def(
      "ssim", [](const Rgb8& a, const Rgb8& b) { return metrics::ssim(array_to_bgr(a, "a"), array_to_bgr(b, "b")); },
      py::arg("a"), py::arg("b"), "SSIM (Gaussian 11x11, sigma 1.5) of two uint8 images, averaged over channels.");
  m.def(
      "ms_ssim",
      [](const Rgb8& a, const Rgb8& b) { return metrics::ms_ssim(array_to_bgr(a, "a"), array_to_bgr(b, "b")); },
      py::arg("a"), py::arg("b"), "Multi-scale SSIM (up to 5 scales, standard weights) of two uint8 images.");
  m.def(
      "flow_warp",
      [](const Rgb8& a, const Rgb8& b, double t, const std::string& preset, const std::string& sampling,
         const std::optional<Rgb8>& before, const std::optional<Rgb8>& after) {
        const cv::Mat fa = array_to_bgr(a, "a"), fb = array_to_bgr(b, "b");
        const cv::Mat fbefore = before ? array_to_bgr(*before, "before") : cv::Mat();
        const cv::Mat fafter = after ? array_to_bgr(*after, "after") : cv::Mat();
        for (const auto* m : {&fb, &fbefore, &fafter}) {
          require(m->empty() || m->size() == fa.size(), "flow_warp: the frames differ in size");
        }
        cv::Mat out;
        {
          py::gil_scoped_release release;
          flow::FlowOptions o;
          o.preset = preset;
          auto tensor = [](const cv::Mat& m) {
            return m.empty() ? torch::Tensor() : io::image_to_tensor(m).unsqueeze(0);
          };
          const auto ta = tensor(fa), tb = tensor(fb);
          const auto warped = before || after
                                  ? flow::warp_interpolate(tensor(fbefore), ta, tb, tensor(fafter), t, o, {},
                                                           flow::sampling_from_name(sampling))
                                  : flow::warp_interpolate(ta, tb, t, o, flow::sampling_from_name(sampling));
          out = io::tensor_to_image(warped[0].clamp(0, 1));
        }
        return bgr_to_array(out);
      },
      py::arg("a"), py::arg("b"), py::arg("t") = 0.5, py::arg("preset") = "medium", py::arg("sampling") = "bilinear",
      py::arg("before") = py::none(), py::arg("after") = py::none(),
      "Plain optical-flow interpolation (DIS flow both ways, both frames warped to t, blended): the baseline; with "
      "before/after, the four-frame (acceleration-aware) flows.");
  m.def(
      "optical_flow",
      [](const Rgb8& a, const Rgb8& b, const std::string& preset, int max_side) {
        const cv::Mat fa = array_to_bgr(a, "a"), fb = array_to_bgr(b, "b");
        require(fa.size() == fb.size(), "optical_flow: the two frames differ in size");
        py::gil_scoped_release release;
        flow::FlowOptions o;
        o.preset = preset;
        o.max_side = max_side;
        const auto [forward, backward] =
            flow::bidirectional_flow(io::image_to_tensor(fa).unsqueeze(0), io::image_to_tensor(fb).unsqueeze(0), o);
        return std::make_pair(forward[0], backward[0]);
      },
      py::arg("a"), py::arg("b"), py::arg("preset") = "fine", py::arg("max_side") = 960,
      "DIS optical flow a -> b and b -> a as [2, H, W] float tensors in pixels (x, y): what fregan's models use.");
  m.def("model_names", py::overload_cast<>(&models::model_names),
        "Names of the interpolation models fregan can build and train.");
  m.def(
      "model_task", [](const std::string& name) { return std::string(models::task_name(models::model_task(name))); },
      py::arg("name"),
      "The task of a model family: 'interpolate', 'upscale' or 'generate' (InvalidArgument for an unknown name).");
  m.def("default_weights_path", &infer::default_weights_path, "Path of the checkpoint used when none is named.");
  m.def(
      "shipped_models",
      [] {
        py::list out;
        for (const auto& model : zoo::list_models()) {
          auto entry = model.entry;
          entry["path"] = model.path;
          out.append(json_to_py(entry));
        }
        return out;
      },
      "The manifest entries of the shipped checkpoints, each with its absolute path.");
  m.def("resolve_weights", &zoo::resolve_weights, py::arg("name_or_path"),
        "A checkpoint path or shipped model name as a path.");
  m.def(
      "default_options",
      [](const std::string& name) {
        // The options structs that cross as dicts, each as it is default-constructed.
        static const std::map<std::string, nlohmann::json> defaults = {
            {"video", infer::VideoJobOptions{}},
            {"upscale", infer::UpscaleVideoOptions{}},
            {"export", infer::ExportOptions{}},
            {"evaluate", infer::EvaluateOptions{}},
            {"prepare", data::PrepareOptions{}},
            {"triplet_dataset", data::TripletDatasetOptions{}},
            {"triplet_batch", data::TripletLoaderOptions{}},
            {"frame_dataset", data::FrameDatasetOptions{}},
            {"frame_batch", data::FrameBatchOptions{}},
            {"sr_dataset", data::SrDatasetOptions{}},
            {"sr_batch", data::SrBatchOptions{}}};
        const auto it = defaults.find(name);
        if (it == defaults.end()) {
          std::string names;
          for (const auto& [known, json] : defaults) names += (names.empty() ? "" : ", ") + known;
          throw InvalidArgument("no options struct named '" + name + "' (known: " + names + ")");
        }
        return json_to_py(it->second);
      },
      py::arg("name"),
      "The defaults of an options struct that crosses as a dict (video, upscale, export, evaluate, prepare, "
      "triplet_dataset, triplet_batch, frame_dataset, frame_batch, sr_dataset, sr_batch): where the Python "
      "signatures' documented defaults come from.");
  m.def(
      "export_torchscript",
      [](const std::string& weights, const std::string& output, const py::dict& options) {
        const auto o = options_from<infer::ExportOptions>(options);
        nlohmann::json j;
        {
          py::gil_scoped_release release;
          j = infer::to_json(infer::export_torchscript(weights, output, o));
        }
        return json_to_py(j);
      },
      py::arg("weights"), py::arg("output"), py::arg("options") = py::dict(),
      "Writes a generator as TorchScript. options: dict of ExportOptions fields (height, width, batch, "
      "check_tolerance, overwrite). Returns model, path and max_abs_difference.");
  m.def(
      "read_checkpoint_meta",
      [](const std::string& path) { return json_to_py(models::to_json(models::read_checkpoint_meta(path))); },
      py::arg("path"), "The JSON header of a checkpoint (model, options, step, metrics) as a dict.");
  m.def(
      "set_log_level", [](int level) { log::set_level(static_cast<log::Level>(level)); }, py::arg("level"),
      "0 debug, 1 info (default), 2 warnings, 3 errors, 4 silent.");

  bind_interpolate(m);
  bind_data(m);
  bind_train(m);
  bind_generate(m);
  bind_upscale(m);
}
