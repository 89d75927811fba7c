// fregan._core: the binding only converts types (numpy / torch <-> cv::Mat / tensors, dicts <->
// JSON) and releases the GIL around heavy calls.  All logic lives in the core library.
#include <torch/extension.h>

#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <opencv2/imgproc.hpp>

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

namespace {

using Rgb8 = py::array_t<uint8_t, py::array::c_style | py::array::forcecast>;

// numpy HxWx3 (or HxW) uint8 RGB -> cv::Mat 8-bit BGR.
cv::Mat array_to_bgr(const Rgb8& array, const char* name) {
  const auto info = array.request();
  if (!(info.ndim == 3 && info.shape[2] == 3) && info.ndim != 2) {
    std::string shape;
    for (const auto d : info.shape) shape += (shape.empty() ? "" : ", ") + std::to_string(d);
    throw InvalidArgument(std::string(name) + ": expected an HxWx3 (RGB) or HxW uint8 array, got shape (" + shape + ")");
  }
  const int h = static_cast<int>(info.shape[0]), w = static_cast<int>(info.shape[1]);
  require(h > 0 && w > 0, std::string(name) + ": empty image");
  cv::Mat view(h, w, info.ndim == 3 ? CV_8UC3 : CV_8UC1, info.ptr);
  cv::Mat bgr;
  cv::cvtColor(view, bgr, info.ndim == 3 ? cv::COLOR_RGB2BGR : cv::COLOR_GRAY2BGR);
  return bgr;
}

py::array_t<uint8_t> bgr_to_array(const cv::Mat& bgr) {
  py::array_t<uint8_t> out({bgr.rows, bgr.cols, 3});
  cv::Mat rgb(bgr.rows, bgr.cols, CV_8UC3, out.mutable_data());
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  return out;
}

// Python-style index (negative counts from the end) into a container of n, or IndexError.
size_t checked_index(int64_t i, size_t n, const char* what) {
  if (i < 0) i += static_cast<int64_t>(n);
  if (i < 0 || i >= static_cast<int64_t>(n)) throw py::index_error(std::string(what) + " index out of range");
  return static_cast<size_t>(i);
}

py::object json_to_py(const nlohmann::json& j) { return py::module_::import("json").attr("loads")(j.dump()); }
nlohmann::json py_to_json(const py::object& o) {
  return nlohmann::json::parse(py::module_::import("json").attr("dumps")(o).cast<std::string>());
}

}  // namespace

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

  m.def("read_image", [](const std::string& path) { return bgr_to_array(io::read_image(path)); }, py::arg("path"),
        "Reads an image file as an HxWx3 uint8 RGB array.");
  m.def("write_image",
        [](const std::string& path, const Rgb8& image, bool overwrite) {
          io::write_image(path, array_to_bgr(image, "image"), overwrite);
        },
        py::arg("path"), py::arg("image"), py::arg("overwrite") = false, "Writes an RGB uint8 array atomically.");
  // Metrics on 8-bit RGB arrays (what a user saved): data range 255.
  m.def("knn_precision_recall",
        [](const torch::Tensor& real, const torch::Tensor& generated, int k, int height, int width) {
          const auto pr = metrics::knn_precision_recall(metrics::frame_features(real, height, width),
                                                        metrics::frame_features(generated, height, width), k);
          return std::make_pair(pr.precision, pr.recall);
        },
        py::arg("real"), py::arg("generated"), py::arg("k") = 3, py::arg("height") = metrics::kFeatureHeight,
        py::arg("width") = metrics::kFeatureWidth,
        "k-NN precision and recall (Kynkaanniemi et al. 2019) of generated frames against real frames, both "
        "[N, 3, H, W] float in [0, 1], in the space of the frames area-downscaled to height x width.");
  m.def("psnr", [](const Rgb8& a, const Rgb8& b) { return metrics::psnr(array_to_bgr(a, "a"), array_to_bgr(b, "b")); },
        py::arg("a"), py::arg("b"), "PSNR in dB of two uint8 images (inf if identical).");
  m.def("ssim", [](const Rgb8& a, const Rgb8& b) { return metrics::ssim(array_to_bgr(a, "a"), array_to_bgr(b, "b")); },
        py::arg("a"), py::arg("b"), "SSIM (Gaussian 11x11, sigma 1.5) of two uint8 images, averaged over channels.");
  m.def("ms_ssim", [](const Rgb8& a, const Rgb8& b) { return metrics::ms_ssim(array_to_bgr(a, "a"), array_to_bgr(b, "b")); },
        py::arg("a"), py::arg("b"), "Multi-scale SSIM (up to 5 scales, standard weights) of two uint8 images.");
  m.def("flow_warp",
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
            auto tensor = [](const cv::Mat& m) { return m.empty() ? torch::Tensor() : io::image_to_tensor(m).unsqueeze(0); };
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
  m.def("optical_flow",
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
  m.def("model_names", py::overload_cast<>(&models::model_names), "Names of the interpolation models fregan can build and train.");
  m.def("model_task", [](const std::string& name) { return std::string(models::task_name(models::model_task(name))); },
        py::arg("name"),
        "The task of a model family: 'interpolate', 'upscale' or 'generate' (InvalidArgument for an unknown name).");
  m.def("distributed_available", &train::distributed_available,
        "Whether this build can train over several processes (LibTorch c10d with Gloo).");
  m.def("default_weights_path", &infer::default_weights_path, "Path of the checkpoint used when none is named.");
  m.def("shipped_models", [] {
    py::list out;
    for (const auto& model : zoo::list_models()) {
      auto entry = model.entry;
      entry["path"] = model.path;
      out.append(json_to_py(entry));
    }
    return out;
  }, "The manifest entries of the shipped checkpoints, each with its absolute path.");
  m.def("resolve_weights", &zoo::resolve_weights, py::arg("name_or_path"), "A checkpoint path or shipped model name as a path.");
  m.def("export_torchscript", [](const std::string& weights, const std::string& output, int64_t height, int64_t width,
                                  int64_t batch, double check_tolerance, bool overwrite) {
    infer::ExportOptions o;
    o.height = height;
    o.width = width;
    o.batch = batch;
    o.check_tolerance = check_tolerance;
    o.overwrite = overwrite;
    infer::ExportResult r;
    {
      py::gil_scoped_release release;
      r = infer::export_torchscript(weights, output, o);
    }
    py::dict d;
    d["model"] = r.model;
    d["path"] = r.path;
    d["max_abs_difference"] = r.max_abs_difference;
    return d;
  }, py::arg("weights"), py::arg("output"), py::arg("height"), py::arg("width"), py::arg("batch"), py::arg("check_tolerance"), py::arg("overwrite"));
  m.def("read_checkpoint_meta", [](const std::string& path) { return json_to_py(models::to_json(models::read_checkpoint_meta(path))); },
        py::arg("path"), "The JSON header of a checkpoint (model, options, step, metrics) as a dict.");
  m.def("set_log_level", [](int level) { log::set_level(static_cast<log::Level>(level)); }, py::arg("level"),
        "0 debug, 1 info (default), 2 warnings, 3 errors, 4 silent.");

  py::class_<infer::Interpolator>(m, "Interpolator")
      .def(py::init<const std::string&, const std::string&>(), py::arg("weights") = "", py::arg("device") = "auto",
           py::call_guard<py::gil_scoped_release>())
      .def_property_readonly("model_name", &infer::Interpolator::model_name)
      .def_property_readonly("device", [](const infer::Interpolator& i) { return i.device().str(); })
      .def("set_tiling",
           [](infer::Interpolator& self, int64_t tile, int64_t overlap) { self.set_tiling({tile, overlap}); },
           py::arg("tile"), py::arg("overlap") = 128)
      .def("interpolate_array",
           [](infer::Interpolator& self, const Rgb8& a, const Rgb8& b, double t, const std::optional<Rgb8>& before,
              const std::optional<Rgb8>& after) {
             const cv::Mat f0 = array_to_bgr(a, "first image"), f1 = array_to_bgr(b, "second image");
             const cv::Mat fb = before ? array_to_bgr(*before, "before") : cv::Mat();
             const cv::Mat fa = after ? array_to_bgr(*after, "after") : cv::Mat();
             cv::Mat out;
             {
               py::gil_scoped_release release;
               out = fb.empty() && fa.empty() ? self.interpolate(f0, f1, t) : self.interpolate(fb, f0, f1, fa, t);
             }
             return bgr_to_array(out);
           },
           py::arg("a"), py::arg("b"), py::arg("t") = 0.5, py::arg("before") = py::none(), py::arg("after") = py::none())
      .def("interpolate_tensor",
           [](infer::Interpolator& self, const torch::Tensor& a, const torch::Tensor& b, double t,
              const std::optional<torch::Tensor>& before, const std::optional<torch::Tensor>& after) {
             if (!before && !after) return self.interpolate(a, b, t);
             return self.interpolate(models::FrameWindow{before.value_or(torch::Tensor()), a, b, after.value_or(torch::Tensor())}, t);
           },
           py::arg("a"), py::arg("b"), py::arg("t") = 0.5, py::arg("before") = py::none(), py::arg("after") = py::none(),
           py::call_guard<py::gil_scoped_release>())
      .def_property_readonly("uses_neighbours", &infer::Interpolator::uses_neighbours)
      .def("interpolate_video",
           [](infer::Interpolator& self, const std::string& input, const std::string& output, const py::dict& options,
              const py::object& progress) {
             infer::VideoJobOptions o;
             o.input = input;
             o.output = output;
             for (const auto& [key, value] : options) {
               const auto k = key.cast<std::string>();
               if (k == "factor") o.factor = value.cast<int>();
               else if (k == "fps") o.target_fps = value.is_none() ? 0.0 : value.cast<double>();
               else if (k == "input_fps") o.input_fps = value.is_none() ? 0.0 : value.cast<double>();
               else if (k == "overwrite") o.overwrite = value.cast<bool>();
               else if (k == "codec") o.codec = value.cast<std::string>();
               else if (k == "crf") o.crf = value.cast<int>();
               else if (k == "preset") o.preset = value.is_none() ? std::string() : value.cast<std::string>();
               else if (k == "keep_audio") o.keep_audio = value.cast<bool>();
               else if (k == "detect_cuts") o.detect_cuts = value.cast<bool>();
               else if (k == "neighbours") o.neighbours = value.cast<bool>();
               else if (k == "dedup") o.dedup = value.cast<std::string>();
               else if (k == "dedup_threshold") o.scene.held_threshold = value.cast<double>();
               else if (k == "segment_seconds") o.segment_seconds = value.cast<double>();
               else if (k == "resume") o.resume = value.cast<bool>();
               else throw InvalidArgument("unknown video option '" + k + "'");
             }
             // A Python exception in the callback (or Ctrl-C) stops the job; it is re-raised after.
             PythonProgressCallback<infer::VideoJobProgress> callback(progress, [](const infer::VideoJobProgress& p) {
               py::dict d;
               d["input_frames_done"] = p.input_frames_done;
               d["input_frames_total"] = p.input_frames_total;
               d["output_frames"] = p.output_frames;
               d["frames_per_second"] = p.frames_per_second;
               d["eta_seconds"] = p.eta_seconds;
               return d;
             });
             if (!progress.is_none()) o.progress = callback.function();
             infer::VideoJobResult r;
             {
               py::gil_scoped_release release;
               r = infer::interpolate_video(self, o);
             }
             callback.rethrow_if_stopped_by_python();
             py::dict d;
             d["input_frames"] = r.input_frames;
             d["output_frames"] = r.output_frames;
             d["interpolated_frames"] = r.interpolated_frames;
             d["input_fps"] = r.input_fps;
             d["output_fps"] = r.output_fps;
             d["width"] = r.width;
             d["height"] = r.height;
             d["audio_kept"] = r.audio_kept;
             d["scene_cuts"] = r.scene_cuts;
             d["duplicates_removed"] = r.duplicates_removed;
             d["deinterlaced"] = r.deinterlaced;
             d["resumed_segments"] = r.resumed_segments;
             d["completed"] = r.completed;
             d["seconds"] = r.seconds;
             return d;
           },
           py::arg("input"), py::arg("output"), py::arg("options") = py::dict(), py::arg("progress") = py::none())
      .def_property_readonly("supports_any_time", &infer::Interpolator::supports_any_time);

  m.def("evaluate",
        [](const std::string& weights, const std::vector<std::string>& data, int frame_skip, int64_t max_triplets,
           int64_t max_frames, const std::string& device) {
          nlohmann::json j;
          {
            py::gil_scoped_release release;
            data::TripletDatasetOptions o;
            o.sources = data;
            o.frame_skip = frame_skip;
            o.max_frames_per_source = max_frames;
            data::TripletDataset dataset(o);
            infer::Interpolator interpolator(weights, device);
            j = infer::to_json(infer::evaluate(interpolator, dataset, max_triplets));
          }
          return json_to_py(j);
        },
        py::arg("weights"), py::arg("data"), py::arg("frame_skip") = 1, py::arg("max_triplets") = 0,
        py::arg("max_frames") = 0, py::arg("device") = "auto");

  // --- data -----------------------------------------------------------------------------------
  m.def("prepare",
        [](const std::vector<std::string>& videos, const std::string& out, const std::string& task, int frame_skip,
           int64_t max_frames, int64_t target_frames, double val_fraction, double test_fraction, uint64_t seed,
           double cut_threshold, double static_threshold, int sr_scale, bool overwrite,
           std::function<void(size_t, size_t, const std::string&)> progress) {
          data::PrepareOptions o;
          o.videos = videos;
          o.out = out;
          o.task = task;
          o.frame_skip = frame_skip;
          o.max_frames_per_source = max_frames;
          o.target_frames = target_frames;
          o.val_fraction = val_fraction;
          o.test_fraction = test_fraction;
          o.seed = seed;
          o.scene.cut_threshold = cut_threshold;
          o.scene.static_threshold = static_threshold;
          o.sr_scale = sr_scale;
          o.overwrite = overwrite;
          if (progress) {
            o.progress = [progress](size_t done, size_t total, const std::string& clip) {
              py::gil_scoped_acquire acquire;
              progress(done, total, clip);
            };
          }
          nlohmann::json r;
          {
            py::gil_scoped_release release;
            r = data::to_json(data::prepare_dataset(o));
          }
          return json_to_py(r);
        },
        py::arg("videos"), py::arg("out"), py::arg("task") = "triplets", py::arg("frame_skip") = 1,
        py::arg("max_frames") = 0, py::arg("target_frames") = 0, py::arg("val_fraction") = 0.1,
        py::arg("test_fraction") = 0.1, py::arg("seed") = 0, py::arg("cut_threshold") = 30.0,
        py::arg("static_threshold") = 0.5, py::arg("sr_scale") = 4, py::arg("overwrite") = false,
        py::arg("progress") = nullptr);

  py::class_<data::TripletDataset, std::shared_ptr<data::TripletDataset>>(m, "TripletDataset")
      .def(py::init([](const std::vector<std::string>& sources, const std::string& split, int frame_skip,
                       int64_t max_frames, int64_t max_triplets, bool drop_cuts, bool drop_static) {
             data::TripletDatasetOptions o;
             o.sources = sources;
             o.split = split;
             o.frame_skip = frame_skip;
             o.max_frames_per_source = max_frames;
             o.max_triplets_per_source = max_triplets;
             o.drop_cuts = drop_cuts;
             o.drop_static = drop_static;
             py::gil_scoped_release release;
             return std::make_shared<data::TripletDataset>(o);
           }),
           py::arg("sources"), py::arg("split") = "train", py::arg("frame_skip") = 1, py::arg("max_frames") = 0,
           py::arg("max_triplets") = 0, py::arg("drop_cuts") = true, py::arg("drop_static") = true)
      .def("__len__", &data::TripletDataset::size)
      .def("__getitem__",
           [](const data::TripletDataset& ds, int64_t i) {
             const auto t = ds.get(checked_index(i, ds.size(), "triplet"));
             return py::make_tuple(bgr_to_array(t.f0), bgr_to_array(t.f1), bgr_to_array(t.f2));
           })
      .def("source_of",
           [](const data::TripletDataset& ds, int64_t i) {
             const auto t = ds.get(checked_index(i, ds.size(), "triplet"));
             return py::make_tuple(ds.sources()[t.source].path, t.index);
           })
      .def_property_readonly("stats",
                             [](const data::TripletDataset& ds) {
                               const auto& s = ds.stats();
                               py::dict d;
                               d["clips"] = s.clips;
                               d["frames"] = s.frames;
                               d["triplets"] = s.triplets;
                               d["dropped_cut"] = s.dropped_cut;
                               d["dropped_static"] = s.dropped_static;
                               d["skipped_clips"] = s.skipped_clips;
                               return d;
                             })
      .def("batch",
           [](const data::TripletDataset& ds, int64_t k, int batch_size, int crop, bool hflip, bool vflip, bool rotate,
              bool temporal_reverse, uint64_t seed) {
             data::TripletLoaderOptions o;
             o.batch_size = batch_size;
             o.crop = crop;
             o.hflip = hflip;
             o.vflip = vflip;
             o.rotate = rotate;
             o.temporal_reverse = temporal_reverse;
             o.seed = seed;
             data::TripletBatch b;
             {
               py::gil_scoped_release release;
               b = data::TripletLoader::make_batch(ds, o, k);
             }
             return py::make_tuple(b.f0, b.f1, b.f2);
           },
           py::arg("k"), py::arg("batch_size") = 9, py::arg("crop") = 256, py::arg("hflip") = true,
           py::arg("vflip") = true, py::arg("rotate") = false, py::arg("temporal_reverse") = true, py::arg("seed") = 0);

  py::class_<data::FrameDataset, std::shared_ptr<data::FrameDataset>>(m, "FrameDataset")
      .def(py::init([](const std::vector<std::string>& sources, const std::string& split, int frame_skip,
                       int64_t target_frames, int64_t max_frames) {
             data::FrameDatasetOptions o;
             o.sources = sources;
             o.split = split;
             o.frame_skip = frame_skip;
             o.target_frames = target_frames;
             o.max_frames_per_source = max_frames;
             py::gil_scoped_release release;
             return std::make_shared<data::FrameDataset>(o);
           }),
           py::arg("sources"), py::arg("split") = "train", py::arg("frame_skip") = 1, py::arg("target_frames") = 0,
           py::arg("max_frames") = 0)
      .def("__len__", &data::FrameDataset::size)
      .def("__getitem__",
           [](const data::FrameDataset& ds, int64_t i) {
             return bgr_to_array(ds.get(checked_index(i, ds.size(), "frame")));
           })
      .def_property_readonly("frame_skip", &data::FrameDataset::effective_skip)
      .def("batch",
           [](const data::FrameDataset& ds, int64_t k, int batch_size, int height, int width, bool shuffle, bool hflip,
              uint64_t seed) {
             data::FrameBatchOptions o;
             o.batch_size = batch_size;
             o.height = height;
             o.width = width;
             o.shuffle = shuffle;
             o.hflip = hflip;
             o.seed = seed;
             py::gil_scoped_release release;
             return data::make_frame_batch(ds, o, k);
           },
           py::arg("k"), py::arg("batch_size") = 64, py::arg("height") = 160, py::arg("width") = 320,
           py::arg("shuffle") = true, py::arg("hflip") = false, py::arg("seed") = 0);

  py::class_<data::SrDataset, std::shared_ptr<data::SrDataset>>(m, "SrDataset")
      .def(py::init([](const std::vector<std::string>& sources, const std::string& split, int64_t max_frames) {
             data::SrDatasetOptions o;
             o.sources = sources;
             o.split = split;
             o.max_frames_per_source = max_frames;
             py::gil_scoped_release release;
             return std::make_shared<data::SrDataset>(o);
           }),
           py::arg("sources"), py::arg("split") = "train", py::arg("max_frames") = 0)
      .def("__len__", &data::SrDataset::size)
      .def("batch",
           [](const data::SrDataset& ds, int64_t k, int batch_size, int scale, int hr_crop, int neighbours, bool flip,
              bool rotate, uint64_t seed) {
             data::SrBatchOptions o;
             o.batch_size = batch_size;
             o.scale = scale;
             o.hr_crop = hr_crop;
             o.neighbours = neighbours;
             o.augment = {flip, flip, rotate};
             o.seed = seed;
             data::SrBatch b;
             {
               py::gil_scoped_release release;
               b = data::make_sr_batch(ds, o, k);
             }
             return py::make_tuple(b.hr, b.lr, b.neighbours);
           },
           py::arg("k"), py::arg("batch_size") = 8, py::arg("scale") = 4, py::arg("hr_crop") = 128,
           py::arg("neighbours") = 6, py::arg("flip") = true, py::arg("rotate") = true, py::arg("seed") = 0);

  m.def("train",
        [](const py::dict& options, py::object callback) {
          train::TrainerOptions o = py_to_json(options).get<train::TrainerOptions>();
          PythonProgressCallback<train::Progress> progress(callback, [](const train::Progress& p) {
            py::dict d;
            d["step"] = p.step;
            d["total_steps"] = p.total_steps;
            d["d_loss"] = p.last.d_loss;
            d["g_loss"] = p.last.g_loss;
            d["g_reconstruction"] = p.last.g_reconstruction;
            d["g_adversarial"] = p.last.g_adversarial;
            py::dict terms;
            for (const auto& [name, value] : p.last.terms) terms[py::str(name)] = value;
            d["terms"] = terms;
            d["samples_per_second"] = p.samples_per_second;
            d["eta_seconds"] = p.eta_seconds;
            if (p.validation) d["validation"] = json_to_py(infer::to_json(*p.validation));
            return d;
          });
          nlohmann::json result;
          {
            py::gil_scoped_release release;
            train::Trainer trainer(o);
            result = infer::to_json(trainer.fit(progress.function()));
            result["step"] = trainer.current_step();
          }
          progress.rethrow_if_stopped_by_python();
          return json_to_py(result);
        },
        py::arg("options"), py::arg("callback") = py::none(),
        "Runs the C++ training loop. options: dict of TrainerOptions fields; callback(progress: dict) -> bool|None "
        "is called every step (return False to stop).");

  // --- DCGAN: unconditional frame generation -----------------------------------------------------
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
      .def("generate_arrays",
           [](infer::FrameGenerator& self, int64_t n, uint64_t seed, int64_t first) {
             std::vector<cv::Mat> images;
             {
               py::gil_scoped_release release;
               images = self.generate_images(n, seed, first);
             }
             py::list out;
             for (const auto& image : images) out.append(bgr_to_array(image));
             return out;
           },
           py::arg("n"), py::arg("seed") = 0, py::arg("first") = 0)
      .def("generate_tensor", &infer::FrameGenerator::generate, py::arg("n"), py::arg("seed") = 0, py::arg("first") = 0,
           py::arg("batch_size") = 16, py::call_guard<py::gil_scoped_release>());
  m.def("make_grid",
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
  m.def("train_dcgan",
        [](const py::dict& options, py::object callback) {
          train::DcganTrainerOptions o = py_to_json(options).get<train::DcganTrainerOptions>();
          PythonProgressCallback<train::DcganProgress> progress(callback, [](const train::DcganProgress& p) {
            py::dict d;
            d["step"] = p.step;
            d["total_steps"] = p.total_steps;
            d["d_loss"] = p.last.d_loss;
            d["g_loss"] = p.last.g_loss;
            d["d_real"] = p.last.d_real;
            d["d_fake"] = p.last.d_fake;
            d["samples_per_second"] = p.samples_per_second;
            d["eta_seconds"] = p.eta_seconds;
            d["lr_scale"] = p.lr_scale;
            d["rollbacks"] = p.rollbacks;
            if (!p.event.empty()) d["event"] = p.event;
            if (!p.sample_grid.empty()) d["sample_grid"] = p.sample_grid;
            if (p.diversity) {
              d["diversity_std_ratio"] = p.diversity->std_ratio;
              d["diversity_distance_ratio"] = p.diversity->distance_ratio;
              d["collapsed"] = p.diversity->collapsed;
            }
            return d;
          });
          nlohmann::json result;
          {
            py::gil_scoped_release release;
            train::DcganTrainer trainer(o);
            trainer.fit(progress.function());
            result = {{"step", trainer.current_step()}, {"lr_scale", trainer.lr_scale()},
                      {"rollbacks", trainer.rollbacks()}};
          }
          progress.rethrow_if_stopped_by_python();
          return json_to_py(result);
        },
        py::arg("options"), py::arg("callback") = py::none(),
        "Runs the C++ DCGAN training loop. options: dict of DcganTrainerOptions fields; callback(progress: dict) -> "
        "bool|None is called every step (return False to stop).");

  // --- SpectraFrame: x4 video super-resolution ---------------------------------------------------
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
      .def("upscale_array",
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
      .def("upscale_tensor",
           [](infer::Upscaler& self, const torch::Tensor& lr, const torch::Tensor& neighbours) {
             return self.upscale(lr, neighbours);
           },
           py::arg("lr"), py::arg("neighbours"), py::call_guard<py::gil_scoped_release>())
      .def("upscale_video",
           [](infer::Upscaler& self, const std::string& input, const std::string& output, bool upscale_only,
              int64_t max_frames, bool overwrite, const std::string& codec, int crf, bool keep_audio) {
             infer::UpscaleVideoOptions o;
             o.input = input;
             o.output = output;
             o.upscale_only = upscale_only;
             o.max_frames = max_frames;
             o.overwrite = overwrite;
             o.codec = codec;
             o.crf = crf;
             o.keep_audio = keep_audio;
             nlohmann::json j;
             {
               py::gil_scoped_release release;
               j = infer::to_json(infer::upscale_video(self, o));
             }
             return json_to_py(j);
           },
           py::arg("input"), py::arg("output") = "", py::arg("upscale_only") = false, py::arg("max_frames") = 0,
           py::arg("overwrite") = false, py::arg("codec") = "libx264", py::arg("crf") = 18, py::arg("keep_audio") = true);
  m.def("train_spectraframe",
        [](const py::dict& options) {
          train::SrTrainerOptions o = py_to_json(options).get<train::SrTrainerOptions>();
          nlohmann::json result;
          {
            py::gil_scoped_release release;
            train::SrTrainer trainer(o);
            result = infer::to_json(trainer.fit());
            result["step"] = trainer.current_step();
            result["perceptual"] = trainer.perceptual_source();
          }
          return json_to_py(result);
        },
        py::arg("options"),
        "Runs the C++ SpectraFrame training loop. options: dict of SrTrainerOptions fields. Returns the last "
        "validation (model and bicubic PSNR/SSIM), the step and what the perceptual term compared.");
}
