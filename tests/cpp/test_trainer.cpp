#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <torch/torch.h>

#include "fregan/error.h"
#include "fregan/infer/interpolator.h"
#include "fregan/io/image.h"
#include "fregan/metrics/metrics.h"
#include "fregan/models/checkpoint.h"
#include "fregan/train/trainer.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace fregan;

namespace {

train::TrainerOptions small_options(const std::string& data, const std::string& out) {
  train::TrainerOptions o;
  o.data = {data};
  o.val_fraction = 0;
  o.out_dir = out;
  o.generator_options = {{"base_channels", 16}, {"max_channels", 64}, {"levels", 3}};
  o.discriminator_options = {{"base_channels", 8}, {"levels", 3}};
  o.batch_size = 4;
  o.crop = 64;
  o.workers = 1;
  o.log_every = 1000;
  o.device = "cpu";
  return o;
}

}  // namespace

TEST(Trainer, OneTripletIsLearnedAbove30DbInBoundedSteps) {
  test::TempDir dir;
  test::write_moving_clip(dir / "clip", 3);  // exactly one triplet
  auto o = small_options(dir / "clip", dir / "run");
  o.hflip = o.vflip = false;
  o.temporal_reverse = false;
  o.lr_g = 2e-3;
  o.steps = 300;
  o.checkpoint_every = 1000;
  train::Trainer trainer(o);
  data::TripletDatasetOptions dopt;
  dopt.sources = o.data;
  data::TripletDataset ds(dopt);
  data::TripletLoaderOptions lo;
  lo.batch_size = 4;
  lo.crop = 64;
  lo.hflip = lo.vflip = false;
  lo.temporal_reverse = false;
  const auto before = trainer.validate(ds, 0);
  EXPECT_LT(before.model.psnr, 26.0);  // the untrained model is the average frame: ghosting
  for (int s = 0; s < o.steps; ++s) trainer.step(data::TripletLoader::make_batch(ds, lo, s));
  const auto after = trainer.validate(ds, 0);
  EXPECT_GT(after.model.psnr, 30.0) << "average baseline " << after.average.psnr;
  EXPECT_GT(after.model.psnr, after.average.psnr + 4.0);
}

TEST(Trainer, ResumeContinuesExactly) {
  test::TempDir dir;
  test::write_moving_clip(dir / "clip", 6);
  auto o = small_options(dir / "clip", dir / "straight");
  o.steps = 4;
  o.checkpoint_every = 2;
  train::Trainer straight(o);
  straight.fit();

  auto first = o;
  first.out_dir = dir / "resumed";
  first.steps = 2;
  train::Trainer(first).fit();
  auto second = first;
  second.steps = 4;
  second.resume = true;
  train::Trainer resumed(second);
  resumed.fit();
  EXPECT_EQ(resumed.current_step(), 4);

  auto a = models::load_model(dir / "straight/last.pt", torch::kCPU);
  auto b = models::load_model(dir / "resumed/last.pt", torch::kCPU);
  const auto pa = a.generator->named_parameters(), pb = b.generator->named_parameters();
  for (const auto& p : pa) EXPECT_TRUE(torch::equal(p.value(), pb[p.key()])) << p.key();
  const auto da = a.discriminator->named_parameters(), db = b.discriminator->named_parameters();
  for (const auto& p : da) EXPECT_TRUE(torch::equal(p.value(), db[p.key()])) << p.key();
  // The log holds each step once.
  std::ifstream log(dir / "resumed/log.jsonl");
  int lines = 0;
  for (std::string line; std::getline(log, line);) ++lines;
  EXPECT_EQ(lines, 2);  // log_every = 1000: only the final step of each run (2 and 4)
}

TEST(Trainer, RefusesToClobberARunAndBadOptions) {
  test::TempDir dir;
  test::write_moving_clip(dir / "clip", 4);
  auto o = small_options(dir / "clip", dir / "run");
  o.steps = 1;
  train::Trainer(o).fit();
  EXPECT_THROW(train::Trainer(o).fit(), InvalidArgument);  // run exists, no --resume/--overwrite
  auto bad = o;
  bad.steps = -1;  // 0 is allowed: it saves the untrained model
  EXPECT_THROW(train::Trainer{bad}, InvalidArgument);
  bad = o;
  bad.model = "nope";
  EXPECT_THROW(train::Trainer{bad}, InvalidArgument);
  bad = o;
  bad.device = "tpu";
  EXPECT_THROW(train::Trainer{bad}, InvalidArgument);
  // JSON options are read strictly.
  EXPECT_THROW((nlohmann::json{{"stepz", 3}}.get<train::TrainerOptions>()), InvalidArgument);
  EXPECT_EQ((nlohmann::json{{"steps", 3}}.get<train::TrainerOptions>().steps), 3);
}

TEST(Trainer, FourFrameTrainingStartsAtTheClassicalMethodAndValidatesBesideIt) {
  // An accelerating square: x = 8 + 2 i + i^2 / 2 over 9 frames.
  test::TempDir dir;
  fs::create_directories(dir / "clip");
  for (int i = 0; i < 9; ++i) {
    cv::imwrite(dir / ("clip/" + std::to_string(i) + ".png"), test::moving_square(128, 96, 8 + 2 * i + i * i / 2));
  }
  auto o = small_options(dir / "clip", dir / "run");
  o.model = "fregan-flow";
  o.generator_options = {{"base_channels", 8}, {"levels", 2}, {"motion_inputs", true}, {"kaiming_init", true}};
  o.neighbours = true;
  o.lr_g = 1e-3;
  train::Trainer trainer(o);
  data::TripletDatasetOptions dopt;
  dopt.sources = o.data;
  dopt.neighbours = true;
  dopt.drop_static = false;
  const data::TripletDataset ds(dopt);
  ASSERT_EQ(ds.size(), 3u);  // n = 2, 3, 4 (n - 2 >= 0, n + 4 <= 8)
  const auto before = trainer.validate(ds, 0);
  ASSERT_TRUE(before.classical.has_value());
  // The zero head is the classical method exactly.
  EXPECT_EQ(before.model.psnr, before.classical->psnr);
  data::TripletLoaderOptions lo;
  lo.batch_size = 4;
  lo.crop = 64;
  for (int s = 0; s < 10; ++s) {
    const auto batch = data::TripletLoader::make_batch(ds, lo, s);
    ASSERT_TRUE(batch.before.defined());
    trainer.step(batch);
  }
  const auto after = trainer.validate(ds, 0);
  EXPECT_NE(after.model.psnr, before.model.psnr);  // the net moved
  ASSERT_TRUE(after.classical.has_value());
  EXPECT_EQ(after.classical->psnr, before.classical->psnr);  // the bar stays where it was
  EXPECT_TRUE(infer::to_json(after).contains("classical"));
  // Models whose untrained form is no classical method report none.
  auto plain = small_options(dir / "clip", dir / "run2");
  plain.neighbours = true;
  train::Trainer fregan(plain);
  EXPECT_FALSE(fregan.validate(ds, 1).classical.has_value());
}

TEST(Trainer, ZeroStepsSaveTheUntrainedModelValidatedAsTheClassicalMethod) {
  // How fregan-flow's classical four-frame path ships while no training beats it: the project's
  // own training command with --steps 0.
  test::TempDir dir;
  fs::create_directories(dir / "clip");
  for (int i = 0; i < 7; ++i) {
    cv::imwrite(dir / ("clip/" + std::to_string(i) + ".png"), test::moving_square(96, 64, 8 + 3 * i + i * i / 2));
  }
  auto o = small_options(dir / "clip", dir / "run");
  o.model = "fregan-flow";
  o.generator_options = {{"base_channels", 8}, {"levels", 2}, {"kaiming_init", true}};
  o.val_data = {dir / "clip"};
  o.neighbours = true;
  o.steps = 0;
  train::Trainer trainer(o);
  const auto result = trainer.fit();
  ASSERT_TRUE(result.classical.has_value());
  EXPECT_EQ(result.model.psnr, result.classical->psnr);
  EXPECT_GT(result.model.psnr, result.average.psnr + 3);  // warping, not averaging: the square moves
  const fs::path run = dir / "run";
  for (const char* name : {"best.pt", "last.pt"}) {
    ASSERT_TRUE(fs::exists(run / name)) << name;
    const auto meta = models::read_checkpoint_meta(run / name);
    EXPECT_EQ(meta.step, 0);
    EXPECT_DOUBLE_EQ(meta.metrics.at("model").at("psnr").get<double>(), result.model.psnr);
  }
  // The saved model is the untrained one: its head is zero.
  const auto model = models::load_model(run / "best.pt", torch::kCPU);
  for (const auto& p : model.generator->named_parameters()) {
    if (p.key().rfind("head", 0) == 0) EXPECT_EQ(p.value().count_nonzero().item<int64_t>(), 0) << p.key();
  }
  o.steps = -1;
  o.out_dir = dir / "run3";
  EXPECT_THROW(train::Trainer{o}, InvalidArgument);
}
