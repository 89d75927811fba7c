#pragma once
// Models by name: what the CLI's --model, checkpoints and the Python API refer to.
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fregan/models/interpolation_net.h"

namespace fregan::models {

// A generator/discriminator pair built from a model name and its options (JSON objects whose
// keys are the fields of the model's options structs; missing keys take the documented defaults).
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

// Throws InvalidArgument for an unknown name (listing the known ones) or a bad option.
GanModel create_model(const std::string& name, const nlohmann::json& generator_options = nlohmann::json::object(),
                      const nlohmann::json& discriminator_options = nlohmann::json::object());

std::vector<std::string> model_names();

}  // namespace fregan::models
