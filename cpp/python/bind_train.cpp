// fregan._core: the three training loops, each from a dict of its options (the same JSON as the
// checkpoint header's trainer_options and `fregan train`'s flags).
#include "bind.h"

#include "fregan/infer/evaluate.h"
#include "fregan/infer/upscaler.h"
#include "fregan/train/dcgan_trainer.h"
#include "fregan/train/distributed.h"
#include "fregan/train/sr_trainer.h"
#include "fregan/train/trainer.h"

namespace fregan::python {
namespace {

// The fields of every family's progress record; the family's step figures are added by the caller.
template <typename Stats, typename Validation>
py::dict progress_dict(const train::RunProgress<Stats, Validation>& p) {
  py::dict d;
  d["step"] = p.step;
  d["total_steps"] = p.total_steps;
  d["d_loss"] = p.last.d_loss;
  d["g_loss"] = p.last.g_loss;
  d["samples_per_second"] = p.samples_per_second;
  d["eta_seconds"] = p.eta_seconds;
  return d;
}

// The last fields of the progress dict of a family whose steps report loss terms and whose
// validation is PSNR/SSIM (interpolation, SpectraFrame).
template <typename Stats, typename Validation>
py::dict with_terms_and_validation(py::dict d, const train::RunProgress<Stats, Validation>& p) {
  py::dict terms;
  for (const auto& [name, value] : p.last.terms) terms[py::str(name)] = value;
  d["terms"] = terms;
  if (p.validation) d["validation"] = json_to_py(infer::to_json(*p.validation));
  return d;
}

// What fit returns (the last validation) with the step the trainer reached.
template <typename Trainer, typename Callback>
nlohmann::json validated_fit(Trainer& trainer, const Callback& callback) {
  nlohmann::json result = infer::to_json(trainer.fit(callback));
  result["step"] = trainer.current_step();
  return result;
}

// Defines `name`(options: dict, callback=None): builds the family's trainer from `options`, runs
// fit with the Python callback (dicts made by to_dict) without the GIL, and returns what
// `finish(trainer, callback)` makes of it.
template <typename Trainer, typename Options, typename Progress, typename ToDict, typename Finish>
void def_trainer(py::module_& m, const char* name, ToDict to_dict, Finish finish, const char* doc) {
  m.def(
      name,
      [to_dict, finish](const py::dict& options, py::object callback) {
        const auto o = options_from<Options>(options);
        PythonProgressCallback<Progress> progress(std::move(callback), to_dict);
        nlohmann::json result;
        {
          py::gil_scoped_release release;
          Trainer trainer(o);
          result = finish(trainer, progress.function());
        }
        progress.rethrow_if_stopped_by_python();
        return json_to_py(result);
      },
      py::arg("options"), py::arg("callback") = py::none(), doc);
}

}  // namespace

void bind_train(py::module_& m) {
  m.def("distributed_available", &train::distributed_available,
        "Whether this build can train over several processes (LibTorch c10d with Gloo).");
  def_trainer<train::Trainer, train::TrainerOptions, train::Progress>(
      m, "train",
      [](const train::Progress& p) {
        py::dict d = progress_dict(p);
        d["g_reconstruction"] = p.last.g_reconstruction;
        d["g_adversarial"] = p.last.g_adversarial;
        return with_terms_and_validation(d, p);
      },
      [](train::Trainer& trainer, const train::ProgressCallback& callback) { return validated_fit(trainer, callback); },
      "Runs the C++ training loop. options: dict of TrainerOptions fields; callback(progress: dict) -> bool|None "
      "is called every step (return False to stop).");
  def_trainer<train::DcganTrainer, train::DcganTrainerOptions, train::DcganProgress>(
      m, "train_dcgan",
      [](const train::DcganProgress& p) {
        py::dict d = progress_dict(p);
        d["d_real"] = p.last.d_real;
        d["d_fake"] = p.last.d_fake;
        d["lr_scale"] = p.lr_scale;
        d["rollbacks"] = p.rollbacks;
        if (!p.event.empty()) d["event"] = p.event;
        if (!p.sample_grid.empty()) d["sample_grid"] = p.sample_grid;
        if (p.validation) {
          d["diversity_std_ratio"] = p.validation->std_ratio;
          d["diversity_distance_ratio"] = p.validation->distance_ratio;
          d["collapsed"] = p.validation->collapsed;
        }
        return d;
      },
      [](train::DcganTrainer& trainer, const train::DcganProgressCallback& callback) {
        trainer.fit(callback);
        return nlohmann::json{
            {"step", trainer.current_step()}, {"lr_scale", trainer.lr_scale()}, {"rollbacks", trainer.rollbacks()}};
      },
      "Runs the C++ DCGAN training loop. options: dict of DcganTrainerOptions fields; callback(progress: dict) -> "
      "bool|None is called every step (return False to stop).");
  def_trainer<train::SrTrainer, train::SrTrainerOptions, train::SrProgress>(
      m, "train_spectraframe",
      [](const train::SrProgress& p) { return with_terms_and_validation(progress_dict(p), p); },
      [](train::SrTrainer& trainer, const train::SrProgressCallback& callback) {
        nlohmann::json result = validated_fit(trainer, callback);
        result["perceptual"] = trainer.perceptual_source();
        return result;
      },
      "Runs the C++ SpectraFrame training loop. options: dict of SrTrainerOptions fields; callback(progress: dict) "
      "-> bool|None is called every step (return False to stop). Returns the last validation (model and bicubic "
      "PSNR/SSIM), the step and what the perceptual term compared.");
}

}  // namespace fregan::python
