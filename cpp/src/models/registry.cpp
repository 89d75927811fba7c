#include "fregan/models/registry.h"

#include <functional>
#include <map>

#include <torch/torch.h>

#include "fregan/error.h"
#include "fregan/models/flow_aligned.h"
#include "fregan/models/flow_guided.h"
#include "fregan/models/fregan.h"
#include "fregan/models/sin_gan.h"
#include "fregan/models/kernel_interpolation.h"

namespace fregan::models {
namespace {

using Factory = std::function<GanModel(const nlohmann::json&, const nlohmann::json&)>;

// The kernel-prediction models (AdaConv, SepConv): trained with L1 as in their papers; FREGAN's
// discriminator is there so that `--adv-weight` can switch a GAN term on (off by default).
template <typename Options, typename Impl>
GanModel kernel_model(const std::string& name, const nlohmann::json& g, const nlohmann::json& d) {
  const auto go = g.get<Options>();
  const auto dopt = d.get<FreganDiscriminatorOptions>();
  GanModel m;
  m.name = name;
  m.generator_options = go;
  m.discriminator_options = dopt;
  m.generator = std::make_shared<Impl>(go);
  m.discriminator = std::make_shared<FreganDiscriminatorImpl>(dopt);
  m.default_loss = {{"l1", 1.0}, {"adversarial", 0.0}};
  return m;
}

GanModel create_seed(const std::string& name, const nlohmann::json& g, const nlohmann::json& d);

// A seed on flow-aligned frames (flow_aligned.h): "<seed>-aligned", the seed's discriminator and
// loss.  `seed_defaults` are the seed options that differ in this form (SepConv's small kernels).
GanModel aligned_model(const std::string& seed, const nlohmann::json& seed_defaults, const nlohmann::json& g,
                       const nlohmann::json& d) {
  auto options = g.get<FlowAlignedOptions>();
  auto seed_options = seed_defaults;
  seed_options.update(options.seed_options);
  GanModel m = create_seed(seed, seed_options, d);
  options.seed_options = m.generator_options;
  m.name = seed + "-aligned";
  m.generator_options = options;
  m.generator = std::make_shared<FlowAlignedNetImpl>(options, m.generator);
  return m;
}

const std::map<std::string, Factory>& factories() {
  static const std::map<std::string, Factory> table = {
      {"fregan",
       [](const nlohmann::json& g, const nlohmann::json& d) {
         const auto go = g.get<FreganGeneratorOptions>();
         const auto dopt = d.get<FreganDiscriminatorOptions>();
         GanModel m;
         m.name = "fregan";
         m.generator_options = go;
         m.discriminator_options = dopt;
         m.generator = std::make_shared<FreganGeneratorImpl>(go);
         m.discriminator = std::make_shared<FreganDiscriminatorImpl>(dopt);
         // The seed: SmoothL1 (beta 0.5) + a small adversarial term.
         m.default_loss = {{"smooth_l1", 1.0}, {"smooth_l1_beta", 0.5}, {"adversarial", 1e-3}};
         return m;
       }},
      {"fregan-flow",
       [](const nlohmann::json& g, const nlohmann::json& d) {
         const auto go = g.get<FlowGuidedOptions>();
         const auto dopt = d.get<FreganDiscriminatorOptions>();
         GanModel m;
         m.name = "fregan-flow";
         m.generator_options = go;
         m.discriminator_options = dopt;
         m.generator = std::make_shared<FlowGuidedNetImpl>(go);
         // FREGAN's discriminator, scoring the refined frame.
         m.discriminator = std::make_shared<FreganDiscriminatorImpl>(dopt);
         m.default_loss = {{"l1", 1.0}, {"ms_ssim", 0.5}, {"adversarial", 1e-3}};
         return m;
       }},
      {"sin-gan",
       [](const nlohmann::json& g, const nlohmann::json& d) {
         const auto go = g.get<SinGanGeneratorOptions>();
         const auto dopt = d.get<SinGanDiscriminatorOptions>();
         GanModel m;
         m.name = "sin-gan";
         m.generator_options = go;
         m.discriminator_options = dopt;
         m.generator = std::make_shared<SinGanGeneratorImpl>(go);
         m.discriminator = std::make_shared<SinGanDiscriminatorImpl>(dopt);
         // The seed's terms, equally weighted (L1 and 1 - MS-SSIM are both ~0.01-0.1 near the
         // average-frame start, the clipping term ~0 once outputs stay in range) + a small
         // adversarial term as for FREGAN; the pre-refinement frame (refine on) gets the same
         // reconstruction terms (intermediate = 1).
         m.default_loss = {{"l1", 1.0}, {"ms_ssim", 1.0}, {"clipping", 1.0}, {"adversarial", 1e-3}};
         return m;
       }},
      {"sepconv", [](const nlohmann::json& g, const nlohmann::json& d) {
         return kernel_model<SepConvOptions, SepConvImpl>("sepconv", g, d);
       }},
      {"adaconv", [](const nlohmann::json& g, const nlohmann::json& d) {
         return kernel_model<AdaConvOptions, AdaConvImpl>("adaconv", g, d);
       }},
      {"fregan-aligned", [](const nlohmann::json& g, const nlohmann::json& d) {
         return aligned_model("fregan", nlohmann::json::object(), g, d);
       }},
      {"sin-gan-aligned", [](const nlohmann::json& g, const nlohmann::json& d) {
         return aligned_model("sin-gan", nlohmann::json::object(), g, d);
       }},
      {"sepconv-aligned", [](const nlohmann::json& g, const nlohmann::json& d) {
         return aligned_model("sepconv", {{"kernel_size", 5}}, g, d);
       }},
      {"adaconv-aligned", [](const nlohmann::json& g, const nlohmann::json& d) {
         return aligned_model("adaconv", {{"kernel_size", 5}}, g, d);
       }},
  };
  return table;
}

GanModel create_seed(const std::string& name, const nlohmann::json& g, const nlohmann::json& d) {
  return factories().at(name)(g, d);
}

}  // namespace

std::vector<std::string> model_names() {
  std::vector<std::string> names;
  for (const auto& [name, _] : factories()) names.push_back(name);
  return names;
}

GanModel create_model(const std::string& name, const nlohmann::json& generator_options,
                      const nlohmann::json& discriminator_options) {
  const auto& table = factories();
  const auto it = table.find(name);
  if (it == table.end()) {
    std::string known;
    for (const auto& n : model_names()) known += (known.empty() ? "" : ", ") + n;
    throw InvalidArgument("unknown model '" + name + "' (known: " + known + ")");
  }
  return it->second(generator_options.is_null() ? nlohmann::json::object() : generator_options,
                    discriminator_options.is_null() ? nlohmann::json::object() : discriminator_options);
}

}  // namespace fregan::models
