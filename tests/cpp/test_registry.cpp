// The model registry (issue 16): every family by name, its task, its one save/load.
#include <algorithm>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "fregan/error.h"
#include "fregan/models/checkpoint.h"
#include "fregan/models/dcgan.h"
#include "fregan/models/registry.h"
#include "fregan/models/spectraframe.h"
#include "test_util.h"

using namespace fregan;

namespace {

// Small options for every family, so each builds and saves in well under a second.
nlohmann::json small_generator(const std::string& name) {
  if (name == "fregan") return {{"base_channels", 8}, {"max_channels", 16}, {"levels", 3}};
  if (name == "fregan-flow") return {{"base_channels", 8}};
  const std::string aligned = "-aligned";
  if (name.size() > aligned.size() && name.compare(name.size() - aligned.size(), aligned.size(), aligned) == 0) {
    return {{"seed_options", small_generator(name.substr(0, name.size() - aligned.size()))}};
  }
  if (name == "dcgan") {
    return {{"latent_dim", 8}, {"height", 32},       {"width", 64},
            {"levels", 3},     {"base_channels", 4}, {"max_channels", 16}};
  }
  return nlohmann::json::object();
}

nlohmann::json small_discriminator(const std::string& name) {
  if (name == "dcgan") return {{"levels", 3}, {"base_channels", 4}, {"max_channels", 16}};
  if (name == "fregan" || name == "fregan-flow" || name == "sepconv" || name == "adaconv" || name == "fregan-aligned" ||
      name == "sepconv-aligned" || name == "adaconv-aligned") {
    return {{"base_channels", 8}, {"levels", 3}};
  }
  return nlohmann::json::object();
}

}  // namespace

TEST(ModelRegistry, EveryFamilyHasItsTask) {
  EXPECT_EQ(models::all_model_names(),
            (std::vector<std::string>{"adaconv", "adaconv-aligned", "dcgan", "fregan", "fregan-aligned", "fregan-flow",
                                      "sepconv", "sepconv-aligned", "sin-gan", "sin-gan-aligned", "spectraframe"}));
  EXPECT_EQ(models::model_names(),
            (std::vector<std::string>{"adaconv", "adaconv-aligned", "fregan", "fregan-aligned", "fregan-flow",
                                      "sepconv", "sepconv-aligned", "sin-gan", "sin-gan-aligned"}));
  EXPECT_EQ(models::model_names(models::Task::kGenerate), std::vector<std::string>{"dcgan"});
  EXPECT_EQ(models::model_names(models::Task::kUpscale), std::vector<std::string>{"spectraframe"});
  EXPECT_EQ(models::model_task("sin-gan"), models::Task::kInterpolate);
  EXPECT_EQ(models::model_task(models::kDcganModelName), models::Task::kGenerate);
  EXPECT_EQ(models::model_task(models::kSpectraFrameModelName), models::Task::kUpscale);
  EXPECT_STREQ(models::task_name(models::Task::kInterpolate), "interpolate");
  EXPECT_STREQ(models::task_name(models::Task::kUpscale), "upscale");
  EXPECT_STREQ(models::task_name(models::Task::kGenerate), "generate");
  try {
    models::model_task("nope");
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("unknown model 'nope' (known: adaconv, adaconv-aligned, dcgan, fregan"),
              std::string::npos)
        << e.what();
  }
  // An interpolation model only from an interpolation family.
  try {
    models::create_model("dcgan");
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("not an interpolation model: use it with fregan generate"), std::string::npos)
        << e.what();
  }
  // The default loss comes with the family.
  EXPECT_EQ(models::model_family("fregan").default_loss.at("smooth_l1_beta"), 0.5);
  EXPECT_EQ(models::create_model("sepconv").default_loss, (nlohmann::json{{"l1", 1.0}, {"adversarial", 0.0}}));
}

TEST(ModelRegistry, EveryFamilySavesAndLoadsThroughOnePath) {
  test::TempDir dir;
  for (const auto& name : models::all_model_names()) {
    SCOPED_TRACE(name);
    torch::manual_seed(0);
    const auto built = models::build_model(name, small_generator(name), small_discriminator(name));
    ASSERT_TRUE(built.generator && built.discriminator);
    const std::string path = dir / (name + ".pt");
    models::CheckpointMeta meta;
    meta.step = 7;
    models::save_checkpoint(path, meta, built);

    models::CheckpointMeta read;
    const auto loaded = models::load_checkpoint(path, torch::kCPU, &read);
    EXPECT_EQ(read.model, name);
    EXPECT_EQ(read.step, 7);
    EXPECT_TRUE(read.has_discriminator);
    EXPECT_EQ(loaded.name, name);
    EXPECT_EQ(loaded.generator_options, built.generator_options);
    EXPECT_EQ(models::weights_checksum(*loaded.generator), models::weights_checksum(*built.generator));
    ASSERT_TRUE(loaded.discriminator);
    EXPECT_EQ(models::weights_checksum(*loaded.discriminator), models::weights_checksum(*built.discriminator));
    EXPECT_FALSE(models::load_checkpoint(path, torch::kCPU, nullptr, /*with_discriminator=*/false).discriminator);

    // Stripping keeps the generator only, for every family.
    const std::string stripped = dir / (name + "-stripped.pt");
    models::strip_checkpoint(path, stripped, /*overwrite=*/false);
    EXPECT_FALSE(models::read_checkpoint_meta(stripped).has_discriminator);
    EXPECT_EQ(models::weights_checksum(*models::load_checkpoint(stripped, torch::kCPU).generator),
              models::weights_checksum(*built.generator));

    // The typed loaders take their own family and refuse the others.
    const auto task = models::model_task(name);
    if (task == models::Task::kInterpolate) {
      EXPECT_EQ(models::load_model(path, torch::kCPU).name, name);
      EXPECT_THROW(models::load_dcgan(path, torch::kCPU), CheckpointError);
    } else {
      EXPECT_THROW(models::load_model(path, torch::kCPU), CheckpointError);
    }
    if (task == models::Task::kGenerate) {
      EXPECT_EQ(models::load_dcgan(path, torch::kCPU).generator_options, built.generator_options);
    } else {
      EXPECT_THROW(models::load_dcgan(path, torch::kCPU), CheckpointError);
    }
    if (task == models::Task::kUpscale) {
      EXPECT_EQ(models::load_spectraframe(path, torch::kCPU).generator_options, built.generator_options);
    } else {
      EXPECT_THROW(models::load_spectraframe(path, torch::kCPU), CheckpointError);
    }
  }
}
