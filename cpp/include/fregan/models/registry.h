#pragma once
// Every model family by name: what the CLI's --model, checkpoints and the Python API refer to.
// A family is one registration in registry.cpp (its task, how to build its networks from options,
// its default loss); checkpoints save and load every family through it (models/checkpoint.h), and
// the faces choose a trainer, a runner or a Python class by the family's task.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fregan/models/interpolation_net.h"

namespace fregan::models {

// What a family's generator does.
enum class Task {
  kInterpolate,  // two frames (and their neighbours) -> frames between them (Interpolator, Trainer)
  kUpscale,      // a frame and its neighbours -> the frame x4 (Upscaler, SrTrainer)
  kGenerate,     // a latent vector -> a frame (FrameGenerator, DcganTrainer)
};

// "interpolate", "upscale", "generate".
const char* task_name(Task task);

// A family's networks as modules, whatever the family: what checkpoints save and load.
struct AnyModel {
  std::string name;                      // registry name
  nlohmann::json generator_options;      // complete, defaults filled in
  nlohmann::json discriminator_options;  // complete, defaults filled in
  std::shared_ptr<torch::nn::Module> generator;
  std::shared_ptr<torch::nn::Module> discriminator;  // null when not built (stripped checkpoints)
};

struct ModelFamily {
  std::string name;
  Task task = Task::kInterpolate;
  // How messages name it when it is loaded for another task, and where it is used instead.
  std::string description;  // e.g. "a DCGAN (unconditional frame generation)"
  std::string use_with;     // e.g. "fregan generate / fregan.generate"
  // The default generator loss weights (for interpolation families losses::GeneratorLossWeights as
  // JSON; a run's TrainerOptions::loss overrides single keys).  Empty for the families whose
  // trainer's options hold them (DCGAN: BCE; SpectraFrame: losses::SrLossWeights).
  nlohmann::json default_loss = nlohmann::json::object();
  // Builds the generator and, if asked, the discriminator from JSON options (strict: unknown keys
  // and bad values throw InvalidArgument; missing keys take the documented defaults).
  std::function<AnyModel(const nlohmann::json& generator_options, const nlohmann::json& discriminator_options,
                         bool with_discriminator)>
      build;
};

// The family called `name`; throws InvalidArgument for an unknown name (listing the known ones).
const ModelFamily& model_family(const std::string& name);
Task model_task(const std::string& name);

// Builds any family's networks (model_family(name).build with null options read as {}).
AnyModel build_model(const std::string& name, const nlohmann::json& generator_options = nlohmann::json::object(),
                     const nlohmann::json& discriminator_options = nlohmann::json::object(),
                     bool with_discriminator = true);

// An interpolation family's generator/discriminator pair, typed for the Trainer, the Interpolator
// and the video job.
struct GanModel {
  std::string name;
  nlohmann::json generator_options;      // complete, defaults filled in
  nlohmann::json discriminator_options;  // complete, defaults filled in
  // The model's default generator loss weights (losses::GeneratorLossWeights as JSON); a training
  // run's TrainerOptions::loss overrides single keys.
  nlohmann::json default_loss;
  std::shared_ptr<InterpolationNetImpl> generator;
  std::shared_ptr<FrameDiscriminatorImpl> discriminator;
};

// Builds an interpolation model.  Throws InvalidArgument for an unknown name, a family of another
// task or a bad option.
GanModel create_model(const std::string& name, const nlohmann::json& generator_options = nlohmann::json::object(),
                      const nlohmann::json& discriminator_options = nlohmann::json::object());
// The interpolation families seen as GanModel (a null discriminator stays null).  Throws
// InvalidArgument for a family of another task.
GanModel as_interpolation_model(AnyModel model);

// The names of the interpolation families (what `fregan train --model` trains with the Trainer).
std::vector<std::string> model_names();
// The names of the families of `task`, and of every family.
std::vector<std::string> model_names(Task task);
std::vector<std::string> all_model_names();

}  // namespace fregan::models
