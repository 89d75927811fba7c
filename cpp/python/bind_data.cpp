// fregan._core: preparing datasets and reading them (triplets, frames, SR samples).
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

void bind_data(py::module_& m) {
  m.def(
      "prepare",
      [](const py::dict& options, std::function<void(size_t, size_t, const std::string&)> progress) {
        auto o = options_from<data::PrepareOptions>(options);
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
      py::arg("options"), py::arg("progress") = nullptr,
      "Decodes clips once into a prepared dataset. options: dict of PrepareOptions fields (videos, out, task, "
      "frame_skip, max_frames_per_source, ..., scene as a dict of SceneOptions fields); the rest keep their C++ "
      "defaults. progress(done, total, clip) is called after each clip.");

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
      .def(
          "batch",
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
      .def("__getitem__", [](const data::FrameDataset& ds,
                             int64_t i) { return bgr_to_array(ds.get(checked_index(i, ds.size(), "frame"))); })
      .def_property_readonly("frame_skip", &data::FrameDataset::effective_skip)
      .def(
          "batch",
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
      .def(
          "batch",
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
}

}  // namespace fregan::python
