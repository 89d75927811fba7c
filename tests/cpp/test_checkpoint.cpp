#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "fregan/error.h"
#include "fregan/infer/interpolator.h"
#include "fregan/models/checkpoint.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace fregan;

TEST(Checkpoint, RoundTripGivesBitIdenticalOutputs) {
  test::TempDir dir;
  torch::manual_seed(3);
  auto model = models::create_model("fregan", {{"base_channels", 8}, {"predict_residual", false}});
  // Move BatchNorm running statistics away from their initial values so they must be saved too.
  model.generator->train();
  for (int i = 0; i < 3; ++i) model.generator->forward(torch::rand({2, 3, 32, 32}), torch::rand({2, 3, 32, 32}));
  models::CheckpointMeta meta;
  meta.step = 17;
  models::save_checkpoint(dir / "m.pt", meta, model);

  const auto a = torch::rand({1, 3, 48, 64}), b = torch::rand({1, 3, 48, 64});
  model.generator->eval();
  torch::NoGradGuard no_grad;
  const auto expected = model.generator->forward(a, b);
  models::CheckpointMeta read;
  auto loaded = models::load_model(dir / "m.pt", torch::kCPU, &read);
  loaded.generator->eval();
  EXPECT_TRUE(torch::equal(loaded.generator->forward(a, b), expected));
  EXPECT_EQ(read.model, "fregan");
  EXPECT_EQ(read.step, 17);
  EXPECT_EQ(read.format_version, models::kCheckpointFormatVersion);
  EXPECT_EQ(read.generator_options.at("base_channels"), 8);
  EXPECT_FALSE(read.has_optimizers);
  // The zip's records are named "archive/...", not after the temporary file the save went through
  // (the first local file header: signature, then the name's length at byte 26 and the name at 30).
  std::ifstream file(dir / "m.pt", std::ios::binary);
  std::string header(64, '\0');
  file.read(header.data(), static_cast<std::streamsize>(header.size()));
  ASSERT_EQ(header.substr(0, 4), std::string("PK\x03\x04"));
  const size_t name_length = static_cast<uint8_t>(header[26]) | (static_cast<uint8_t>(header[27]) << 8);
  EXPECT_EQ(header.substr(30, std::min<size_t>(name_length, 8)), "archive/");
}

TEST(Checkpoint, CorruptForeignAndMissingFilesAreRefusedClearly) {
  test::TempDir dir;
  EXPECT_THROW(models::read_checkpoint_meta(dir / "missing.pt"), FileError);
  std::ofstream(dir / "garbage.pt") << "definitely not a checkpoint";
  try {
    models::read_checkpoint_meta(dir / "garbage.pt");
    FAIL();
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("garbage.pt"), std::string::npos);
  }
  // A torch archive that is not fregan's.
  torch::serialize::OutputArchive foreign;
  foreign.write("weights", torch::ones({3}));
  foreign.save_to(dir / "foreign.pt");
  try {
    models::load_model(dir / "foreign.pt", torch::kCPU);
    FAIL();
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("not a fregan checkpoint"), std::string::npos);
  }
  // A truncated real checkpoint.
  auto model = models::create_model("fregan", {{"base_channels", 4}});
  models::save_checkpoint(dir / "ok.pt", {}, model);
  const auto size = fs::file_size(dir / "ok.pt");
  fs::copy_file(dir / "ok.pt", dir / "cut.pt");
  fs::resize_file(dir / "cut.pt", size / 2);
  EXPECT_THROW(models::load_model(dir / "cut.pt", torch::kCPU), CheckpointError);
  EXPECT_THROW(infer::Interpolator(dir / "cut.pt", "cpu"), CheckpointError);
}

TEST(Checkpoint, NewerFormatAndUnknownModelAreRefused) {
  test::TempDir dir;
  auto write_header = [&](const std::string& name, const nlohmann::json& header) {
    torch::serialize::OutputArchive a;
    a.write("fregan_meta", c10::IValue(header.dump()));
    a.save_to(dir / name);
  };
  write_header("future.pt", {{"format", "fregan-checkpoint"}, {"format_version", 99}, {"model", "fregan"}});
  try {
    models::read_checkpoint_meta(dir / "future.pt");
    FAIL();
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("version 99"), std::string::npos);
  }
  write_header("alien.pt", {{"format", "fregan-checkpoint"}, {"format_version", 1}, {"model", "alien-net"}});
  EXPECT_THROW(models::load_model(dir / "alien.pt", torch::kCPU), CheckpointError);
}

TEST(Checkpoint, StrippedCheckpointKeepsTheGeneratorExactly) {
  test::TempDir dir;
  torch::manual_seed(4);
  auto model = models::create_model("fregan", {{"base_channels", 8}, {"predict_residual", false}});
  torch::optim::Adam opt(model.generator->parameters());
  torch::optim::Adam opt_d(model.discriminator->parameters());
  models::CheckpointMeta meta;
  meta.step = 9;
  models::save_checkpoint(dir / "full.pt", meta, model, &opt, &opt_d);
  models::strip_checkpoint(dir / "full.pt", dir / "small.pt", false);
  EXPECT_THROW(models::strip_checkpoint(dir / "full.pt", dir / "small.pt", false), InvalidArgument);
  EXPECT_LT(fs::file_size(dir / "small.pt"), fs::file_size(dir / "full.pt") / 2);
  const auto small = models::read_checkpoint_meta(dir / "small.pt");
  EXPECT_EQ(small.step, 9);
  EXPECT_FALSE(small.has_discriminator);
  EXPECT_FALSE(small.has_optimizers);
  const auto a = torch::rand({1, 3, 32, 32}), b = torch::rand({1, 3, 32, 32});
  auto full = models::load_model(dir / "full.pt", torch::kCPU),
       stripped = models::load_model(dir / "small.pt", torch::kCPU);
  full.generator->eval();
  stripped.generator->eval();
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(full.generator->forward(a, b), stripped.generator->forward(a, b)));
}
