#include <filesystem>
#include <fstream>
#include <set>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <torch/torch.h>

#include "fregan/error.h"
#include "fregan/infer/interpolator.h"
#include "fregan/io/image.h"
#include "fregan/metrics/metrics.h"
#include "fregan/models/checkpoint.h"
#include "fregan/train/dcgan_trainer.h"
#include "fregan/train/sr_trainer.h"
#include "fregan/train/trainer.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace fregan;

namespace {

train::TrainerOptions small_options(const std::string& data, const std::string& out) {
  train::TrainerOptions o;
  o.run.data = {data};
  o.val_fraction = 0;
  o.run.out_dir = out;
  o.run.generator_options = {{"base_channels", 16}, {"max_channels", 64}, {"levels", 3}};
  o.run.discriminator_options = {{"base_channels", 8}, {"levels", 3}};
  o.run.batch_size = 4;
  o.crop = 64;
  o.workers = 1;
  o.run.log_every = 1000;
  o.run.device = "cpu";
  return o;
}

}  // namespace

TEST(Trainer, OneTripletIsLearnedAbove30DbInBoundedSteps) {
  test::TempDir dir;
  test::write_moving_clip(dir / "clip", 3);  // exactly one triplet
  auto o = small_options(dir / "clip", dir / "run");
  o.hflip = o.vflip = false;
  o.temporal_reverse = false;
  o.run.lr_g = 2e-3;
  o.run.steps = 300;
  o.run.checkpoint_every = 1000;
  train::Trainer trainer(o);
  data::TripletDatasetOptions dopt;
  dopt.sources = o.run.data;
  data::TripletDataset ds(dopt);
  data::TripletLoaderOptions lo;
  lo.batch_size = 4;
  lo.crop = 64;
  lo.hflip = lo.vflip = false;
  lo.temporal_reverse = false;
  const auto before = trainer.validate(ds, 0);
  EXPECT_LT(before.model.psnr, 26.0);  // the untrained model is the average frame: ghosting
  for (int s = 0; s < o.run.steps; ++s) trainer.step(data::TripletLoader::make_batch(ds, lo, s));
  const auto after = trainer.validate(ds, 0);
  EXPECT_GT(after.model.psnr, 30.0) << "average baseline " << after.average.psnr;
  EXPECT_GT(after.model.psnr, after.average.psnr + 4.0);
}

TEST(Trainer, ResumeContinuesExactly) {
  test::TempDir dir;
  test::write_moving_clip(dir / "clip", 6);
  auto o = small_options(dir / "clip", dir / "straight");
  o.run.steps = 4;
  o.run.checkpoint_every = 2;
  train::Trainer straight(o);
  straight.fit();

  auto first = o;
  first.run.out_dir = dir / "resumed";
  first.run.steps = 2;
  train::Trainer(first).fit();
  auto second = first;
  second.run.steps = 4;
  second.run.resume = true;
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
  o.run.steps = 1;
  train::Trainer(o).fit();
  EXPECT_THROW(train::Trainer(o).fit(), InvalidArgument);  // run exists, no --resume/--overwrite
  auto bad = o;
  bad.run.steps = -1;  // 0 is allowed: it saves the untrained model
  EXPECT_THROW(train::Trainer{bad}, InvalidArgument);
  bad = o;
  bad.model = "nope";
  EXPECT_THROW(train::Trainer{bad}, InvalidArgument);
  bad = o;
  bad.run.device = "tpu";
  EXPECT_THROW(train::Trainer{bad}, InvalidArgument);
  // JSON options are read strictly.
  EXPECT_THROW((nlohmann::json{{"stepz", 3}}.get<train::TrainerOptions>()), InvalidArgument);
  EXPECT_EQ((nlohmann::json{{"steps", 3}}.get<train::TrainerOptions>().run.steps), 3);
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
  o.run.generator_options = {{"base_channels", 8}, {"levels", 2}, {"motion_inputs", true}, {"kaiming_init", true}};
  o.neighbours = true;
  o.run.lr_g = 1e-3;
  train::Trainer trainer(o);
  data::TripletDatasetOptions dopt;
  dopt.sources = o.run.data;
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
  o.run.generator_options = {{"base_channels", 8}, {"levels", 2}, {"kaiming_init", true}};
  o.val_data = {dir / "clip"};
  o.neighbours = true;
  o.run.steps = 0;
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
  o.run.steps = -1;
  o.run.out_dir = dir / "run3";
  EXPECT_THROW(train::Trainer{o}, InvalidArgument);
}

// The unfinished four-frame run kept in the repository (benchmarks/training/fregan_flow_four_frame.sh
// continues it) was written before the trainers' shared options became TrainerOptions::run: its
// header's flat options read into the nested struct, write back unchanged, and the run resumes.
TEST(Trainer, ResumesTheFourFrameRunWrittenBeforeRunOptions) {
  const std::string path = FREGAN_SOURCE_DIR "/benchmarks/training/fregan-flow-four-frame/last.pt";
  const auto meta = models::read_checkpoint_meta(path);
  const auto o = meta.trainer_options.get<train::TrainerOptions>();
  EXPECT_EQ(o.model, "fregan-flow");
  EXPECT_EQ(o.run.steps, 30000);
  EXPECT_EQ(o.run.batch_size, 8);
  EXPECT_DOUBLE_EQ(o.run.lr_g, meta.step > 4200 ? 2.5e-4 : 5e-4);  // the script's LR_G from step 4200 (session 11)
  EXPECT_EQ(o.run.checkpoint_every, 50);
  EXPECT_EQ(o.run.threads, 1);
  EXPECT_EQ(o.run.generator_options.at("flow").at("preset"), "fine");
  EXPECT_EQ(o.crop, 160);
  EXPECT_TRUE(o.neighbours);
  EXPECT_EQ(o.val_every, 250);
  EXPECT_EQ(o.val_max_triplets, 64);
  EXPECT_EQ(o.workers, 1);
  EXPECT_EQ(o.loss, (nlohmann::json{{"adversarial", 0.0}}));
  EXPECT_EQ(nlohmann::json(o), meta.trainer_options);

  test::TempDir dir;
  auto resumed = o;
  resumed.run.out_dir = dir / "run";
  resumed.run.device = "cpu";
  train::Trainer trainer(resumed);
  trainer.load(path);
  // The run moves on between sessions: the step is the header's, and at least where it stood when
  // the options were nested.
  EXPECT_GE(meta.step, 2200);
  EXPECT_EQ(trainer.current_step(), meta.step);
  const auto shipped = models::load_model(path, torch::kCPU);
  const auto expected = shipped.generator->named_parameters();
  for (const auto& p : trainer.model().generator->named_parameters()) {
    EXPECT_TRUE(torch::equal(p.value(), expected[p.key()])) << p.key();
  }
}

// Every trainer's options keep their flat JSON (checkpoint headers, fregan.train's keyword
// arguments): the shared run fields beside the family's own, each family with its own defaults.
TEST(RunOptions, EachTrainersJsonIsFlatWithItsOwnDefaults) {
  const auto keys = [](const nlohmann::json& j) {
    std::set<std::string> k;
    for (const auto& item : j.items()) k.insert(item.key());
    return k;
  };
  const std::set<std::string> run = {"generator_options",
                                     "discriminator_options",
                                     "data",
                                     "max_frames_per_source",
                                     "steps",
                                     "batch_size",
                                     "lr_g",
                                     "lr_d",
                                     "beta1",
                                     "beta2",
                                     "label_smoothing",
                                     "out_dir",
                                     "resume",
                                     "overwrite",
                                     "log_every",
                                     "checkpoint_every",
                                     "seed",
                                     "device",
                                     "threads"};
  EXPECT_EQ(keys(nlohmann::json(train::RunOptions{})), run);
  const auto with_run = [&](std::set<std::string> own) {
    own.insert(run.begin(), run.end());
    return own;
  };
  EXPECT_EQ(keys(nlohmann::json(train::TrainerOptions{})), with_run({"model",
                                                                     "val_data",
                                                                     "val_fraction",
                                                                     "frame_skip",
                                                                     "max_triplets_per_source",
                                                                     "val_max_triplets",
                                                                     "neighbours",
                                                                     "crop",
                                                                     "hflip",
                                                                     "vflip",
                                                                     "rotate",
                                                                     "temporal_reverse",
                                                                     "loss",
                                                                     "val_every",
                                                                     "workers",
                                                                     "world_size",
                                                                     "rank",
                                                                     "local_rank",
                                                                     "master_addr",
                                                                     "master_port",
                                                                     "dist_backend",
                                                                     "dist_timeout"}));
  EXPECT_EQ(keys(nlohmann::json(train::SrTrainerOptions{})),
            with_run({"val_data", "val_fraction", "val_frames", "val_crop", "val_every", "hr_crop", "flip", "rotate",
                      "loss", "perceptual_model"}));
  EXPECT_EQ(keys(nlohmann::json(train::DcganTrainerOptions{})),
            with_run({"frame_skip", "target_frames", "temporal_order", "hflip", "divergence", "collapse", "loss",
                      "r1_gamma", "r1_every", "diff_augment", "ema_decay", "sample_every", "sample_count"}));

  const train::TrainerOptions interpolation;
  EXPECT_EQ(interpolation.run.batch_size, 9);
  EXPECT_EQ(interpolation.run.checkpoint_every, 200);
  EXPECT_DOUBLE_EQ(interpolation.run.label_smoothing.real_low, 0.7);
  const train::SrTrainerOptions sr;
  EXPECT_EQ(sr.run.steps, 2000);
  EXPECT_EQ(sr.run.batch_size, 8);
  EXPECT_DOUBLE_EQ(sr.run.lr_g, 1e-4);
  EXPECT_DOUBLE_EQ(sr.run.lr_d, 1e-4);
  EXPECT_DOUBLE_EQ(sr.run.beta1, 0.9);
  EXPECT_EQ(sr.run.checkpoint_every, 100);
  EXPECT_DOUBLE_EQ(sr.run.label_smoothing.real_low, 1.0);
  const train::DcganTrainerOptions dcgan;
  EXPECT_EQ(dcgan.run.steps, 5000);
  EXPECT_EQ(dcgan.run.batch_size, 64);
  EXPECT_DOUBLE_EQ(dcgan.run.lr_g, 2e-4);
  EXPECT_DOUBLE_EQ(dcgan.run.beta1, 0.5);
  EXPECT_EQ(dcgan.run.checkpoint_every, 100);
  EXPECT_DOUBLE_EQ(dcgan.run.label_smoothing.fake_high, 0.0);

  // Read strictly, the shared fields among the family's: a key of another family is refused.
  EXPECT_EQ((nlohmann::json{{"steps", 7}, {"hr_crop", 64}}.get<train::SrTrainerOptions>().run.steps), 7);
  EXPECT_THROW((nlohmann::json{{"crop", 64}}.get<train::SrTrainerOptions>()), InvalidArgument);
  EXPECT_THROW((nlohmann::json{{"val_every", 5}}.get<train::DcganTrainerOptions>()), InvalidArgument);
  EXPECT_THROW((nlohmann::json{{"steps", "many"}}.get<train::RunOptions>()), InvalidArgument);
}
