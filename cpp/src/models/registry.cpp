#include "fregan/models/registry.h"

#include <map>

#include <torch/torch.h>

#include "fregan/error.h"
#include "fregan/models/dcgan.h"
#include "fregan/models/flow_aligned.h"
#include "fregan/models/flow_guided.h"
#include "fregan/models/fregan.h"
#include "fregan/models/kernel_interpolation.h"
#include "fregan/models/sin_gan.h"
#include "fregan/models/spectraframe.h"

namespace fregan::models {
namespace {

const char* const kInterpolationUse = "fregan interpolate / fregan.interpolate";

// An interpolation family: Generator and Discriminator are the Impl classes, built from their
// options structs (read strictly from JSON).
template <typename GeneratorOptions, typename Generator, typename DiscriminatorOptions, typename Discriminator>
ModelFamily interpolation_family(const std::string& name, nlohmann::json default_loss) {
  ModelFamily family;
  family.name = name;
  family.task = Task::kInterpolate;
  family.description = "the interpolation model '" + name + "'";
  family.use_with = kInterpolationUse;
  family.default_loss = std::move(default_loss);
  family.build = [name](const nlohmann::json& g, const nlohmann::json& d, bool with_discriminator) {
    const auto go = g.get<GeneratorOptions>();
    const auto dopt = d.get<DiscriminatorOptions>();
    AnyModel m;
    m.name = name;
    m.generator_options = go;
    m.discriminator_options = dopt;
    m.generator = std::make_shared<Generator>(go);
    if (with_discriminator) m.discriminator = std::make_shared<Discriminator>(dopt);
    return m;
  };
  return family;
}

// A family whose model is a struct {generator_options, discriminator_options, generator,
// discriminator} made by `create(g, d, with_discriminator)` (DCGAN, SpectraFrame).
template <typename Create>
ModelFamily struct_family(const std::string& name, Task task, std::string description, std::string use_with,
                          Create create) {
  ModelFamily family;
  family.name = name;
  family.task = task;
  family.description = std::move(description);
  family.use_with = std::move(use_with);
  family.build = [name, create](const nlohmann::json& g, const nlohmann::json& d, bool with_discriminator) {
    auto built = create(g, d, with_discriminator);
    AnyModel m;
    m.name = name;
    m.generator_options = std::move(built.generator_options);
    m.discriminator_options = std::move(built.discriminator_options);
    m.generator = built.generator.ptr();
    if (built.discriminator) m.discriminator = built.discriminator.ptr();
    return m;
  };
  return family;
}

// A seed on flow-aligned frames (flow_aligned.h), "<seed>-aligned": the seed's networks and loss
// around four-frame warping.  `seed_defaults` are the seed options that differ in this form
// (SepConv's small kernels).
ModelFamily aligned_family(const ModelFamily& seed, nlohmann::json seed_defaults) {
  ModelFamily family = seed;
  family.name = seed.name + "-aligned";
  family.description = "the interpolation model '" + family.name + "'";
  family.build = [name = family.name, seed_name = seed.name, seed_defaults](
                     const nlohmann::json& g, const nlohmann::json& d, bool with_discriminator) {
    auto options = g.get<FlowAlignedOptions>();
    auto seed_options = seed_defaults;
    seed_options.update(options.seed_options);
    AnyModel m = model_family(seed_name).build(seed_options, d, with_discriminator);
    options.seed_options = m.generator_options;
    m.name = name;
    m.generator_options = options;
    m.generator =
        std::make_shared<FlowAlignedNetImpl>(options, std::dynamic_pointer_cast<InterpolationNetImpl>(m.generator));
    return m;
  };
  return family;
}

// Every family.  Adding one: its files under models/ and one entry here.
const std::map<std::string, ModelFamily>& families() {
  static const std::map<std::string, ModelFamily> table = [] {
    std::map<std::string, ModelFamily> t;
    auto add = [&t](ModelFamily family) { t.emplace(family.name, std::move(family)); };
    // The seed: SmoothL1 (beta 0.5) + a small adversarial term.
    add(interpolation_family<FreganGeneratorOptions, FreganGeneratorImpl, FreganDiscriminatorOptions,
                             FreganDiscriminatorImpl>(
        "fregan", {{"smooth_l1", 1.0}, {"smooth_l1_beta", 0.5}, {"adversarial", 1e-3}}));
    // FREGAN's discriminator, scoring the refined frame.
    add(interpolation_family<FlowGuidedOptions, FlowGuidedNetImpl, FreganDiscriminatorOptions, FreganDiscriminatorImpl>(
        "fregan-flow", {{"l1", 1.0}, {"ms_ssim", 0.5}, {"adversarial", 1e-3}}));
    // The seed's terms, equally weighted (L1 and 1 - MS-SSIM are both ~0.01-0.1 near the
    // average-frame start, the clipping term ~0 once outputs stay in range) + a small adversarial
    // term as for FREGAN; the pre-refinement frame (refine on) gets the same reconstruction terms
    // (intermediate = 1).
    add(interpolation_family<SinGanGeneratorOptions, SinGanGeneratorImpl, SinGanDiscriminatorOptions,
                             SinGanDiscriminatorImpl>(
        "sin-gan", {{"l1", 1.0}, {"ms_ssim", 1.0}, {"clipping", 1.0}, {"adversarial", 1e-3}}));
    // The kernel-prediction models (AdaConv, SepConv): trained with L1 as in their papers; FREGAN's
    // discriminator is there so that `--adv-weight` can switch a GAN term on (off by default).
    add(interpolation_family<SepConvOptions, SepConvImpl, FreganDiscriminatorOptions, FreganDiscriminatorImpl>(
        "sepconv", {{"l1", 1.0}, {"adversarial", 0.0}}));
    add(interpolation_family<AdaConvOptions, AdaConvImpl, FreganDiscriminatorOptions, FreganDiscriminatorImpl>(
        "adaconv", {{"l1", 1.0}, {"adversarial", 0.0}}));
    add(aligned_family(t.at("fregan"), nlohmann::json::object()));
    add(aligned_family(t.at("sin-gan"), nlohmann::json::object()));
    add(aligned_family(t.at("sepconv"), {{"kernel_size", 5}}));
    add(aligned_family(t.at("adaconv"), {{"kernel_size", 5}}));
    add(struct_family(kDcganModelName, Task::kGenerate, "a DCGAN (unconditional frame generation)",
                      "fregan generate / fregan.generate", &create_dcgan));
    add(struct_family(kSpectraFrameModelName, Task::kUpscale, "SpectraFrame (x4 super-resolution)",
                      "fregan upscale / fregan.upscale", &create_spectraframe));
    return t;
  }();
  return table;
}

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

}  // namespace

const char* task_name(Task task) {
  switch (task) {
    case Task::kInterpolate:
      return "interpolate";
    case Task::kUpscale:
      return "upscale";
    case Task::kGenerate:
      return "generate";
  }
  return "?";
}

const ModelFamily& model_family(const std::string& name) {
  const auto& table = families();
  const auto it = table.find(name);
  if (it == table.end()) throw InvalidArgument("unknown model '" + name + "' (known: " + join(all_model_names()) + ")");
  return it->second;
}

Task model_task(const std::string& name) { return model_family(name).task; }

AnyModel build_model(const std::string& name, const nlohmann::json& generator_options,
                     const nlohmann::json& discriminator_options, bool with_discriminator) {
  return model_family(name).build(generator_options.is_null() ? nlohmann::json::object() : generator_options,
                                  discriminator_options.is_null() ? nlohmann::json::object() : discriminator_options,
                                  with_discriminator);
}

GanModel as_interpolation_model(AnyModel model) {
  const ModelFamily& family = model_family(model.name);
  require(family.task == Task::kInterpolate, "model '" + model.name + "' is " + family.description +
                                                 ", not an interpolation model: use it with " + family.use_with);
  GanModel m;
  m.name = std::move(model.name);
  m.generator_options = std::move(model.generator_options);
  m.discriminator_options = std::move(model.discriminator_options);
  m.default_loss = family.default_loss;
  m.generator = std::dynamic_pointer_cast<InterpolationNetImpl>(model.generator);
  m.discriminator = std::dynamic_pointer_cast<FrameDiscriminatorImpl>(model.discriminator);
  require(m.generator != nullptr && (m.discriminator != nullptr) == (model.discriminator != nullptr),
          "model '" + m.name + "' is registered as an interpolation model but its networks are not");
  return m;
}

GanModel create_model(const std::string& name, const nlohmann::json& generator_options,
                      const nlohmann::json& discriminator_options) {
  // The task first: building a DCGAN from interpolation options would fail with a stranger message.
  const ModelFamily& family = model_family(name);
  require(family.task == Task::kInterpolate, "model '" + name + "' is " + family.description +
                                                 ", not an interpolation model: use it with " + family.use_with);
  return as_interpolation_model(build_model(name, generator_options, discriminator_options));
}

std::vector<std::string> model_names() { return model_names(Task::kInterpolate); }

std::vector<std::string> model_names(Task task) {
  std::vector<std::string> names;
  for (const auto& [name, family] : families()) {
    if (family.task == task) names.push_back(name);
  }
  return names;
}

std::vector<std::string> all_model_names() {
  std::vector<std::string> names;
  for (const auto& [name, _] : families()) names.push_back(name);
  return names;
}

}  // namespace fregan::models
