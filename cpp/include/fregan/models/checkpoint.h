#pragma once
// fregan checkpoints: one torch archive holding a JSON header ("fregan_meta": format, format
// version, model name, options, step, ...) beside the weights of the generator, the
// discriminator and the optimizers.  The header is read first, so a foreign or newer file is
// refused with a message instead of being guessed at.
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include "fregan/models/dcgan.h"
#include "fregan/models/registry.h"
#include "fregan/models/spectraframe.h"

namespace torch::optim {
class Optimizer;
}
namespace torch::nn {
class Module;
}

namespace fregan::models {

constexpr const char* kCheckpointFormat = "fregan-checkpoint";
constexpr int kCheckpointFormatVersion = 1;

struct CheckpointMeta {
  std::string format = kCheckpointFormat;
  int format_version = kCheckpointFormatVersion;
  std::string fregan_version;
  std::string model;                 // registry name
  nlohmann::json generator_options;  // complete options of the model
  nlohmann::json discriminator_options;
  nlohmann::json trainer_options;  // how it was trained (informative, used by --resume)
  int64_t step = 0;                // optimizer steps done
  nlohmann::json metrics;          // last validation figures, if any
  nlohmann::json trainer_state;    // loop state a resume needs beyond the step (DCGAN: lr scale, rollbacks)
  bool has_discriminator = false;
  bool has_optimizers = false;
  // A checksum of the weights ({"algorithm": "fnv1a64-words", "generator": hex, "discriminator":
  // hex}) written with every checkpoint and checked on load, so a damaged file is refused instead
  // of running (an all-white output).  Empty in checkpoints from before it existed: those load.
  nlohmann::json weights_checksum;
};

// The checksum of a module's parameters and buffers (names, types, shapes and bytes, in name
// order), as recorded in weights_checksum.
std::string weights_checksum(const torch::nn::Module& module);

nlohmann::json to_json(const CheckpointMeta& meta);
CheckpointMeta meta_from_json(const nlohmann::json& j);

// Every family saves and loads through these two (the family's registration builds the
// networks the header names); the typed functions below are these plus a check of the family.
//
// Writes atomically (temporary file + rename): an interrupted save leaves the old file intact.
// The discriminator (model.discriminator) and optimizers may be null (an inference-only
// checkpoint).  Fills in meta's format fields, model name and options from `model`.
void save_checkpoint(const std::string& path, CheckpointMeta meta, const AnyModel& model,
                     torch::optim::Optimizer* optimizer_g = nullptr, torch::optim::Optimizer* optimizer_d = nullptr);
// Builds the model the header names (any family) and loads its weights onto `device`; the
// discriminator only if the file has one and `with_discriminator`.  `meta` receives the header
// with the model options completed (defaults of options newer than the file filled in).  Throws FileError (missing) or
// CheckpointError (corrupt, foreign, unsupported version, unknown model, weights that do not fit).
AnyModel load_checkpoint(const std::string& path, const torch::Device& device, CheckpointMeta* meta = nullptr,
                         bool with_discriminator = true);

// Reads only the header.  Throws FileError (missing) or CheckpointError (corrupt, foreign,
// unsupported version).
CheckpointMeta read_checkpoint_meta(const std::string& path);

// Interpolation models (the Trainer's, the Interpolator's).
void save_checkpoint(const std::string& path, CheckpointMeta meta, const GanModel& model,
                     torch::optim::Optimizer* optimizer_g = nullptr, torch::optim::Optimizer* optimizer_d = nullptr);
// Builds the interpolation model the header names and loads its weights onto `device` (the
// discriminator is always built, its weights loaded when the file has them).  A checkpoint of
// another task (DCGAN, SpectraFrame) is refused with a message naming where to use it.
GanModel load_model(const std::string& path, const torch::Device& device, CheckpointMeta* meta = nullptr);

// Writes `output` with the header and generator weights of `input` only, for every model family
// (what inference needs: a few MB instead of generator + discriminator + two Adam states).
// Refuses an existing output unless `overwrite`.
void strip_checkpoint(const std::string& input, const std::string& output, bool overwrite);

// Restores optimizer state saved with the model.  Throws CheckpointError if absent.
void load_optimizers(const std::string& path, const torch::Device& device, torch::optim::Optimizer& optimizer_g,
                     torch::optim::Optimizer* optimizer_d);

// DCGAN checkpoints: model "dcgan" (kDcganModelName).  load_dcgan throws CheckpointError for a
// checkpoint of another model.
// A run with an EMA of G's weights saves the EMA as `model.generator` (what inference loads and
// `strip` keeps) and the weights the optimizer updates as `training_generator`, read back by
// load_training_generator (false, `module` untouched, when the file has none).
void save_dcgan_checkpoint(const std::string& path, CheckpointMeta meta, const Dcgan& model,
                           torch::optim::Optimizer* optimizer_g = nullptr,
                           torch::optim::Optimizer* optimizer_d = nullptr,
                           const torch::nn::Module* training_generator = nullptr);
bool load_training_generator(const std::string& path, torch::nn::Module& module, const torch::Device& device);
Dcgan load_dcgan(const std::string& path, const torch::Device& device, CheckpointMeta* meta = nullptr,
                 bool with_discriminator = true);

// SpectraFrame (x4 video super-resolution) checkpoints: model "spectraframe"
// (kSpectraFrameModelName).  load_spectraframe throws CheckpointError for another model.
void save_spectraframe_checkpoint(const std::string& path, CheckpointMeta meta, const SpectraFrame& model,
                                  torch::optim::Optimizer* optimizer_g = nullptr,
                                  torch::optim::Optimizer* optimizer_d = nullptr);
SpectraFrame load_spectraframe(const std::string& path, const torch::Device& device, CheckpointMeta* meta = nullptr,
                               bool with_discriminator = true);

// Resuming a training run (DCGAN, SpectraFrame): checks that `meta` (the header of `path`) has
// these model options and a discriminator, copies the loaded weights into the trainer's modules
// and restores both optimizers.  Throws CheckpointError naming the mismatch.
void resume_from(const std::string& path, const CheckpointMeta& meta, const nlohmann::json& generator_options,
                 const nlohmann::json& discriminator_options, torch::nn::Module& generator,
                 torch::nn::Module& loaded_generator, torch::nn::Module& discriminator,
                 torch::nn::Module* loaded_discriminator, torch::optim::Optimizer& optimizer_g,
                 torch::optim::Optimizer& optimizer_d, const torch::Device& device);

// Copies the parameters and buffers of `src` into those of `dst` (the same architecture) in
// place, so optimizers holding dst's parameters stay valid: how the trainers resume.
void copy_weights(torch::nn::Module& dst, torch::nn::Module& src);

}  // namespace fregan::models
