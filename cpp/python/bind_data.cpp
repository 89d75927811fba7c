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
namespace {

template <typename Dataset>
using DatasetClass = py::class_<Dataset, std::shared_ptr<Dataset>>;

// A dataset class built from a dict of its options struct's fields (loaded without the GIL), with
// its length.
template <typename Dataset, typename Options>
DatasetClass<Dataset> bind_dataset(py::module_& m, const char* name) {
  DatasetClass<Dataset> c(m, name);
  c.def(py::init([](const py::dict& options) {
          const auto o = options_from<Options>(options);
          py::gil_scoped_release release;
          return std::make_shared<Dataset>(o);
        }),
        py::arg("options"))
      .def("__len__", &Dataset::size);
  return c;
}

// dataset.batch(k, options): batch k of a dict of BatchOptions fields, made by `make(dataset,
// options, k)` without the GIL and handed to Python by `to_python`.
template <typename BatchOptions, typename Dataset, typename Batch, typename ToPython>
void def_batch(DatasetClass<Dataset>& c, Batch (*make)(const Dataset&, const BatchOptions&, int64_t),
               ToPython to_python) {
  c.def(
      "batch",
      [make, to_python](const Dataset& ds, int64_t k, const py::dict& options) {
        const auto o = options_from<BatchOptions>(options);
        Batch b;
        {
          py::gil_scoped_release release;
          b = make(ds, o, k);
        }
        return to_python(b);
      },
      py::arg("k"), py::arg("options"));
}

}  // namespace

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

  auto triplets = bind_dataset<data::TripletDataset, data::TripletDatasetOptions>(m, "TripletDataset");
  triplets
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
                             [](const data::TripletDataset& ds) { return json_to_py(data::to_json(ds.stats())); });
  def_batch<data::TripletLoaderOptions>(triplets, &data::TripletLoader::make_batch,
                                        [](const data::TripletBatch& b) { return py::make_tuple(b.f0, b.f1, b.f2); });

  auto frames = bind_dataset<data::FrameDataset, data::FrameDatasetOptions>(m, "FrameDataset");
  frames
      .def("__getitem__", [](const data::FrameDataset& ds,
                             int64_t i) { return bgr_to_array(ds.get(checked_index(i, ds.size(), "frame"))); })
      .def_property_readonly("frame_skip", &data::FrameDataset::effective_skip);
  def_batch<data::FrameBatchOptions>(frames, &data::make_frame_batch, [](const torch::Tensor& b) { return b; });

  auto sr = bind_dataset<data::SrDataset, data::SrDatasetOptions>(m, "SrDataset");
  def_batch<data::SrBatchOptions>(sr, &data::make_sr_batch,
                                  [](const data::SrBatch& b) { return py::make_tuple(b.hr, b.lr, b.neighbours); });
}

}  // namespace fregan::python
